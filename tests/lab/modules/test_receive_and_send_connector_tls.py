"""receive_connector_tls and send_connector_tls through ansible-playbook against the lab.

What an Exchange administrator checks after a remediation: the state file
(the lab's Exchange) holds the new names, the default SMTP certificate is the
one it was (EdgeSync intact on Edge), SMTP is enabled on the new certificate,
STARTTLS is offered again with that certificate, and a second run changes
nothing. Launches are read from the lab's own counter.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from exchange_lab.scenario import load_scenario

from tests.conftest import SCENARIOS, scenario_variant, starttls
from .test_exchange_command import play

pytestmark = pytest.mark.ansible

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
FACTS = {"exchange.transport_tls.exchange_certificate_facts": {}}
RECEIVE_WITH_FACTS = {"exchange.transport_tls.receive_connector_tls": {"facts": "{{ r0 }}"}}
SEND = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
FE = "EX01\\Default Frontend EX01"


def servers(doc: dict) -> dict:
    return {s["name"]: s for s in doc["servers"]}


def without_counters(doc: dict) -> dict:
    """The state as Exchange holds it: the lab's launch counter and clock are not Exchange state."""
    doc = yaml.safe_load(yaml.safe_dump(doc))
    doc.pop("now", None)  # the lab's clock runs
    for server in doc["servers"]:
        server.pop("launches", None)
    return doc


def certificate_by_name(server: dict, lab_server, name: str) -> str:
    """The thumbprint transport would use for a name: the lab's own selection."""
    matches = [c for c in lab_server.store() if c.tls_certificate_name.lower() == name.lower()]
    return sorted(matches, key=lambda c: c.not_before, reverse=True)[0].thumbprint


def proposals(facts_result: dict) -> dict[str, str]:
    """Receive connector -> the name the audit proposes (findings' expected), for drifted connectors."""
    return {
        f["object"]: f["expected"]
        for f in facts_result["findings"]
        if f["object_type"] == "receive_connector" and f.get("expected")
    }


# Scenarios whose receive side has a stale name or a certificate without SMTP, and a replacement.
STALE = ["demo.yml", "edgesync.yml", "smtp-not-enabled.yml", "smtp-prompt.yml", "needs-restart.yml"]


@pytest.mark.parametrize("scenario", STALE)
def test_each_stale_scenario_converges_keeps_the_default_and_offers_starttls(scenario, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / scenario)
    before = servers(load_scenario(SCENARIOS / scenario))
    tasks = [FACTS, RECEIVE_WITH_FACTS]
    if scenario == "needs-restart.yml":
        # This scenario's transport only picks up a new name when it restarts (issue 5's verify phase does this).
        tasks.append({"exchange.transport_tls.exchange_command": {
            "steps": [{"cmdlet": "Restart-Service", "parameters": {"Name": "MSExchangeFrontEndTransport"}}]}})
    rc, output, results = play(lab, tmp_path, tasks)
    assert rc == 0, output
    after = servers(load_scenario(lab.state_path))
    drifted = 0
    for name, result in results.items():
        proposed, converge = proposals(result["r0"]), result["r1"]
        assert not converge.get("failed"), converge.get("msg")
        server, lab_server = after[name], lab.org.server(name)
        # The default SMTP certificate is the one it was; on Edge the subscription still holds.
        assert server["internal_transport_certificate"] == before[name]["internal_transport_certificate"]
        if server["role"] == "Edge":
            assert server["edgesync"] == "intact"
        for identity, expected in proposed.items():
            drifted += 1
            connector = next(c for c in server["receive_connectors"] if f"{name}\\{c['name']}" == identity)
            assert connector["tls_certificate_name"].lower() == expected.lower(), identity
            thumbprint = certificate_by_name(server, lab_server, expected)
            certificate = next(c for c in lab_server.store() if c.thumbprint == thumbprint)
            assert "SMTP" in certificate.services, identity
            # What a sending server sees: STARTTLS with the new certificate.
            assert starttls("127.0.0.1", lab.smtp[name].port).thumbprint == thumbprint, identity
            assert any(c["object"] == identity or c["object"] == thumbprint for c in converge["changes"])
    assert drifted, "the scenario has a drifted receive connector"
    # Idempotent: a second run (fresh facts) changes nothing and writes nothing.
    converged = load_scenario(lab.state_path)
    rc, output, again = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS])
    assert rc == 0, output
    assert all(r["r1"]["changed"] is False and r["r1"]["launches"] == 0 for r in again.values()), again
    assert without_counters(load_scenario(lab.state_path)) == without_counters(converged)


