"""The audit's SMTP probe proves the connector Microsoft 365 reaches, or says it does not (issue 18 decision 8).

A relay connector on EX02 whose RemoteIPRanges hold the controller's address (127.0.0.1 in the lab) answers the
probe instead of Default Frontend EX02, which Microsoft 365 reaches: the report names both and the host is not
compliant, although everything the probe saw matches the relay's configuration.
"""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import SCENARIOS
from .test_audit_and_remediate import run

pytestmark = pytest.mark.ansible
FRONTEND, RELAY = "EX02\\Default Frontend EX02", "EX02\\Relay EX02"


def _demo(tmp_path, relay_ranges=None):
    doc = yaml.safe_load((SCENARIOS / "demo.yml").read_text())
    if relay_ranges:
        ex02 = next(s for s in doc["servers"] if s["name"] == "EX02")
        ex02["receive_connectors"].append({
            "name": "Relay EX02", "transport_role": "FrontendTransport", "bindings": ["0.0.0.0:25"],
            "fqdn": "ex02.contoso.com", "auth_mechanism": ["Tls"], "permission_groups": ["AnonymousUsers"],
            "remote_ip_ranges": relay_ranges,
        })
    path = tmp_path / "demo-relay.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _ex02(lab, tmp_path, *args):
    # EX02 alone: the organisation's objects are blocked (EX01, a source server, is not read); EX02's verdict stands.
    rc, output, report, _ = run(lab, tmp_path / "out", "audit", "-e", "connector_tls_target=EX02", *args)
    return rc, output, report["hosts"]["EX02"]


def test_a_probe_that_reaches_default_frontend_proves_it(running_lab, tmp_path):
    lab = running_lab(_demo(tmp_path))
    _, output, host = _ex02(lab, tmp_path)
    (probe,) = host["probe"]
    assert (probe["connector"], probe["microsoft_365_connector"], probe["proves_microsoft_365"], probe["source"]) == (
        FRONTEND, FRONTEND, True, "127.0.0.1")
    assert probe["tls_version"] == "TLSv1.2" and probe["cipher"]
    assert host["status"] == "compliant" and host["findings"] == []


def test_a_probe_answered_by_a_relay_does_not_prove_default_frontend(running_lab, tmp_path):
    lab = running_lab(_demo(tmp_path, relay_ranges=["127.0.0.1", "10.0.0.0/8"]))
    _, output, host = _ex02(lab, tmp_path)
    (probe,) = host["probe"]
    # What the probe saw is the relay's: its certificate (the server's own, by its FQDN), as configured.
    selfsigned = lab.org.server("EX02").certificate_by_id("selfsigned").thumbprint
    assert (probe["connector"], probe["thumbprint"], probe["expected_thumbprint"]) == (RELAY, selfsigned, selfsigned)
    assert (probe["microsoft_365_connector"], probe["proves_microsoft_365"]) == (FRONTEND, False)
    assert [f["code"] for f in host["findings"]] == ["starttls_probe_other_connector"]
    assert host["status"] == "drift", output
    assert host["message"].startswith(
        f"The SMTP probe from 127.0.0.1 reached {RELAY}, not the connector Microsoft 365 reaches ({FRONTEND}): it does not"
        f" prove {FRONTEND}.")
    assert "not the connector Microsoft 365 reaches" in (tmp_path / "out" / "latest" / "report.html").read_text()


def test_seen_as_tells_the_report_where_the_probe_comes_from(running_lab, tmp_path):
    # Behind NAT the server would see 192.0.2.10, which the relay does not accept: the report reasons with that.
    lab = running_lab(_demo(tmp_path, relay_ranges=["127.0.0.1"]))
    _, output, host = _ex02(lab, tmp_path, "-e", "connector_tls_probe_source=192.0.2.10")
    (probe,) = host["probe"]
    assert (probe["source"], probe["connector"], probe["proves_microsoft_365"]) == ("192.0.2.10", FRONTEND, True), output
