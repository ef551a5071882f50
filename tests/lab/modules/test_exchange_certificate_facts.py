"""exchange_certificate_facts through ansible-playbook against the lab.

The lab's model decides independently which certificate transport selects
(it plays Exchange); the module's `selected_certificate` must agree with it
for every connector of every shipped scenario.
"""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from exchange_lab.scenario import load_scenario

from tests.conftest import SCENARIOS, scenario_variant
from .test_exchange_command import play

pytestmark = pytest.mark.ansible

FACTS = {"exchange.transport_tls.exchange_certificate_facts": {}}
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
SEND = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"


def facts_of(results: dict, host: str) -> dict:
    return results[host]["r0"]["ansible_facts"]["exchange_tls"]


def codes(result: dict) -> set[tuple[str, str]]:
    return {(f["code"], f["object"]) for f in result["findings"]}


def launches(lab) -> dict[str, int]:
    return {s["name"]: s["launches"] for s in load_scenario(lab.state_path)["servers"]}


@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS.glob("*.yml") if p.name != "faults.yml"))
def test_selected_certificate_agrees_with_the_labs_transport_and_costs_one_launch(scenario, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / scenario)
    rc, output, results = play(lab, tmp_path, [FACTS])
    assert rc == 0, output
    assert set(results) == set(s.name for s in lab.org.servers.values())
    for server in lab.org.servers.values():
        result = results[server.name]["r0"]
        assert not result.get("failed"), result.get("msg")
        facts = result["ansible_facts"]["exchange_tls"]
        by_identity = {c["identity"]: c for c in facts["receive_connectors"]}
        assert set(by_identity) == {rc.identity for rc in server.receive_connectors}
        for connector in server.receive_connectors:
            selection = lab.org.select(connector)
            expected = selection.certificate.thumbprint if selection.certificate else None
            assert by_identity[connector.identity]["selected_certificate"] == expected, connector.identity
            assert by_identity[connector.identity]["starttls_offered"] == selection.offered
        assert {c["thumbprint"] for c in facts["certificates"]} == {c.thumbprint for c in server.store()}
        assert result["launches"] == 1 and result["changed"] is False
    # The lab's own counter: one PowerShell launch per host, whatever the scenario.
    assert set(launches(lab).values()) == {1}


def test_demo_findings_name_the_stale_connectors_and_the_renewed_certificates(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [FACTS])
    assert rc == 0, output
    ex01, ex02, edge = (results[h]["r0"] for h in ("EX01", "EX02", "EDGE01"))
    assert codes(ex01) == {
        ("tls_certificate_name_not_found", "EX01\\Default Frontend EX01"),
        ("tls_certificate_name_not_found", SEND),
        ("hybrid_configuration_tls_certificate_name_not_found", "Hybrid Configuration"),
        ("transport_tls_event", "MSExchangeFrontEndTransport"),
    }
    r11 = lab.org.server("EX01").certificate_by_id("le-r11")
    receive = next(f for f in ex01["findings"] if f["object"] == "EX01\\Default Frontend EX01")
    assert receive["severity"] == "error" and receive["current"] == R10 and receive["expected"] == R11
    assert receive["certificates"] == [r11.thumbprint]
    assert "not enabled for SMTP yet" in receive["message"] and "451 5.7.3" in receive["message"]
    # EX02 holds the renewal and its connector names it: only the organisation's objects are stale there.
    assert codes(ex02) == {
        ("tls_certificate_name_not_found", SEND),
        ("hybrid_configuration_tls_certificate_name_not_found", "Hybrid Configuration"),
    }
    # EDGE01: the CA dropped OU= at renewal; the same CN is the proposal. No hybrid configuration on Edge.
    assert codes(edge) == {
        ("tls_certificate_name_not_found", "EDGE01\\Default internal receive connector EDGE01"),
        ("transport_tls_event", "MSExchangeTransport"),
    }
    edge_finding = edge["findings"][0]
    assert edge_finding["expected"] == lab.org.server("EDGE01").certificate_by_id("digicert-2026").tls_certificate_name
    assert "same subject CN" in edge_finding["message"]
    edge_facts = facts_of(results, "EDGE01")
    assert edge_facts["hybrid_configuration"] is None and edge_facts["read_errors"] == []
    assert edge_facts["server"]["role"] == "Edge"
    assert facts_of(results, "EX01")["hybrid_configuration"]["this_server_listed"] is True