def test_a_second_run_changes_nothing_and_writes_nothing(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    tasks = [FACTS, RECEIVE_WITH_FACTS]
    rc, output, _results = play(lab, tmp_path, tasks)
    assert rc == 0, output
    first = load_scenario(lab.state_path)
    rc, output, results = play(lab, tmp_path, tasks)
    assert rc == 0, output
    second = load_scenario(lab.state_path)
    assert without_counters(second) == without_counters(first)
    assert {s["name"]: s["writes"] for s in second["servers"]} == {s["name"]: s["writes"] for s in first["servers"]}
    for host, result in results.items():
        assert result["r1"]["changed"] is False and result["r1"]["changes"] == [], host
        # With registered facts and nothing to change, the module launches nothing.
        assert result["r1"]["launches"] == 0, host


def _changes(results: dict) -> dict:
    return {
        host: sorted((c["object_type"], c["object"], c["property"], str(c["before"]), str(c["after"]))
                     for c in r["r1"]["changes"])
        for host, r in results.items()
    }


def test_check_mode_and_diff_show_exactly_what_the_real_run_then_makes(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    pristine = without_counters(load_scenario(lab.state_path))
    tasks = [FACTS, RECEIVE_WITH_FACTS]
    rc, check_output, checked = play(lab, tmp_path, tasks, args=("--check", "--diff"))
    assert rc == 0, check_output
    assert without_counters(load_scenario(lab.state_path)) == pristine, "check mode wrote nothing"
    assert {s["name"]: s["launches"] for s in load_scenario(lab.state_path)["servers"]} == {"EX01": 1, "EX02": 1, "EDGE01": 1}
    assert checked["EX01"]["r1"]["changed"] is True and checked["EX02"]["r1"]["changed"] is False
    # --diff prints each connector's before and after.
    assert f"-TlsCertificateName: {R10}" in check_output and f"+TlsCertificateName: {R11}" in check_output
    assert "-Services: IIS\n+Services: IIS, SMTP" in check_output
    rc, output, applied = play(lab, tmp_path, tasks)
    assert rc == 0, output
    assert _changes(applied) == _changes(checked)
    assert servers(load_scenario(lab.state_path))["EX01"]["receive_connectors"][0]["tls_certificate_name"] == R11


@pytest.mark.parametrize("with_facts", [True, False], ids=["with-facts", "reads-first"])
def test_launches_are_one_read_one_write_plus_one_to_enable_smtp(with_facts, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    receive = RECEIVE_WITH_FACTS if with_facts else {"exchange.transport_tls.receive_connector_tls": {}}
    rc, output, results = play(lab, tmp_path, [FACTS, receive])
    assert rc == 0, output
    counted = {s["name"]: s["launches"] - 1 for s in load_scenario(lab.state_path)["servers"]}  # minus the facts task
    read = 0 if with_facts else 1
    # EX01 and EDGE01 need SMTP on the renewal (one launch to enable it keeping the default) and a write;
    # EX02 is already right.
    assert counted == {"EX01": read + 2, "EDGE01": read + 2, "EX02": read}
    assert {h: r["r1"]["launches"] for h, r in results.items()} == counted


def test_needs_restart_without_smtp_costs_one_write_launch(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "needs-restart.yml")
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS])
    assert rc == 0, output
    assert results["EX01"]["r1"]["launches"] == 1 and results["EX01"]["r1"]["smtp"] == []
    assert load_scenario(lab.state_path)["servers"][0]["launches"] == 2


def test_a_concurrent_change_is_not_overwritten_and_the_message_names_both_values(running_lab, tmp_path):
    theirs = "<I>CN=Contoso Issuing CA<S>CN=mail.contoso.com"
    fault = {"kind": "concurrent_change", "connector": "Default Frontend EX01", "value": theirs}
    lab = running_lab(scenario_variant(tmp_path, "needs-restart.yml", faults={"EX01": [fault]}))
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS])
    result = results["EX01"]["r1"]
    assert result["failed"]
    assert R10 in result["msg"] and theirs in result["msg"] and "Nothing was written" in result["msg"], result["msg"]
    assert result["changes"] == [] and result["changed"] is False
    ex01 = load_scenario(lab.state_path)["servers"][0]
    assert ex01["receive_connectors"][0]["tls_certificate_name"] == theirs
    assert ex01["writes"] == 0


