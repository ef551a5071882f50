"""The check-mode plan shows every write a remediation makes (issue 19 item 2, reliability review F7).

fleet5 plus a send connector "Internet via Edge" sourced only on EDGE01 that names the removed digicert-2025,
while EDGE01's renewal digicert-2026 lacks SMTP: the real run enables SMTP on EDGE01 (its receive connector needs
it) and then writes the send connector. The plan must say so before the run, not record it afterwards as
"not in the plan".
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from tests.conftest import ROOT
from .test_audit_and_remediate import run, state_text

pytestmark = pytest.mark.ansible
FLEET = ROOT / "tests" / "lab" / "fixtures" / "fleet5.yml"
VIA_EDGE = "Internet via Edge"


def fleet_with_edge_connector(tmp_path: pathlib.Path) -> pathlib.Path:
    doc = yaml.safe_load(FLEET.read_text())
    doc["send_connectors"].append({
        "name": VIA_EDGE, "address_spaces": ["smtp:*;100"], "source_transport_servers": ["EDGE01"],
        "fqdn": "smtp.contoso.com", "tls_certificate_name": {"certificate": "EDGE01/digicert-2025"},
        "tls_auth_level": None, "tls_domain": None, "require_tls": False, "cloud_services_mail_enabled": False,
    })
    path = tmp_path / "fleet5-via-edge.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _key(change: dict) -> tuple:
    return (change["object_type"], change["object"], change["property"], change.get("server"), str(change["after"]))


def test_a_send_connector_waiting_for_smtp_on_its_edge_is_planned_and_written_as_planned(running_lab, tmp_path):
    lab = running_lab(fleet_with_edge_connector(tmp_path))
    before = state_text(lab)
    rc, output, report, changes = run(lab, tmp_path / "check", "remediate", "--check")
    assert state_text(lab) == before, output
    plans = {p["object"]: p for p in report["organization"]["plans"]}
    assert plans[VIA_EDGE]["status"] == "change", plans[VIA_EDGE]
    assert plans[VIA_EDGE]["reason"].endswith("after SMTP is enabled on EDGE01 by this run")
    assert plans[VIA_EDGE]["source_servers"]["EDGE01"]["status"] == "smtp_enabled_by_run"
    planned = {_key(c) for c in changes["changes"]}
    assert {c["status"] for c in changes["changes"]} == {"planned"}
    assert any(k[:2] == ("send_connector", VIA_EDGE) for k in planned), planned
    # The Edge's own SMTP enable is in the plan too, on EDGE01.
    assert any(k[0] == "certificate" and k[3] == "EDGE01" for k in planned), planned

    rc, output, report, changes = run(lab, tmp_path / "real", "remediate")
    assert rc == 0, output
    entries = changes["changes"]
    assert not [c for c in entries if "not in the plan" in (c.get("message") or "")], entries
    applied = {_key(c)[:4] for c in entries if c["status"] == "applied" and c["object_type"] != "service"}
    # The real run wrote exactly what the check-mode plan said (the after values are read back, so compare the objects).
    assert applied == {k[:4] for k in planned}, (applied, planned)
    via_edge = next(c for c in entries if c["object"] == VIA_EDGE)
    assert via_edge["status"] == "applied" and via_edge["message"] is None
    assert "OU=IT" in via_edge["before"]
    assert "OU=IT" not in via_edge["after"]
