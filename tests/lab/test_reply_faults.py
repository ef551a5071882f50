"""The lab's faults that hit a launch after it ran (reply_lost, stray_error_record), and `occurrence`.

What a person checks: the launch's writes are in the state file, and the client saw what a real
client would (a dropped connection; a module output followed by a second JSON document, which
Ansible cannot parse); `occurrence: 2` fails the second call of a cmdlet in a launch and not the first.
"""

from __future__ import annotations

import json

import pytest

from exchange_lab.model import Organization
from exchange_lab.payload import PayloadRunner, take_fault
from exchange_lab.scenario import ScenarioError, load_scenario

from tests.conftest import SCENARIOS, scenario_variant
from .modules.test_exchange_command import R10, R11, guarded_set, play, state, state_connector

IDENTITY = "EX01\\Default Frontend EX01"


def journal(lab) -> list[dict]:
    return [json.loads(line) for line in lab.journal_path.read_text().splitlines()]


@pytest.mark.ansible
def test_reply_lost_the_write_happened_and_the_client_saw_the_connection_drop(running_lab, tmp_path):
    path = scenario_variant(tmp_path, "demo.yml", faults={"EX01": [{"kind": "reply_lost", "cmdlet": "Set-ReceiveConnector"}]})
    lab = running_lab(path)
    task = dict(guarded_set(IDENTITY, R10, R11), ignore_unreachable=True)
    rc, output, results = play(lab, tmp_path, [task], hosts="EX01")
    result = results["EX01"]["r0"]
    assert result.get("unreachable") or result.get("failed"), result
    assert "steps" not in result, "the client received the module's result, which the fault should have lost"
    assert "reset" in json.dumps(result).lower() or "aborted" in json.dumps(result).lower(), result
    doc = state(lab)
    assert state_connector(doc, "EX01", "Default Frontend EX01")["tls_certificate_name"] == R11
    ex01 = next(s for s in doc["servers"] if s["name"] == "EX01")
    assert ex01["faults"] == [] and ex01["launches"] == 1 and ex01["writes"] == 1
    (entry,) = [e for e in journal(lab) if e.get("server") == "EX01"]
    assert entry["fault"] == "reply_lost" and [s["cmdlet"] for s in entry["steps"]] == ["Get-ReceiveConnector", "Set-ReceiveConnector"]


@pytest.mark.ansible
def test_stray_error_record_the_write_happened_and_ansible_saw_two_documents(running_lab, tmp_path):
    path = scenario_variant(tmp_path, "demo.yml", faults={"EX01": [{"kind": "stray_error_record", "cmdlet": "Set-ReceiveConnector"}]})
    lab = running_lab(path)
    rc, output, results = play(lab, tmp_path, [guarded_set(IDENTITY, R10, R11)], hosts="EX01")
    result = results["EX01"]["r0"]
    assert result["failed"] is True and "steps" not in result, result
    lines = [line for line in result["module_stdout"].splitlines() if line.strip()]
    assert len(lines) == 2, result["module_stdout"]
    module, stray = (json.loads(line) for line in lines)
    assert [s["status"] for s in module["steps"]] == ["ok", "ok"] and module["changed"] is True
    assert stray["failed"] is True and set(stray) == {"failed", "msg", "exception"}
    assert stray["msg"].startswith("Unhandled exception while executing module: ")
    assert "FullyQualifiedErrorId" in stray["exception"]
    assert state_connector(state(lab), "EX01", "Default Frontend EX01")["tls_certificate_name"] == R11


def _enable_then_restore(org: Organization) -> list[dict]:
    """What smtp_enable sends: enable SMTP on the new certificate (-Force makes it the default), then put the previous default back (SMTP only)."""
    server = org.server("EX01")
    return [
        {"cmdlet": "Enable-ExchangeCertificate", "parameters": {
            "Server": "EX01", "Thumbprint": server.certificate_by_id("le-r11").thumbprint, "Services": "SMTP", "Force": True}},
        {"cmdlet": "Enable-ExchangeCertificate", "parameters": {
            "Server": "EX01", "Thumbprint": server.internal_transport_certificate, "Services": "SMTP", "Force": True}},
    ]