def refusal_tasks(lab) -> list[tuple[str, dict, str]]:
    server = lab.org.server("EX01")
    store = {i: server.certificate_by_id(i).thumbprint for i in ("gone", "renewed", "expired", "nokey", "selfsigned-mail", "other-name")}
    spaced = " ".join(store["renewed"][i:i + 2] for i in range(0, 40, 2)).lower()
    return [
        ("not in the store", {"identity": FE, "certificate": "AB" * 20}, "is not in the certificate store of EX01"),
        ("removed from the store", {"identity": FE, "certificate": store["gone"]}, "is not in the certificate store of EX01"),
        ("expired", {"identity": FE, "certificate": store["expired"]}, "it expired on 2025-09-29"),
        ("no private key", {"identity": FE, "certificate": store["nokey"]}, "it has no private key"),
        ("self-signed for hybrid", {"identity": FE, "certificate": store["selfsigned-mail"]}, "self-signed"),
        ("not covering the FQDN", {"identity": FE, "certificate": store["other-name"]}, "covers neither mail.contoso.com ("),
        ("ambiguous auto", {"identity": "Partner EX01"}, "choose one and name it for this connector"),
        ("unknown connector", {"identity": "Default Frontend EX09"}, "is not a receive connector of EX01"),
        ("malformed thumbprint", {"identity": FE, "certificate": "12345"}, "40 hexadecimal digits"),
        ("absent with a thumbprint", {"identity": FE, "state": "absent", "certificate": spaced}, "cannot be combined with state=absent"),
        ("absent without identity", {"state": "absent"}, "state=absent needs identity"),
        ("facts of another server", {"facts": {"ansible_facts": {"exchange_tls": {
            "collected_at": "2026-11-27T12:00:00Z", "server": {"name": "EX02"}, "certificates": [],
            "receive_connectors": [], "send_connectors": []}}}}, "facts describe server EX02"),
    ]


@pytest.mark.reliability("Invalid options", "receive_connector_tls refusals: unknown, expired, keyless, malformed thumbprints; unknown connector; conflicts")
def test_every_refusal_fails_clearly_before_any_launch_and_changes_nothing(running_lab, tmp_path, reliability):
    lab = running_lab(FIXTURES / "refusals.yml")
    pristine = without_counters(load_scenario(lab.state_path))
    cases = refusal_tasks(lab)
    reliability(len(cases))
    tasks = [FACTS] + [
        {"name": name, "exchange.transport_tls.receive_connector_tls": {"facts": "{{ r0 }}", **options}}
        for name, options, _needle in cases
    ]
    rc, output, results = play(lab, tmp_path, tasks)
    result = results["EX01"]
    for i, (name, _options, needle) in enumerate(cases, start=1):
        r = result[f"r{i}"]
        assert r.get("failed") is True, name
        assert needle in r["msg"], (name, r["msg"])
        assert r.get("changes", []) == [] and r.get("launches", 0) == 0, name
    assert without_counters(load_scenario(lab.state_path)) == pristine
    # Only the facts task launched PowerShell.
    assert load_scenario(lab.state_path)["servers"][0]["launches"] == 1


def test_a_thumbprint_typed_as_windows_shows_it_converges(running_lab, tmp_path):
    lab = running_lab(FIXTURES / "refusals.yml")
    renewed = lab.org.server("EX01").certificate_by_id("renewed").thumbprint
    spaced = " ".join(renewed[i:i + 2] for i in range(0, 40, 2)).lower()
    task = {"exchange.transport_tls.receive_connector_tls": {"facts": "{{ r0 }}", "identity": "default frontend ex01",
                                                              "certificate": f"\u200e{spaced}"}}
    rc, output, results = play(lab, tmp_path, [FACTS, task])
    assert rc == 0, output
    assert results["EX01"]["r1"]["changes"] == [{
        "object_type": "receive_connector", "object": FE, "property": "TlsCertificateName",
        "before": R10, "after": R11, "server": "EX01"}]