FE = "EX01\\Default Frontend EX01"
EDGE_CONNECTOR = "EDGE01\\Default internal receive connector EDGE01"
# Every finding of every host of each scenario, as (code, object): exactly these, nothing more.
SCENARIO_FINDINGS = {
    "no-certificate-12014.yml": {"EX01": {
        ("tls_certificate_name_not_found", FE), ("no_replacement_certificate", FE),
        ("tls_certificate_name_not_found", "EX01\\Default EX01"), ("no_replacement_certificate", "EX01\\Default EX01"),
        ("transport_tls_event", "MSExchangeFrontEndTransport"), ("transport_tls_event", "MSExchangeTransport")}},
    "expired-12016.yml": {"EX01": {
        ("tls_certificate_expired", FE), ("transport_tls_event", "MSExchangeFrontEndTransport")}},
    "smtp-not-enabled.yml": {"EX01": {("tls_certificate_smtp_not_enabled", FE)}},
    "smtp-prompt.yml": {"EX01": {("tls_certificate_smtp_not_enabled", FE)}},
    "send-connector-sources.yml": {
        "EX01": set(),
        "EX02": {("tls_certificate_name_not_found", SEND), ("no_replacement_certificate", SEND)}},
    "selection.yml": {"EX01": {("tls_not_in_auth_mechanism", "EX01\\no-tls")}},
    "needs-restart.yml": {"EX01": {
        ("tls_certificate_name_not_found", FE), ("transport_tls_event", "MSExchangeFrontEndTransport")}},
    "edgesync.yml": {"EDGE01": {("tls_certificate_smtp_not_enabled", EDGE_CONNECTOR)}, "EX01": set()},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIO_FINDINGS))
def test_each_shipped_scenario_reports_exactly_its_problem(scenario, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / scenario)
    rc, output, results = play(lab, tmp_path, [FACTS])
    assert rc == 0, output
    assert {host: codes(r["r0"]) for host, r in results.items()} == SCENARIO_FINDINGS[scenario]


