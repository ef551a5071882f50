"""Hybrid topologies (issue 18): each decision's scenario through the role's playbooks, as users run them.

Every ``tests/scenarios/hybrid-*.yml`` is here: its header says what it shows, the
audit's finding codes and statuses, and the remediation's end state (or why it is
blocked). The remediation is checked in the lab's saved state and with a real SMTP
client on port 25; a run that blocks changes nothing.
"""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import SCENARIOS, starttls
from .test_audit_and_remediate import OUTBOUND, codes, counters, plans, run, state_text, statuses

pytestmark = pytest.mark.ansible
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"


def live(lab) -> dict:
    return yaml.safe_load(lab.state_path.read_text())


def receive(doc: dict, server: str, name: str) -> dict:
    return next(rc for s in doc["servers"] if s["name"] == server for rc in s["receive_connectors"] if rc["name"] == name)


def send(doc: dict, name: str = OUTBOUND) -> dict:
    return next(sc for sc in doc["send_connectors"] if sc["name"] == name)


def thumbprint(doc: dict, server: str, cert_id: str) -> str:
    return next(c["thumbprint"] for s in doc["servers"] if s["name"] == server for c in s["certificates"] if c["id"] == cert_id)


def org_codes(report: dict) -> list:
    return sorted({f["code"] for f in report["organization"]["findings"]})


def findings_of(report: dict, host: str, code: str) -> list:
    return [f for f in report["hosts"][host]["findings"] if f["code"] == code]


def test_every_hybrid_scenario_is_covered():
    tested = {"hybrid-kb2989382", "hybrid-gateway", "hybrid-enterprise-ca", "hybrid-edge", "hybrid-subject-only",
              "hybrid-connector-settings"}
    assert {p.stem for p in SCENARIOS.glob("hybrid-*.yml")} == tested


def audit_and_check(lab, tmp_path) -> tuple:
    initial = state_text(lab)
    rc, output, audit, _ = run(lab, tmp_path / "audit", "audit")
    assert state_text(lab) == initial, "the audit wrote something"
    assert all(launches == 1 for launches, _w, _r in counters(lab).values()), "audit: one launch per host"
    rc_check, _out, check, _changes = run(lab, tmp_path / "check", "remediate", "--check")
    assert state_text(lab) == initial, "--check wrote something"
    assert plans(check) == plans(audit)
    return rc, output, audit, initial