def test_the_sweep_converges_what_it_can_and_fails_naming_what_it_cannot(running_lab, tmp_path):
    lab = running_lab(FIXTURES / "refusals.yml")
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS])
    result = results["EX01"]["r1"]
    assert result["failed"] and result["changed"], result
    assert "Partner EX01" in result["msg"] and "choose one" in result["msg"]
    assert {p["object"]: p["status"] for p in result["plans"]} == {FE: "change", "EX01\\Partner EX01": "blocked"}
    connectors = {c["name"]: c["tls_certificate_name"] for c in load_scenario(lab.state_path)["servers"][0]["receive_connectors"]}
    assert connectors["Default Frontend EX01"] == R11
    assert connectors["Partner EX01"] == "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=partner.contoso.com"


def test_state_absent_clears_the_name_once(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "needs-restart.yml")
    task = {"exchange.transport_tls.receive_connector_tls": {"facts": "{{ r0 }}", "identity": FE, "state": "absent"}}
    again = {"exchange.transport_tls.receive_connector_tls": {"identity": FE, "state": "absent"}}
    rc, output, results = play(lab, tmp_path, [FACTS, task, again])
    assert rc == 0, output
    assert results["EX01"]["r1"]["changes"][0]["after"] is None
    assert results["EX01"]["r2"]["changed"] is False and results["EX01"]["r2"]["launches"] == 1
    connector = load_scenario(lab.state_path)["servers"][0]["receive_connectors"][0]
    assert connector["tls_certificate_name"] is None


# -- send_connector_tls --------------------------------------------------------

SEND_TASK = {"exchange.transport_tls.send_connector_tls": {"update_hybrid_configuration": True},
             "run_once": True, "delegate_to": "EX02"}


def test_send_connector_and_hybrid_configuration_converge_when_every_source_holds_the_name(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [FACTS, SEND_TASK])
    assert rc == 0, output
    result = results["EX01"]["r1"]
    assert result["run_on"] == "EX02" and not result.get("failed"), result
    doc = load_scenario(lab.state_path)
    assert doc["send_connectors"][0]["tls_certificate_name"] == R11
    assert doc["hybrid_configuration"]["tls_certificate_name"] == R11
    ex01 = servers(doc)["EX01"]
    # EX01's renewal had no SMTP: enabled through -Server from EX02, and EX01's default kept.
    assert next(c for c in ex01["certificates"] if c["id"] == "le-r11")["services"] == ["IIS", "SMTP"]
    assert ex01["internal_transport_certificate"] == "selfsigned"
    assert [s["server"] for s in result["smtp"]] == ["EX01"] and result["smtp"][0]["done"] is True
    assert {s["name"]: s["launches"] for s in doc["servers"]} == {"EX01": 1, "EX02": 3, "EDGE01": 1}
    # Every source server can send through the connector now.
    assert set(lab.org.outbound_status(lab.org.send_connector(SEND)).values()) == {"ok"}
    # Organisation objects are changed once: a second run is a no-op without a launch.
    rc, output, again = play(lab, tmp_path, [FACTS, SEND_TASK])
    assert rc == 0 and again["EX01"]["r1"]["changed"] is False and again["EX01"]["r1"]["launches"] == 0


