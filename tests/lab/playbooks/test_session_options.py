"""The shipped playbooks take the Exchange session options from connector_tls_session (the double hop, option b).

docs/deployment.md section 6: audit.yml and remediate.yml set module_defaults for the action group
from connector_tls_session, so explicit session credentials need no custom play. What a user checks:
the options reach every module (an invalid one is refused by the modules, on every host, before any
launch), valid explicit credentials audit the fleet, and the password is printed nowhere.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SCENARIOS
from ..roles.connector_tls.test_audit_and_remediate import counters, statuses
from ..roles.connector_tls.test_false_green import playbook

pytestmark = pytest.mark.ansible
SECRET = "Sess10n-Secret-4242"


def test_an_invalid_session_option_is_refused_by_every_module_before_any_launch(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output = playbook(lab, tmp_path, "exchange.transport_tls.audit", "-e", '{"connector_tls_session": {"session": "bogus"}}')
    assert rc != 0
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert set(statuses(report).values()) == {"error"}
    assert all("session" in entry["message"] and "bogus" in entry["message"] for entry in report["hosts"].values())
    assert sum(n for n, _w, _r in counters(lab).values()) == 0


def test_explicit_session_credentials_reach_the_modules_and_stay_secret(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    session = json.dumps({"connector_tls_session": {"username": "CONTOSO\\svc-exchange", "password": SECRET}})
    rc, output = playbook(lab, tmp_path, "exchange.transport_tls.audit", "-e", session, "-v")
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert statuses(report) == {"EX01": "drift", "EX02": "compliant", "EDGE01": "drift"}, output
    journal = (lab.journal_path.read_text() if lab.journal_path else "")
    assert SECRET not in output and SECRET not in journal
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
