"""connector_tls_certificates and connector_tls_exempt through the shipped playbooks (issue 19 item 10).

Blocked advice must be something a playbook or AWX user can act on: pin a certificate for one connector when the
policy cannot choose, and exempt a connector that is so by design, shown as exempt rather than failing for ever.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS
from .test_audit_and_remediate import counters, run, state_text

pytestmark = pytest.mark.ansible
REFUSALS = ROOT / "tests" / "lab" / "fixtures" / "refusals.yml"
PARTNER = "EX01\\Partner EX01"
NO_TLS = "EX01\\no-tls"
WHY = "client submission from a legacy scanner that cannot do TLS; accepted risk CHG-1234"


def extra(**variables) -> tuple:
    return ("-e", json.dumps(variables))


def connector(report: dict, identity: str) -> dict:
    return next(c for c in report["hosts"]["EX01"]["connectors"] if c["identity"] == identity)


def live_name(lab, name: str):
    server = next(s for s in yaml.safe_load(lab.state_path.read_text())["servers"] if s["name"] == "EX01")
    return next(c for c in server["receive_connectors"] if c["name"] == name)["tls_certificate_name"]


def test_an_ambiguous_replacement_is_blocked_then_remediated_with_the_pinned_certificate(running_lab, tmp_path):
    lab = running_lab(REFUSALS)
    rc, output, report, _changes = run(lab, tmp_path / "plain", "remediate")
    assert rc != 0 and connector(report, PARTNER)["status"] == "blocked", output
    assert "connector_tls_certificates in the role" in json.dumps(report["hosts"]["EX01"]["findings"])
    chosen = lab.org.server("EX01").certificate_by_id("partner-b")
    spaced = " ".join(chosen.thumbprint[i:i + 2] for i in range(0, 40, 2)).lower()
    rc, output, report, changes = run(lab, tmp_path / "pinned", "remediate", *extra(connector_tls_certificates={PARTNER.lower(): spaced}))
    assert rc == 0, output
    assert connector(report, PARTNER)["status"] == "remediated"
    assert "O=Contoso West" in live_name(lab, "Partner EX01")
    assert [c["after"] for c in changes["changes"] if c["object"] == PARTNER] == [live_name(lab, "Partner EX01")]


def test_a_by_design_connector_exempted_makes_the_audit_green_and_every_report_says_why(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "selection.yml")
    rc, output, report, _changes = run(lab, tmp_path / "plain", "audit")
    assert rc == 2 and connector(report, NO_TLS)["status"] == "drift", output
    rc, output, report, _changes = run(lab, tmp_path / "exempt", "audit", *extra(connector_tls_exempt={NO_TLS: WHY}))
    assert rc == 0, output
    assert report["status"] == "compliant" and report["hosts"]["EX01"]["status"] == "compliant"
    entry = connector(report, NO_TLS)
    assert (entry["status"], entry["exempt"]) == ("exempt", WHY)
    assert {f["exempt"] for f in report["hosts"]["EX01"]["findings"] if f["object"] == NO_TLS} == {WHY}
    latest = tmp_path / "exempt" / "latest"
    case = next(c for c in ET.parse(latest / "junit.xml").getroot().iter("testcase") if c.get("name") == NO_TLS)
    assert case.find("skipped").get("message") == f"exempt: {WHY}" and case.find("failure") is None
    assert WHY in (latest / "report.html").read_text()
    assert f"EX01: {NO_TLS}: {WHY}" in output.replace("\\\\", "\\")  # the debug task prints JSON strings
    # The remediation leaves it alone and ends green too.
    before = state_text(lab)
    rc, output, report, changes = run(lab, tmp_path / "rem", "remediate", *extra(connector_tls_exempt={NO_TLS: WHY}))
    assert rc == 0 and changes["changes"] == [] and state_text(lab) == before, output


def test_an_unknown_pin_fails_before_any_write_and_an_unknown_exemption_warns(running_lab, tmp_path):
    lab = running_lab(REFUSALS)
    before = state_text(lab)
    rc, output, report, changes = run(lab, tmp_path / "pin", "remediate",
                                      *extra(connector_tls_certificates={"EX01\\Partner EX1": "AB" * 20}))
    assert rc != 0 and state_text(lab) == before and changes["changes"] == [], output
    assert "names 'EX01\\Partner EX1', which is no connector read from any server" in report["hosts"]["EX01"]["message"]
    assert f"'{PARTNER}'" in report["hosts"]["EX01"]["message"]
    lab = running_lab(SCENARIOS / "selection.yml", state_path=tmp_path / "state2.yml", inventory_path=tmp_path / "inventory2.ini",
                      journal_path=tmp_path / "journal2.jsonl")
    rc, output, report, _changes = run(lab, tmp_path / "exempt", "audit", *extra(connector_tls_exempt={NO_TLS: WHY, "EX01\\gone": "retired"}))
    assert rc == 0, output
    assert "connector_tls_exempt in the role) names 'EX01\\gone', which is no connector read from any server" in output


def test_a_bad_thumbprint_is_refused_before_any_server_is_contacted(running_lab, tmp_path):
    lab = running_lab(REFUSALS)
    launches = counters(lab)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory_path),
                           "exchange.transport_tls.remediate", "-e", f"connector_tls_report_dir={tmp_path / 'out'}",
                           *extra(connector_tls_certificates={PARTNER: "not-a-thumbprint"})],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"connector_tls_certificates['{PARTNER}'] must be a certificate thumbprint" in output.replace("\\\\", "\\"), output
    assert counters(lab) == launches