def test_check_mode_returns_the_same_facts(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    (tmp_path / "normal").mkdir()
    (tmp_path / "check").mkdir()
    rc, output, normal = play(lab, tmp_path / "normal", [FACTS])
    assert rc == 0, output
    rc, output, checked = play(lab, tmp_path / "check", [FACTS], args=("--check",))
    assert rc == 0, output
    for host in normal:
        a, b = facts_of(normal, host), facts_of(checked, host)
        a.pop("collected_at"), b.pop("collected_at")
        # Which domain controller served a read is the session's, not the configuration's: either may.
        assert {a.pop("domain_controller"), b.pop("domain_controller")} <= ({None} if host == "EDGE01" else {"dc1.contoso.lab", "dc2.contoso.lab"})
        assert a == b, host
        assert normal[host]["r0"]["findings"] == checked[host]["r0"]["findings"]
    assert set(launches(lab).values()) == {2}


def with_certificate_properties(tmp_path: pathlib.Path, name: str, view: str) -> pathlib.Path:
    """A copy of a shipped scenario where every server's Get-ExchangeCertificate gives the `view` of it."""
    doc = yaml.safe_load((SCENARIOS / name).read_text())
    for server in doc["servers"]:
        server["certificate_properties"] = view
    path = tmp_path / f"{view}-{name}"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_properties_a_remote_session_loses_are_unknown_not_missing_smtp(running_lab, tmp_path):
    lab = running_lab(with_certificate_properties(tmp_path, "smtp-not-enabled.yml", "remote"))
    rc, output, results = play(lab, tmp_path, [FACTS])
    assert rc == 0, output
    result = results["EX01"]["r0"]
    certificates = facts_of(results, "EX01")["certificates"]
    assert {c["services"] for c in certificates} == {"unknown"} and {c["status"] for c in certificates} == {"unknown"}
    # The session's HasPrivateKey (false) describes the client's copy rebuilt from RawData, not the store.
    assert {c["has_private_key"] for c in certificates} == {"unknown"}
    assert all(c["key"] and c["signature_algorithm"] and c["domains"] for c in certificates)
    found = {f["code"] for f in result["findings"]}
    assert "tls_certificate_smtp_not_enabled" not in found and "certificate_properties_unknown" in found


def test_only_raw_data_still_gives_thumbprints_names_and_dates(running_lab, tmp_path):
    lab = running_lab(with_certificate_properties(tmp_path, "demo.yml", "raw_data"))
    rc, output, results = play(lab, tmp_path, [FACTS])
    assert rc == 0, output
    ex01 = lab.org.server("EX01")
    certificates = {c["thumbprint"]: c for c in facts_of(results, "EX01")["certificates"]}
    assert set(certificates) == {c.thumbprint for c in ex01.store()}
    r11 = certificates[ex01.certificate_by_id("le-r11").thumbprint]
    assert r11["tls_certificate_name"] == R11 and r11["not_after"] == "2027-01-17T00:00:00Z"
    assert r11["domains"] == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert r11["has_private_key"] == "unknown" and r11["services"] == "unknown"
    # The stale name is still found stale; no replacement is chosen on an unknown private key.
    found = {f["code"] for f in results["EX01"]["r0"]["findings"]}
    assert {"tls_certificate_name_not_found", "no_replacement_certificate", "certificate_properties_unknown"} <= found


def test_a_server_option_naming_another_server_fails_and_says_how_to_fix_it(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    task = {"exchange.transport_tls.exchange_certificate_facts": {"server": "EX02"}}
    rc, output, results = play(lab, tmp_path, [task], hosts="EX01")
    result = results["EX01"]["r0"]
    assert result["failed"] is True
    assert "EX02" in result["msg"] and "server" in result["msg"] and "EX01" in result["msg"]
    assert "ansible_facts" not in result


def test_a_failing_host_fails_alone_with_the_reason(running_lab, tmp_path):
    path = scenario_variant(tmp_path, "demo.yml", faults={"EX02": [{"kind": "access_denied", "cmdlet": "Get-ReceiveConnector"}]})
    lab = running_lab(path)
    rc, output, results = play(lab, tmp_path, [FACTS])
    failed = results["EX02"]["r0"]
    assert failed["failed"] is True
    assert failed["msg"].startswith("reading the transport TLS facts of EX02 failed:")
    assert "Insufficient access rights" in failed["msg"]
    assert not results["EX01"]["r0"].get("failed") and not results["EDGE01"]["r0"].get("failed")


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"event_hours": -1}, "event_hours must be an integer from 0 to 8760, got -1"),
        ({"expiring_days": 5000}, "expiring_days must be between 0 and 3650, got 5000"),
        ({"expiring_days": "soon"}, "expiring_days"),
        ({"session": "ssh"}, "session"),
        ({"username": "CONTOSO\\audit"}, "username"),
        ({"colour": "red"}, "colour"),
    ],
)
@pytest.mark.reliability("Invalid options", "exchange_certificate_facts: bad values, unknown options, username without password")
def test_bad_options_fail_before_any_launch(options, needle, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [{"exchange.transport_tls.exchange_certificate_facts": options}], hosts="EX01")
    result = results["EX01"]["r0"]
    assert result["failed"] is True and needle in result["msg"], result["msg"]
    assert launches(lab)["EX01"] == 0


def test_ansible_doc_renders_the_module_with_its_fragment_and_return_values():
    import os
    import re
    import subprocess

    from tests.conftest import ROOT
    from .test_exchange_command import BIN

    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), "exchange.transport_tls.exchange_certificate_facts"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).split())
    assert "MODULE exchange.transport_tls.exchange_certificate_facts" in text
    # Options from the module and from the session fragment, and the documented return values.
    assert all(f"- {option}" in text for option in ("server", "event_hours", "expiring_days", "session", "password"))
    assert all(word in text for word in ("selected_certificate", "tls_certificate_name_not_found", "findings"))


@pytest.mark.reliability("Secrets", "exchange_certificate_facts with username/password at -vvvv: output, results, state, journal")
def test_the_password_never_appears_in_output_state_or_journal(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    secret = "S3cret-Passw0rd-for-the-audit-account"
    task = {"exchange.transport_tls.exchange_certificate_facts": {"session": "remote", "username": "CONTOSO\\audit", "password": secret}}
    rc, output, results = play(lab, tmp_path, [task], hosts="EX01", args=("-vvvv",))
    assert rc == 0, output
    assert results["EX01"]["r0"]["launches"] == 1
    for text in (output, json.dumps(results), lab.state_path.read_text(), lab.journal_path.read_text()):
        assert secret not in text


def test_the_faults_scenario_fails_the_read_once_with_the_transport_error_then_reads(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "faults.yml")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    rc, output, results = play(lab, tmp_path / "first", [FACTS])
    first = results["EX01"]["r0"]
    assert first["failed"] is True and "500" in first["msg"], first["msg"]
    rc, output, results = play(lab, tmp_path / "second", [FACTS])
    assert rc == 0, output
    assert results["EX01"]["r0"]["launches"] == 1 and "findings" in results["EX01"]["r0"]