def test_kb2989382_with_a_realistic_default_frontend_converges(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "hybrid-kb2989382.yml")
    rc, output, audit, initial = audit_and_check(lab, tmp_path)
    assert rc != 0 and statuses(audit) == {"EX01": "drift"}, output
    # Today the connector presents the self-signed certificate for ex01.contoso.local (implicit selection).
    assert codes(audit)["EX01"] == ["hybrid_tls_certificate_name_missing", "tls_certificate_self_signed_for_hybrid"]
    assert org_codes(audit) == ["hybrid_configuration_tls_certificate_name_not_found", "tls_certificate_name_not_found"]
    assert {f["expected"] for f in audit["organization"]["findings"]} == {R11}
    (missing,) = findings_of(audit, "EX01", "hybrid_tls_certificate_name_missing")
    assert missing["expected"] == R11, "the public certificate is proposed although it does not cover ex01.contoso.local"

    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0, output
    assert statuses(report) == {"EX01": "remediated"} and report["organization"]["status"] == "remediated"
    doc = live(lab)
    assert receive(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R11
    assert send(doc)["tls_certificate_name"] == R11
    assert doc["hybrid_configuration"]["tls_certificate_name"] == R11
    (ex01,) = doc["servers"]
    r11 = thumbprint(doc, "EX01", "le-r11")
    assert "SMTP" in next(c for c in ex01["certificates"] if c["id"] == "le-r11")["services"]
    assert ex01["internal_transport_certificate"] == yaml.safe_load(initial)["servers"][0]["internal_transport_certificate"]
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen.offered and seen.thumbprint == r11
    assert report["hosts"]["EX01"]["probe"][-1]["thumbprint"] == r11

    settled = state_text(lab)
    rc, output, again, again_changes = run(lab, tmp_path / "again", "remediate")
    assert rc == 0 and statuses(again) == {"EX01": "compliant"} and again_changes["changes"] == [], output
    assert state_text(lab) == settled


def test_hybrid_configuration_follows_the_receive_connectors_without_a_cloud_send_connector(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "hybrid-gateway.yml")
    rc, output, audit, initial = audit_and_check(lab, tmp_path)
    assert rc != 0 and statuses(audit) == {"EX01": "drift"}, output
    assert codes(audit)["EX01"] == ["tls_certificate_name_not_found", "transport_tls_event"]
    assert org_codes(audit) == ["hybrid_configuration_tls_certificate_name_not_found"]
    assert audit["organization"]["status"] == "drift"

    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0, output
    assert statuses(report) == {"EX01": "remediated"} and report["organization"]["status"] == "remediated", output
    doc = live(lab)
    assert receive(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R11
    assert doc["hybrid_configuration"]["tls_certificate_name"] == R11
    gateway = send(doc, "To the mail gateway")
    assert gateway == send(yaml.safe_load(initial), "To the mail gateway"), "the gateway connector was touched"
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen.offered and seen.thumbprint == thumbprint(doc, "EX01", "le-r11")

    rc, output, again, again_changes = run(lab, tmp_path / "again", "remediate")
    assert rc == 0 and again_changes["changes"] == [] and again["organization"]["status"] == "compliant", output


def blocked_and_unchanged(lab, tmp_path, initial) -> dict:
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0, "a remediation that leaves something blocked must fail"
    assert state_text(lab) == initial and changes["changes"] == []
    return report


def test_enterprise_or_unknown_root_is_not_a_hybrid_replacement(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "hybrid-enterprise-ca.yml")
    rc, output, audit, initial = audit_and_check(lab, tmp_path)
    assert rc != 0 and statuses(audit) == {"EX01": "blocked"}, output
    assert codes(audit)["EX01"] == ["no_replacement_certificate", "tls_certificate_name_not_found", "transport_tls_event"]
    (none,) = findings_of(audit, "EX01", "no_replacement_certificate")
    doc = live(lab)
    roots = {c["id"]: c["root_ca_type"] for c in doc["servers"][0]["certificates"]}
    assert roots == {"selfsigned": "Registry", "le-r10": "ThirdParty", "enterprise": "Enterprise", "unknown-root": "Unknown"}
    assert sorted(none["certificates"]) == sorted([thumbprint(doc, "EX01", "enterprise"), thumbprint(doc, "EX01", "unknown-root")])
    assert "its root is Enterprise (RootCAType), not a third-party CA" in none["message"]
    assert "RootCAType unknown" in none["message"]

    report = blocked_and_unchanged(lab, tmp_path, initial)
    assert report["hosts"]["EX01"]["status"] == "blocked"
    assert "Enterprise" in report["hosts"]["EX01"]["message"]


def test_edge_hybrid_and_implicit_selection_are_compliant(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "hybrid-edge.yml")
    rc, output, audit, initial = audit_and_check(lab, tmp_path)
    assert rc == 0 and statuses(audit) == {"EX01": "compliant", "EDGE01": "compliant"}, output
    assert codes(audit) == {"EX01": [], "EDGE01": []} and org_codes(audit) == []
    doc = live(lab)
    # EX01 presents its Enterprise CA certificate, chosen by its FQDN (no TlsCertificateName).
    (default_frontend,) = [c for c in audit["hosts"]["EX01"]["connectors"] if c["identity"] == "EX01\\Default Frontend EX01"]
    assert default_frontend["selected_certificate"] == thumbprint(doc, "EX01", "enterprise")
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen.offered and seen.thumbprint == thumbprint(doc, "EX01", "enterprise")
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0 and changes["changes"] == [] and state_text(lab) == initial, output


def test_subject_only_name_is_a_warning_and_lab_and_findings_agree(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "hybrid-subject-only.yml")
    rc, output, audit, initial = audit_and_check(lab, tmp_path)
    assert statuses(audit) == {"EX01": "compliant"}, output
    assert codes(audit)["EX01"] == ["tls_certificate_name_subject_only"]
    (warning,) = findings_of(audit, "EX01", "tls_certificate_name_subject_only")
    doc = live(lab)
    r11 = thumbprint(doc, "EX01", "le-r11")
    assert warning["severity"] == "warning" and warning["certificates"] == [r11] and "SMTP probe" in warning["message"]
    # What the collection computes, the lab's transport does: the same certificate on port 25.
    (default_frontend,) = [c for c in audit["hosts"]["EX01"]["connectors"] if c["identity"] == "EX01\\Default Frontend EX01"]
    assert default_frontend["selected_certificate"] == r11
    seen = starttls("127.0.0.1", lab.smtp["EX01"].port)
    assert seen.offered and seen.thumbprint == r11
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0 and changes["changes"] == [] and state_text(lab) == initial, output


def test_hybrid_connector_settings_are_reported_and_only_the_name_is_fixed(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "hybrid-connector-settings.yml")
    rc, output, audit, initial = audit_and_check(lab, tmp_path)
    assert rc != 0 and statuses(audit) == {"EX01": "drift"} and audit["organization"]["status"] == "drift", output
    assert codes(audit)["EX01"] == ["tls_not_in_auth_mechanism"]
    assert org_codes(audit) == ["hybrid_send_connector_cloud_services_disabled", "hybrid_send_connector_tls_auth_level",
                                "hybrid_tls_certificate_name_missing"]
    by_code = {f["code"]: f for f in audit["organization"]["findings"]}
    assert by_code["hybrid_tls_certificate_name_missing"]["expected"] == R11
    assert "-CloudServicesMailEnabled $true" in by_code["hybrid_send_connector_cloud_services_disabled"]["message"]
    assert "-TlsAuthLevel DomainValidation" in by_code["hybrid_send_connector_tls_auth_level"]["message"]
    (no_tls,) = findings_of(audit, "EX01", "tls_not_in_auth_mechanism")
    assert "HCW sets AuthMechanism Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer" in no_tls["message"]

    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0, "settings the collection does not own are still wrong"
    assert [(c["object_type"], c["property"], c["after"]) for c in changes["changes"]] == [
        ("send_connector", "TlsCertificateName", R11)]
    doc, before = live(lab), yaml.safe_load(initial)
    assert send(doc)["tls_certificate_name"] == R11
    for key in ("cloud_services_mail_enabled", "tls_auth_level", "require_tls", "fqdn"):
        assert send(doc).get(key) == send(before).get(key), key
    assert receive(doc, "EX01", "Default Frontend EX01") == receive(before, "EX01", "Default Frontend EX01")
    assert org_codes(report) == ["hybrid_send_connector_cloud_services_disabled", "hybrid_send_connector_tls_auth_level"]