def test_send_check_mode_and_diff_show_what_the_real_run_then_makes(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    pristine = without_counters(load_scenario(lab.state_path))
    rc, check_output, checked = play(lab, tmp_path, [FACTS, SEND_TASK], args=("--check", "--diff"))
    assert rc == 0, check_output
    assert without_counters(load_scenario(lab.state_path)) == pristine
    assert checked["EX01"]["r1"]["launches"] == 0
    assert f"-TlsCertificateName: {R10}\n+TlsCertificateName: {R11}" in check_output
    rc, output, applied = play(lab, tmp_path, [FACTS, SEND_TASK])
    assert rc == 0, output
    assert _changes({"org": applied["EX01"]}) == _changes({"org": checked["EX01"]})


def test_send_connector_is_blocked_and_untouched_when_a_source_lacks_the_certificate(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "send-connector-sources.yml")
    task = {"exchange.transport_tls.send_connector_tls": {"identity": SEND, "certificate": "auto"},
            "run_once": True, "delegate_to": "EX01"}
    pristine = without_counters(load_scenario(lab.state_path))
    rc, output, results = play(lab, tmp_path, [FACTS, task])
    result = results["EX01"]["r1"]
    assert result["failed"]
    assert "EX02" in result["msg"], result["msg"]
    assert without_counters(load_scenario(lab.state_path)) == pristine


def test_a_source_server_without_facts_blocks_unless_ignored(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    only_ex01 = {**FACTS, "when": "inventory_hostname == 'EX01'"}
    send = {"exchange.transport_tls.send_connector_tls": {}, "run_once": True, "delegate_to": "EX01"}
    ignoring = {"exchange.transport_tls.send_connector_tls": {"ignore_source_servers": ["ex02"]},
                "run_once": True, "delegate_to": "EX01", "check_mode": True}
    rc, output, results = play(lab, tmp_path, [only_ex01, send, ignoring])
    blocked, ignored = results["EX01"]["r1"], results["EX01"]["r2"]
    assert blocked["failed"] and "no facts for source server(s) EX02" in blocked["msg"], blocked["msg"]
    assert blocked["plans"][0]["status"] == "blocked"
    assert not ignored.get("failed") and ignored["changed"] is True, ignored
    assert ignored["plans"][0]["ignored_source_servers"] == ["EX02"]
    assert load_scenario(lab.state_path)["send_connectors"][0]["tls_certificate_name"] == R10


def test_send_connector_tls_refuses_to_run_on_an_edge_server(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    send = {"exchange.transport_tls.send_connector_tls": {}, "run_once": True, "delegate_to": "EDGE01"}
    rc, output, results = play(lab, tmp_path, [FACTS, send])
    result = results["EX01"]["r1"]
    assert result["failed"] and "EDGE01 is an Edge Transport server" in result["msg"] and "EX01, EX02" in result["msg"]


def test_a_concurrent_change_of_the_send_connector_is_not_overwritten(running_lab, tmp_path):
    theirs = "<I>CN=Contoso Issuing CA<S>CN=mail.contoso.com"
    fault = {"kind": "concurrent_change", "connector": SEND, "value": theirs}
    lab = running_lab(scenario_variant(tmp_path, "demo.yml", faults={"EX02": [fault]}))
    send = {"exchange.transport_tls.send_connector_tls": {}, "run_once": True, "delegate_to": "EX02"}
    # Facts after SMTP is on EX01's renewal, so the write is the send connector's only launch.
    enable = {"exchange.transport_tls.receive_connector_tls": {"facts": "{{ r0 }}"}}
    rc, output, results = play(lab, tmp_path, [FACTS, enable, FACTS, send])
    result = results["EX01"]["r3"]
    assert result["failed"] and R10 in result["msg"] and theirs in result["msg"], result["msg"]
    assert load_scenario(lab.state_path)["send_connectors"][0]["tls_certificate_name"] == theirs


def test_send_after_receive_in_one_play_decides_from_the_facts_receive_left(running_lab, tmp_path):
    """The natural order: receive_connector_tls returns the facts it changed, so send does not redo SMTP."""
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS, SEND_TASK])
    assert rc == 0, output
    send = results["EX01"]["r2"]
    assert not send.get("failed"), send.get("msg")
    assert send["smtp"] == [] and send["launches"] == 1
    assert [(c["object_type"], c["before"], c["after"]) for c in send["changes"]] == [
        ("send_connector", R10, R11), ("hybrid_configuration", R10, R11)]
    updated = results["EX01"]["r1"]["ansible_facts"]["exchange_tls"]
    assert [f["code"] for f in updated["findings"] if f["object_type"] == "receive_connector"] == []
    doc = load_scenario(lab.state_path)
    # EX01: facts, SMTP, receive write; EX02: facts, send write. No second SMTP swap on EX01.
    assert {s["name"]: s["launches"] for s in doc["servers"]} == {"EX01": 3, "EX02": 2, "EDGE01": 3}
    assert {s["name"]: s["writes"] for s in doc["servers"]}["EX01"] == 3  # enable, put back, connector


def test_send_connector_tls_without_run_once_is_refused_before_anything_runs(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    pristine = without_counters(load_scenario(lab.state_path))
    rc, output, results = play(lab, tmp_path, [FACTS, {"exchange.transport_tls.send_connector_tls": {}}])
    for host, result in results.items():
        assert result["r1"]["failed"] and "must run once: add run_once: true" in result["r1"]["msg"], host
    assert without_counters(load_scenario(lab.state_path)) == pristine


def test_an_expired_default_smtp_certificate_blocks_enabling_smtp_and_nothing_changes(running_lab, tmp_path):
    doc = yaml.safe_load((SCENARIOS / "edgesync.yml").read_text())
    default = next(c for c in doc["servers"][0]["certificates"] if c["id"] == "selfsigned")
    default["not_before"], default["not_after"] = "2020-03-01", "2025-03-01"
    path = tmp_path / "expired-default.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    lab = running_lab(path)
    pristine = without_counters(load_scenario(lab.state_path))
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS])
    result = results["EDGE01"]["r1"]
    assert result["failed"] and result["changed"] is False, result
    assert "is not valid now" in result["msg"] and "New-ExchangeCertificate -Services SMTP -Force" in result["msg"]
    assert result["plans"][0]["status"] == "blocked"
    after = without_counters(load_scenario(lab.state_path))
    assert after == pristine and after["servers"][0]["edgesync"] == "intact"