def test_occurrence_2_fails_the_second_call_of_the_cmdlet_only(tmp_path):
    fault = {"kind": "cmdlet_error", "cmdlet": "Enable-ExchangeCertificate", "occurrence": 2}
    org = Organization(load_scenario(scenario_variant(tmp_path, "demo.yml", faults={"EX01": [fault]})))
    server = org.server("EX01")
    new = server.certificate_by_id("le-r11")
    result, rc, _ = PayloadRunner(org).run(server, {"steps": _enable_then_restore(org)}, False)
    assert rc == 1 and [s["status"] for s in result["steps"]] == ["ok", "error"], result
    assert "domain controllers" in result["steps"][1]["error"]
    # The first call did its work: SMTP on the new certificate, which -Force made the default; nothing put it back.
    assert "SMTP" in new.services and server.internal_transport_certificate == new.thumbprint
    assert server.faults == []


def test_occurrence_2_is_the_second_call_in_each_launch_not_across_launches(tmp_path):
    fault = {"kind": "cmdlet_error", "cmdlet": "Enable-ExchangeCertificate", "occurrence": 2}
    org = Organization(load_scenario(scenario_variant(tmp_path, "demo.yml", faults={"EX01": [fault]})))
    server = org.server("EX01")
    first, second = _enable_then_restore(org)
    for step in (first, second):
        # One call per launch: each is the first call of its launch, so the fault never fires.
        result, rc, _ = PayloadRunner(org).run(server, {"steps": [step]}, False)
        assert rc == 0, result
    assert len(server.faults) == 1


def test_occurrence_2_spares_a_launch_with_one_call(tmp_path):
    fault = {"kind": "reply_lost", "cmdlet": "Enable-ExchangeCertificate", "occurrence": 2}
    org = Organization(load_scenario(scenario_variant(tmp_path, "demo.yml", faults={"EX01": [fault]})))
    server = org.server("EX01")
    assert take_fault(server, ("reply_lost",), ["Get-TransportService", "Enable-ExchangeCertificate"]) is None
    assert take_fault(server, ("reply_lost",), ["Enable-ExchangeCertificate", "Enable-ExchangeCertificate"])["kind"] == "reply_lost"
    assert server.faults == []


@pytest.mark.parametrize("fault, key, words", [
    ({"kind": "cmdlet_error", "occurrence": 2}, "occurrence", ["counts the calls of a cmdlet", "set cmdlet"]),
    ({"kind": "cmdlet_error", "cmdlet": "Enable-ExchangeCertificate", "occurrence": 0}, "occurrence", ["integer >= 1"]),
    ({"kind": "reply_lost", "connector": "Default Frontend EX01"}, "connector",
     ["only valid for kind concurrent_change", "valid: kind, cmdlet, times, occurrence"]),
    ({"kind": "reply_los"}, "kind", ["not a fault kind", "reply_lost", "stray_error_record"]),
])
def test_bad_fault_keys_are_refused_by_name(tmp_path, fault, key, words):
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_variant(tmp_path, "demo.yml", faults={"EX01": [fault]}))
    text = str(info.value)
    assert f"servers[0].faults[0].{key}" in text, text
    for word in words:
        assert word in text, text


def test_new_fault_keys_load_with_their_defaults(tmp_path):
    faults = [{"kind": "stray_error_record"}, {"kind": "reply_lost", "cmdlet": "Set-ReceiveConnector", "occurrence": 3}]
    loaded = load_scenario(scenario_variant(tmp_path, "demo.yml", faults={"EX01": faults}))["servers"][0]["faults"]
    assert loaded == [{"kind": "stray_error_record", "cmdlet": None, "times": 1, "occurrence": 1},
                      {"kind": "reply_lost", "cmdlet": "Set-ReceiveConnector", "times": 1, "occurrence": 3}]
