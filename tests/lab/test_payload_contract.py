"""The payload's per-step error handling and the host facts every result carries."""

from __future__ import annotations

from exchange_lab.model import Organization
from exchange_lab.payload import PayloadRunner
from exchange_lab.scenario import load_scenario

from tests.conftest import SCENARIOS


def run(org: Organization, server: str, steps: list[dict], check_mode: bool = False):
    result, rc, _ = PayloadRunner(org).run(org.server(server), {"steps": steps}, check_mode)
    return result, rc


def test_a_failed_read_with_continue_on_error_is_recorded_and_the_batch_goes_on():
    org = Organization(load_scenario(SCENARIOS / "demo.yml"))
    steps = [
        {"cmdlet": "Get-HybridConfiguration", "continue_on_error": True, "properties": ["TlsCertificateName"]},
        {"cmdlet": "Get-ExchangeServer", "parameters": {"Identity": "EDGE01"}, "properties": ["Name"]},
    ]
    result, code = run(org, "EDGE01", steps)
    assert code == 0 and result["stop"] is None and "failed" not in result
    hybrid, server = result["steps"]
    assert hybrid["status"] == "error" and hybrid["objects"] == []
    assert hybrid["error_id"].startswith("CommandNotFoundException") and "Get-HybridConfiguration" in hybrid["error"]
    assert server["status"] == "ok" and server["objects"] == [{"Name": "EDGE01"}]


def test_without_continue_on_error_the_same_failure_stops_the_batch():
    org = Organization(load_scenario(SCENARIOS / "demo.yml"))
    steps = [{"cmdlet": "Get-HybridConfiguration"}, {"cmdlet": "Get-ExchangeServer"}]
    result, code = run(org, "EDGE01", steps)
    assert code == 1 and result["stop"]["index"] == 0 and len(result["steps"]) == 1


def test_continue_on_error_on_a_change_is_refused_before_anything_runs():
    org = Organization(load_scenario(SCENARIOS / "demo.yml"))
    rc = org.server("EX01").receive_connectors[0]
    before = rc.tls_certificate_name
    steps = [
        {"cmdlet": "Get-ExchangeServer"},
        {"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": rc.identity, "TlsCertificateName": None}, "continue_on_error": True},
    ]
    result, code = run(org, "EX01", steps)
    assert code == 1
    assert result["msg"] == (
        "step 1 (Set-ReceiveConnector): continue_on_error is accepted only on read steps (Get-*, Test-EdgeSynchronization); a failed change always stops the batch"
    )
    assert org.server("EX01").launches == 0 and rc.tls_certificate_name == before


def test_every_result_names_the_computer_and_its_clock():
    org = Organization(load_scenario(SCENARIOS / "demo.yml"))
    result, code = run(org, "EX02", [{"cmdlet": "Get-ExchangeServer"}])
    assert code == 0
    assert result["computer_name"] == "EX02"
    # The scenario's clock starts at its `now` and runs in real time.
    assert result["utc_now"].startswith("2026-11-27T12:00:")