def test_a_concurrent_change_after_smtp_was_enabled_says_what_did_happen(running_lab, tmp_path):
    theirs = "<I>CN=Contoso Issuing CA<S>CN=mail.contoso.com"
    fault = {"kind": "concurrent_change", "connector": "Default Frontend EX01", "value": theirs}
    lab = running_lab(scenario_variant(tmp_path, "demo.yml", faults={"EX01": [fault]}))
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS], hosts="EX01")
    result = results["EX01"]["r1"]
    r11 = lab.org.server("EX01").certificate_by_id("le-r11").thumbprint
    assert result["failed"] and result["changed"] is True
    assert "Nothing more was written." in result["msg"] and f"{r11} (Services) changed" in result["msg"], result["msg"]
    assert [(c["object_type"], c["object"]) for c in result["changes"]] == [("certificate", r11)]
    ex01 = servers(load_scenario(lab.state_path))["EX01"]
    assert ex01["receive_connectors"][0]["tls_certificate_name"] == theirs
    assert ex01["internal_transport_certificate"] == "selfsigned"


@pytest.mark.parametrize("module, options, returns", [
    ("receive_connector_tls", ("identity", "certificate", "state", "enable_smtp", "facts", "expiring_days", "server",
                               "session", "password"), ("plans", "changes", "smtp", "launches", "ansible_facts")),
    ("send_connector_tls", ("identity", "certificate", "enable_smtp", "ignore_source_servers", "expiring_days",
                            "update_hybrid_configuration", "session", "password"),
     ("plans", "changes", "smtp", "launches", "run_on", "source_servers")),
])
def test_ansible_doc_renders_the_module_with_its_options_attributes_and_return_values(module, options, returns):
    import os
    import re
    import subprocess

    from tests.conftest import ROOT
    from .test_exchange_command import BIN

    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-doc"), f"exchange.transport_tls.{module}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).split())
    assert f"MODULE exchange.transport_tls.{module}" in text
    assert all(f"- {option}" in text for option in options), text[:2000]
    assert all(f"- {value}" in text for value in returns), text[-3000:]
    assert "check_mode" in text and "diff_mode" in text and "windows" in text


def test_over_a_session_that_loses_certificate_properties_nothing_is_guessed(running_lab, tmp_path):
    """Remote-session caveat: without Exchange's properties (HasPrivateKey, Services) nothing is guessed."""
    from .test_exchange_certificate_facts import with_certificate_properties

    lab = running_lab(with_certificate_properties(tmp_path, "demo.yml", "remote"))
    pristine = without_counters(load_scenario(lab.state_path))
    rc, output, results = play(lab, tmp_path, [FACTS, RECEIVE_WITH_FACTS], hosts="EX01")
    result = results["EX01"]["r1"]
    assert result["failed"] and result["changes"] == [] and result["launches"] == 0, result
    blocked = next(p for p in result["plans"] if p["object"] == FE)
    # The demo's connector is hybrid. Over this session RootCAType and HasPrivateKey arrive as the client's copy
    # rebuilt from RawData: no candidate is known to be usable, and the reason names the missing property.
    assert blocked["status"] == "blocked", blocked
    assert "RootCAType unknown" in blocked["reason"] or "HasPrivateKey did not arrive" in blocked["reason"], blocked
    assert "snapin" not in blocked["reason"]
    assert without_counters(load_scenario(lab.state_path)) == pristine
