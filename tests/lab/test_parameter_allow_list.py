# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's payload refuses what exchange_command.ps1 refuses, with the same words, before a launch.

The exchange_command action refuses these on the controller (test_invalid_options drives that
through ansible-playbook); here the lab's payload is given them directly, as a module sent past
the action would be, and must refuse each before it counts a launch or runs a cmdlet, although
the lab's cmdlets (like Exchange's) would bind most of these parameters.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract
from exchange_lab.cmdlets import CMDLETS
from exchange_lab.model import Organization
from exchange_lab.payload import PayloadRunner
from exchange_lab.scenario import load_scenario

from tests.conftest import SCENARIOS
from .modules.test_invalid_options import REFUSED_PARAMETERS

VALUE_CASES = [
    ("Enable-ExchangeCertificate", {"Thumbprint": "AB" * 20, "Services": "IIS, SMTP", "Force": True}),
    ("Enable-ExchangeCertificate", {"Thumbprint": "AB" * 20, "Services": "SMTP", "Force": False}),
    ("Get-WinEvent", {"LogName": "Security"}),
    ("Restart-Service", {"Name": ["MSExchangeTransport", "W3SVC"]}),
    ("Get-ReceiveConnector", {"Identity": "EX01\\A", "IDENTITY": "EX01\\B"}),
]


@pytest.mark.parametrize("cmdlet, parameters", REFUSED_PARAMETERS + VALUE_CASES,
                         ids=[f"{c} {'/'.join(p)}" for c, p in REFUSED_PARAMETERS + VALUE_CASES])
def test_the_lab_payload_refuses_before_any_launch_with_the_payloads_words(cmdlet, parameters):
    org = Organization(load_scenario(SCENARIOS / "demo.yml"))
    server = org.server("EX01")
    steps = [{"cmdlet": "Get-ExchangeServer", "parameters": {"Identity": "EX01"}}, {"cmdlet": cmdlet, "parameters": parameters}]
    result, code, journal = PayloadRunner(org).run(server, {"steps": steps}, False)
    expected = payload_contract.steps_problem(steps)
    assert expected is not None and expected.startswith("step 1 ")
    assert (code, result["msg"], result["steps"], journal, server.launches, server.writes) == (1, expected, [], [], 0, 0)
    assert "available_cmdlets" not in result  # no session was opened


def test_the_refused_names_are_parameters_real_cmdlets_have():
    """Not a strawman: the lab's cmdlets, which model Exchange's, bind several of them, and the payload still refuses."""
    bound = [(c, p) for c, params in REFUSED_PARAMETERS for p in params
             if c.lower() in CMDLETS and any(x.name.lower() == p.lower() for x in CMDLETS[c.lower()].params)
             and p not in payload_contract.PARAMETERS[c]]
    assert len(bound) >= 2, bound


def test_what_the_collection_sends_runs():
    org = Organization(load_scenario(SCENARIOS / "demo.yml"))
    server = org.server("EX01")
    steps = [{"cmdlet": "get-receiveconnector", "parameters": {"server": "EX01"}, "properties": ["Identity"]},
             {"cmdlet": "Get-WinEvent", "parameters": {"LogName": "application", "MaxEvents": 5, "FilterXPath": "*"}}]
    result, code, _journal = PayloadRunner(org).run(server, {"steps": steps}, False)
    assert code == 0 and server.launches == 1 and result["steps"][0]["objects"], result


def test_exchange_command_reports_a_failed_session_with_its_code_and_what_it_means(running_lab, tmp_path):
    from tests.conftest import scenario_variant
    from .modules.test_exchange_command import command, play

    lab = running_lab(scenario_variant(tmp_path, "demo.yml", faults={"EX01": [{"kind": "snapin_missing"}]}))
    rc, output, results = play(lab, tmp_path, [command({"cmdlet": "Get-ExchangeServer", "properties": ["Name"]})], hosts="EX01")
    r = results["EX01"]["r0"]
    assert r["failed"] and r["steps"] == [], output
    assert r["session_error"] == {"message": "Connecting to remote server ex01.contoso.com failed with the following error message :"
                                             " Access is denied. For more information, see the about_Remote_Troubleshooting Help topic.",
                                  "error_id": "AccessDenied,PSSessionOpenFailed", "error_code": 5}
    assert r["available_cmdlets"] == ["Get-WinEvent", "Restart-Service"]
    # The payload's facts, then the controller's meaning.
    assert r["msg"].startswith("could not open the Exchange session, session=remote to http://ex01.contoso.com/powershell?"
                               "serializationLevel=Full;")
    assert "Access is denied (Win32 error 5)" in r["msg"] and "second hop" in r["msg"] and "runas" in r["msg"]
    assert "snapin" not in r["msg"].split("(Kerberos)")[1]
