"""Every option of every module with invalid values: a clear refusal, and the lab untouched.

One table per module. Each case is a task with one invalid value (a wrong type, a number out of
range, a bad format, an unknown thumbprint or connector, an unknown choice or option name, or
options that conflict); each must fail with a message that names the option and says what is
valid, and leave the lab's state file byte-identical, with no PowerShell launch.

A launch is unavoidable only where the refusal depends on the server: an unknown thumbprint or
connector needs the server's facts. Those cases run after one facts read per host (the only
launches in the lab's journal), and the state file must not change after that read.
exchange_command's refusals happen on the controller (its action plugin: session rules, secrets of
the wrong type) or on the host, in the payload's argument validation, before the Exchange session
opens: no launch, no cmdlet, and the state file byte-identical too.

`test_every_documented_option_has_an_invalid_case` reads each module's DOCUMENTATION (the session
fragment included, exchange_command's step suboptions too), so a new option without a case here
turns the suite red.

The role's variables (meta/argument_specs.yml) are checked in `test_role_variables_*`: one
run of the real playbooks per group of cases, run side by side.
"""

from __future__ import annotations

import base64
import difflib
import json
import os
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS
from tests.gates.test_module_docs import documented_options
from .test_exchange_command import play

pytestmark = pytest.mark.ansible
BIN = pathlib.Path(sys.executable).parent
AREA = "Invalid options"

NS = "exchange.transport_tls."
UNKNOWN = "<unknown option>"
SEND = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"
FE = "EX01\\Default Frontend EX01"
CREDENTIALS = {"username": "CONTOSO\\svc-exchange", "password": "Pa55-w0rd"}
# Well formed, in no store of the demo organisation.
FOREIGN_THUMBPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"

# What Ansible says for a value it cannot convert, by the type asked for (ansible-core 2.19 to 2.21).
NOT_INT = "we were unable to convert to int"
NOT_BOOL = "Valid booleans include"
NOT_DICT = "we were unable to convert to dict"
NOT_LIST = "we were unable to convert to list"
NOT_FLOAT = "we were unable to convert to float"
UNSUPPORTED = "Supported parameters include"


@dataclass(frozen=True)
class Case:
    option: str               # the documented option it covers ("steps[].cmdlet" for a suboption)
    kind: str                 # what is wrong, for the reader of a failure
    args: dict                # the module's arguments
    needles: tuple            # the message names the option and what would be valid
    after_facts: bool = False  # needs the server's facts (an unknown thumbprint or connector)


def case(option, kind, args, *needles, after_facts=False):
    return Case(option, kind, args, needles, after_facts)


# --------------------------------------------------------------- the session options, shared

def session_cases(module: str) -> list[Case]:
    """The session fragment's options, as every module that extends it takes them."""
    return [
        case("session", "unknown choice", {"session": "ssh"}, "session", "auto, snapin, remote"),
        case("session", "wrong type", {"session": ["remote"]}, "session"),
        case("session", "conflict: snapin with credentials", {"session": "snapin", **CREDENTIALS},
             "session=snapin", "session=remote"),
        case("connection_uri", "bad URI", {"connection_uri": "ex01.contoso.com/PowerShell", **CREDENTIALS},
             "connection_uri", GOOD_URI),
        case("connection_uri", "bad URI scheme", {"connection_uri": "ftp://ex01.contoso.com/PowerShell/", **CREDENTIALS},
             "connection_uri", "http:// URL", GOOD_URI),
        case("connection_uri", "https", {"connection_uri": "https://ex01.contoso.com/powershell?serializationLevel=Full",
                                         **CREDENTIALS}, "connection_uri must use http://", "#2168", GOOD_URI),
        case("connection_uri", "without full serialization", {"connection_uri": "http://ex01.contoso.com/PowerShell/",
                                                              **CREDENTIALS}, "serializationLevel=Full", GOOD_URI),
        case("connection_uri", "password in the URI", {"connection_uri": f"http://svc:Uri-{FOREIGN_THUMBPRINT[:8]}@ex01.contoso.com/"
                                                       "powershell?serializationLevel=Full", **CREDENTIALS},
             "connection_uri must not hold a user name or password", "(value not shown)"),
        case("connection_uri", "wrong type", {"connection_uri": ["http://ex01.contoso.com/PowerShell/"], **CREDENTIALS},
             "connection_uri", "string" if module != "exchange_command" else "convert to str"),
        case("connection_uri", "conflict: without username", {"connection_uri": GOOD_URI},
             "connection_uri", "username and password"),
        case("username", "conflict: without password", {"username": "CONTOSO\\svc-exchange"},
             "required together", "username, password"),
        case("username", "bad format", {"username": "svc-exchange", "password": "x"}, "username", "DOMAIN\\user", "UPN"),
        case("username", "wrong type", {"username": {"name": "svc"}, "password": "x"}, "username"),
        case("password", "conflict: password without username", {"password": "Pa55-w0rd"}, "required together", "username, password"),
        case("password", "empty", {"username": "CONTOSO\\svc-exchange", "password": ""}, "password", "not be empty"),
        case("domain_controller", "bad format", {"domain_controller": "dc01 contoso;com"},
             "domain_controller", "dc01.contoso.com"),
        case("domain_controller", "wrong type", {"domain_controller": {"dc": "dc01"}}, "domain_controller"),
    ]


# ------------------------------------------------------------ the action plugins (one playbook)

def facts_cases() -> list[Case]:
    return [
        case("server", "wrong type", {"server": ["EX01", "EX02"]}, "server must be a string"),
        case("server", "wrong type", {"server": {"name": "EX01"}}, "server must be a string"),
        case("server", "bad format", {"server": "EX 01!"}, "server must be an Exchange server name", "such as EX01"),
        case("server", "empty", {"server": ""}, "server must be an Exchange server name", "omit it"),
        case("server", "an IP address", {"server": "192.0.2.25"}, "server must be an Exchange server name"),
        case("event_hours", "negative", {"event_hours": -1}, "event_hours", "from 0 to 8760"),
        case("event_hours", "huge", {"event_hours": 10 ** 12}, "event_hours", "from 0 to 8760"),
        case("event_hours", "wrong type", {"event_hours": "a day"}, "event_hours", NOT_INT),
        case("expiring_days", "negative", {"expiring_days": -1}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "huge", {"expiring_days": 3651}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "wrong type", {"expiring_days": "soon"}, "expiring_days", NOT_INT),
        case("expiring_days", "wrong type", {"expiring_days": [30]}, "expiring_days", NOT_INT),
        case(UNKNOWN, "unknown option", {"colour": "red"}, "colour", UNSUPPORTED, "event_hours"),
        *session_cases("exchange_certificate_facts"),
    ]


def server_cases() -> list[Case]:
    """connector_tls_server, the role's per-host step: every refusal comes before its read."""
    probe = {"probe_host": "ex01.contoso.com"}
    return [
        case("stage", "unknown choice", {"stage": "read", **probe}, "stage", "audit, converge"),
        case("mode", "unknown choice", {"mode": "fix", **probe}, "mode", "audit, remediate"),
        case("expiring_days", "negative", {"expiring_days": -1, **probe}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "wrong type", {"expiring_days": "soon", **probe}, "expiring_days", NOT_INT),
        case("receive", "wrong type", {"receive": ["enable_smtp"], **probe}, "receive", NOT_DICT),
        case("receive", "an option this module sets", {"receive": {"identity": ["EX01\\Default Frontend EX01"]}, **probe},
             "receive sets options of exchange.transport_tls.receive_connector_tls", "identity cannot be among them"),
        case("scope", "wrong type", {"scope": ["receive_connectors"], **probe}, "scope must be a string"),
        case("scope", "bad format", {"scope": "receive_connectors[?", **probe}, "scope", "not a valid JMESPath expression"),
        case("gathered", "wrong type", {"gathered": "EX01", **probe}, "gathered", NOT_DICT),
        case("gathered", "missing for stage converge", {"stage": "converge", **probe}, "stage converge needs gathered"),
        case("probe", "wrong type", {"probe": "perhaps", **probe}, "probe", NOT_BOOL),
        case("probe_host", "missing while probing", {"probe": True}, "probe_host must name the host to probe"),
        case("probe_host", "bad format", {"probe_host": "ex01 contoso com"}, "host"),
        case("probe_port", "out of range", {"probe_port": 70000, **probe}, "probe_port must be between 1 and 65535"),
        case("probe_port", "wrong type", {"probe_port": "smtp", **probe}, "probe_port", NOT_INT),
        case("probe_timeout", "zero", {"probe_timeout": 0, **probe}, "probe_timeout must be a number of seconds greater than 0"),
        case("probe_timeout", "wrong type", {"probe_timeout": "long", **probe}, "probe_timeout", NOT_FLOAT),
        case("probe_source", "bad format", {"probe_source": "the controller", **probe}, "probe_source", "IP address"),
        case("probe_wait", "negative", {"probe_wait": -1, **probe}, "probe_wait must be 0"),
        case("probe_wait", "wrong type", {"probe_wait": "a minute", **probe}, "probe_wait", NOT_INT),
        case("restart_transport", "unknown choice", {"restart_transport": "sometimes", **probe}, "restart_transport",
             "never, if_needed, always"),
        case(UNKNOWN, "unknown option", {"colour": "red", **probe}, "colour", UNSUPPORTED, "probe_wait"),
        *[Case(c.option, c.kind, {**c.args, **probe}, c.needles, c.after_facts) for c in session_cases("connector_tls_server")],
    ]


def receive_cases(lab) -> list[Case]:
    removed = lab.org.server("EX01").certificate_by_id("le-r10").thumbprint  # the certificate renewal removed
    facts = {"facts": "{{ r_facts }}"}
    return [
        case("identity", "wrong type", {"identity": {"name": "Default Frontend EX01"}}, "identity", NOT_LIST),
        case("identity", "wrong element type", {"identity": [["Default Frontend EX01"]]}, "identity must be a list of strings"),
        case("identity", "empty", {"identity": []}, "identity must name at least one receive connector", "omit it"),
        case("identity", "unknown connector", {"identity": "Default Frontend EX09", **facts},
             "identity 'Default Frontend EX09' is not a receive connector of EX01", "'EX01\\\\Default EX01'", after_facts=True),
        case("identity", "unknown connector of another server", {"identity": "EX02\\Default Frontend EX02", **facts},
             "is not a receive connector of EX01", FE.replace("\\", "\\\\"), after_facts=True),
        case("certificate", "wrong type", {"certificate": ["auto"]}, "certificate must be a string"),
        case("certificate", "bad format", {"certificate": "12345"}, "certificate must be 'auto' or a certificate thumbprint",
             "40 hexadecimal"),
        case("certificate", "bad format: not hex", {"certificate": "G" * 40}, "certificate", "40 hexadecimal"),
        case("certificate", "bad format: 41 digits", {"certificate": FOREIGN_THUMBPRINT + "8"}, "certificate", "40 hexadecimal"),
        case("certificate", "unknown thumbprint", {"identity": FE, "certificate": FOREIGN_THUMBPRINT, **facts},
             f"certificate {FOREIGN_THUMBPRINT} is not in the certificate store of EX01", "its certificates are",
             after_facts=True),
        case("certificate", "thumbprint of a removed certificate", {"identity": FE, "certificate": removed.lower(), **facts},
             f"certificate {removed} is not in the certificate store of EX01", "its certificates are", after_facts=True),
        case("state", "unknown choice", {"state": "gone"}, "state", "present, absent"),
        case("state", "conflict: absent with a thumbprint", {"identity": FE, "state": "absent", "certificate": removed, **facts},
             "cannot be combined with state=absent", after_facts=True),
        case("state", "conflict: absent without identity", {"state": "absent", **facts}, "state=absent needs identity",
             after_facts=True),
        case("enable_smtp", "wrong type", {"enable_smtp": "maybe"}, "enable_smtp", NOT_BOOL),
        case("facts", "wrong type", {"facts": "EX01"}, "facts", NOT_DICT),
        case("facts", "wrong type", {"facts": [1]}, "facts", NOT_DICT),
        case("facts", "not facts", {"facts": {"changed": False}}, "facts must be the registered result of",
             "exchange_certificate_facts"),
        case("facts", "a failed task's result", {"facts": {"failed": True, "msg": "unreachable"}},
             "facts is the result of a task that failed", "no facts to decide from"),
        case("facts", "another server's facts", {"facts": "{{ hostvars['EX02'].r_facts }}"},
             "facts describe server EX02 but this task converges EX01", "registered on this host", after_facts=True),
        case("expiring_days", "negative", {"expiring_days": -1}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "huge", {"expiring_days": 10 ** 9}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "wrong type", {"expiring_days": "30 days"}, "expiring_days", NOT_INT),
        case("server", "wrong type", {"server": ["EX01"]}, "server must be a string"),
        case("server", "bad format", {"server": "EX01;EX02"}, "server must be an Exchange server name"),
        case("certificates", "wrong type", {"certificates": ["EX01"]}, "certificates", NOT_DICT),
        case("certificates", "bad thumbprint", {"certificates": {FE: "12345"}},
             "certificates (connector_tls_certificates in the role)['EX01\\Default Frontend EX01'] must be a certificate thumbprint"),
        case("certificates", "unknown connector", {"certificates": {"EX09\\Gone": FOREIGN_THUMBPRINT}, **facts},
             "names 'EX09\\Gone', which is no connector read from any server", FE, after_facts=True),
        case("exempt", "wrong type", {"exempt": "EX01"}, "exempt", NOT_DICT),
        case("exempt", "empty reason", {"exempt": {FE: " "}}, "exempt (connector_tls_exempt in the role)", "non-empty string"),
        case(UNKNOWN, "unknown option", {"thumbprint": FOREIGN_THUMBPRINT}, "thumbprint", UNSUPPORTED, "certificate"),
        *session_cases("receive_connector_tls"),
    ]


def send_cases(lab) -> list[Case]:
    return [
        case("identity", "wrong type", {"identity": {"name": SEND}}, "identity", NOT_LIST),
        case("identity", "wrong element type", {"identity": [{"name": SEND}]}, "identity must be a list of strings"),
        case("identity", "empty", {"identity": [" "]}, "identity must name at least one send connector"),
        case("identity", "unknown connector", {"identity": "Outbound to Fabrikam"},
             "identity 'Outbound to Fabrikam' is not a send connector of the organisation", SEND, after_facts=True),
        case("certificate", "wrong type", {"certificate": {"thumbprint": FOREIGN_THUMBPRINT}}, "certificate must be a string"),
        case("certificate", "bad format", {"certificate": "5B:2F"}, "certificate", "40 hexadecimal"),
        case("certificate", "unknown thumbprint", {"identity": SEND, "certificate": FOREIGN_THUMBPRINT},
             FOREIGN_THUMBPRINT, "certificate", after_facts=True),
        case("enable_smtp", "wrong type", {"enable_smtp": "sometimes"}, "enable_smtp", NOT_BOOL),
        case("ignore_source_servers", "wrong type", {"ignore_source_servers": {"EX02": True}}, "ignore_source_servers",
             NOT_LIST),
        case("ignore_source_servers", "wrong element type", {"ignore_source_servers": [["EX02"]]},
             "ignore_source_servers must be a list of strings"),
        case("update_hybrid_configuration", "wrong type", {"update_hybrid_configuration": "maybe"},
             "update_hybrid_configuration", NOT_BOOL),
        case("expiring_days", "huge", {"expiring_days": 5000}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "wrong type", {"expiring_days": "a month"}, "expiring_days", NOT_INT),
        case("certificates", "wrong type", {"certificates": "auto"}, "certificates", NOT_DICT),
        case("certificates", "bad thumbprint", {"certificates": {SEND: "5B:2F"}}, "must be a certificate thumbprint"),
        case("certificates", "unknown connector", {"certificates": {"Outbound to Fabrikam": FOREIGN_THUMBPRINT}},
             "names 'Outbound to Fabrikam', which is no connector read from any server", SEND, after_facts=True),
        case("exempt", "wrong type", {"exempt": [SEND]}, "exempt", NOT_DICT),
        case("exempt", "empty reason", {"exempt": {SEND: ""}}, "exempt (connector_tls_exempt in the role)", "non-empty string"),
        case("receive_plans", "wrong type", {"receive_plans": "EX01"}, "receive_plans", "unable to convert to dict"),
        case(UNKNOWN, "unknown option", {"server": "EX01"}, "server", UNSUPPORTED, "ignore_source_servers"),
        *session_cases("send_connector_tls"),
    ]


# Accepted, but not silently: a name in ignore_source_servers that no send connector lists ignores
# nothing, and the module says so (check mode: the decision only, no launch).
def rollback_cases() -> list[Case]:
    """connector_tls_rollback refuses a record it cannot use before any launch, naming it."""
    return [
        case("changes_file", "no such file", {"changes_file": "/nonexistent/changes.json"}, "changes file /nonexistent/changes.json",
             "cannot be used: File not found"),
        case("changes_file", "wrong type", {"changes_file": ["changes.json"]}, "changes_file"),
        case("run", "not a run id", {"run": "../../etc"}, "connector_tls_run ../../etc cannot be used", "is not a run id"),
        case("run", "conflict: with changes_file", {"run": "20261207T233904.123Z", "changes_file": "changes.json"}, "not both"),
        case("report_dir", "no run there", {"report_dir": "/nonexistent"}, "no run under /nonexistent"),
        case("phase", "not a choice", {"phase": "everything"}, "phase", "all, names, imports"),
        case(UNKNOWN, "unknown option", {"changes": []}, "changes", UNSUPPORTED, "changes_file"),
    ] + session_cases("connector_tls_rollback")


IGNORE_UNKNOWN = {NS + "send_connector_tls": {"ignore_source_servers": ["EX09"]}, "run_once": True, "check_mode": True}


def _loop(module: str, cases: list[Case], **keywords) -> dict:
    """One task for many cases: a loop whose item is a case's arguments, each option passed only when the case has it.

    "{{ item['x'] | default(omit) }}" keeps each value's type; a loop costs far less than a task per case.
    """
    names = sorted({key for c in cases for key in c.args})
    return {"name": f"{module}: {len(cases)} invalid cases",
            NS + module: {name: f"{{{{ item[{name!r}] | default(omit) }}}}" for name in names},
            "loop": [c.args for c in cases], "loop_control": {"label": "{{ ansible_loop.index0 }}", "extended": True},
            "when": "inventory_hostname == 'EX01'", **keywords}


def _items(results: dict, key: str, cases: list[Case]) -> tuple[list[tuple[str, Case]], dict]:
    """The loop task `key`'s result per case, keyed "rK[i]", for check()."""
    items = (results[key].get("results") or [])
    assert len(items) == len(cases), (key, results[key])
    return [(f"{key}[{i}]", c) for i, c in enumerate(cases)], {f"{key}[{i}]": r for i, r in enumerate(items)}


def _slurp(lab) -> dict:
    return {"name": "read the lab's state file", "ansible.builtin.slurp": {"src": str(lab.state_path)},
            "delegate_to": "localhost", "run_once": True}


def journal(lab) -> list[dict]:
    if not lab.journal_path.exists():
        return []
    return [json.loads(line) for line in lab.journal_path.read_text().splitlines() if line.strip()]


def state_diff(before: bytes, after: bytes) -> str:
    lines = difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), "before", "after", n=0, lineterm="")
    return "\n".join(list(lines)[:40])


def launches(lab) -> dict:
    return {s["name"]: s.get("launches", 0) for s in yaml.safe_load(lab.state_path.read_text())["servers"]}


def check(cases: list[tuple[str, Case]], results: dict) -> list[str]:
    """Every case failed, naming the option and what is valid; returns the problems."""
    problems = []
    for key, c in cases:
        r = results[key]
        label = f"{key} {c.option} ({c.kind}) {c.args!r}"
        if r.get("failed") is not True:
            problems.append(f"{label}: did not fail: {r!r}"[:600])
            continue
        msg = str(r.get("msg", ""))
        missing = [n for n in c.needles if n not in msg]
        if missing:
            problems.append(f"{label}: message lacks {missing}: {msg!r}")
        if "Traceback" in msg or msg.startswith(("Task failed", "Module failed", "Unexpected failure")):
            problems.append(f"{label}: a traceback, not a message: {msg!r}")
        if r.get("changes") or r.get("launches"):
            problems.append(f"{label}: launched or changed something: launches={r.get('launches')} changes={r.get('changes')}")
    return problems


@pytest.mark.reliability(AREA, "every option of the facts, receive and send modules with invalid values")
def test_action_plugins_refuse_every_invalid_option_before_changing_anything(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    table = [("exchange_certificate_facts", c) for c in facts_cases()]
    table += [("connector_tls_server", c) for c in server_cases()]
    table += [("receive_connector_tls", c) for c in receive_cases(lab)]
    table += [("send_connector_tls", c) for c in send_cases(lab)]
    table += [("connector_tls_rollback", c) for c in rollback_cases()]
    before_play = lab.state_path.read_bytes()
    # Cases that need no facts, then one facts read per host, then the cases that need the server's facts.
    tasks, loops = [], []
    for after_facts in (False, True):
        if after_facts:
            tasks.append(_slurp(lab))
            slurp_before_facts = len(tasks) - 1
            tasks.append({"name": "facts", NS + "exchange_certificate_facts": {}})
            facts_index = len(tasks) - 1
            tasks.append({"ansible.builtin.set_fact": {"r_facts": f"{{{{ r{facts_index} }}}}"}})
            tasks.append(_slurp(lab))
            slurp_after_facts = len(tasks) - 1
        for module in ("exchange_certificate_facts", "connector_tls_server", "receive_connector_tls", "send_connector_tls",
                       "connector_tls_rollback"):
            cases = [c for m, c in table if m == module and c.after_facts is after_facts]
            if cases:
                loops.append((f"r{len(tasks)}", cases))
                tasks.append(_loop(module, cases, **({"run_once": True} if module == "send_connector_tls" else {})))
    tasks.append(IGNORE_UNKNOWN)
    ignore_index = len(tasks) - 1
    _rc, output, results = play(lab, tmp_path, tasks)
    ex01 = results["EX01"]
    assert all(not results[h][f"r{facts_index}"].get("failed") for h in results), output[-3000:]
    keyed, flat = [], {}
    for key, cases in loops:
        pairs, items = _items(ex01, key, cases)
        keyed += pairs
        flat.update(items)
    problems = check(keyed, flat)
    # Nothing changed before the facts read, nor after it: byte for byte.
    state_at = {i: base64.b64decode(ex01[f"r{i}"]["content"]) for i in (slurp_before_facts, slurp_after_facts)}
    if state_at[slurp_before_facts] != before_play:
        problems.append("the state file changed before the facts read")
    if lab.state_path.read_bytes() != state_at[slurp_after_facts]:
        problems.append("the state file changed after the facts read")
    # The only launches: the facts read, one per host, read-only.
    entries = journal(lab)
    if sorted(e["server"] for e in entries) != ["EDGE01", "EX01", "EX02"] or launches(lab) != {"EX01": 1, "EX02": 1, "EDGE01": 1}:
        problems.append(f"launches other than the facts read: {[(e['server'], e.get('msg')) for e in entries]}")
    if any(not s["cmdlet"].startswith("Get-") for e in entries for s in e.get("steps", [])):
        problems.append("a write reached the lab")
    warned = ex01[f"r{ignore_index}"]
    if warned.get("failed") or not any("ignore_source_servers names 'EX09'" in w and "EX01, EX02" in w
                                       for w in warned.get("warnings") or []):
        problems.append(f"an unknown name in ignore_source_servers passed without a warning: {warned!r}"[:800])
    reliability(len(keyed) + 1)
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------- exchange_command

STEP = {"cmdlet": "Get-ExchangeServer", "properties": ["Name"]}


GOOD_URI = "http://ex01.contoso.com/powershell?serializationLevel=Full"

# Parameters of allow-listed cmdlets that exchange_command refuses (payload_contract): each weakens
# TLS, opens a relay, redirects mail, changes the payload's own behaviour or authenticates outbound.
REFUSED_PARAMETERS = [
    ("Get-ExchangeServer", {"OutVariable": "step"}), ("Get-ExchangeServer", {"ov": "names"}),
    ("Set-ReceiveConnector", {"Identity": FE, "WhatIf": True}), ("Set-SendConnector", {"Identity": "x", "Confirm": True}),
    ("Get-ReceiveConnector", {"ErrorVariable": "module"}), ("Get-TransportService", {"PipelineVariable": "stop"}),
    ("Get-WinEvent", {"ComputerName": "attacker.example"}), ("Get-WinEvent", {"Path": "\\\\attacker\\share\\x.evtx"}),
    ("Set-ReceiveConnector", {"Identity": FE, "PermissionGroups": "AnonymousUsers"}),
    ("Set-ReceiveConnector", {"Identity": FE, "RemoteIPRanges": ["0.0.0.0-255.255.255.255"]}),
    ("Set-ReceiveConnector", {"Identity": FE, "AuthMechanism": ["None"]}),
    ("Set-ReceiveConnector", {"Identity": FE, "RequireTLS": False}),
    ("Set-SendConnector", {"Identity": "x", "SmartHosts": ["attacker.example"]}),
    ("Set-SendConnector", {"Identity": "x", "AddressSpaces": ["*"]}),
    ("Set-SendConnector", {"Identity": "x", "IgnoreSTARTTLS": True}),
    ("Enable-ExchangeCertificate", {"Thumbprint": FOREIGN_THUMBPRINT, "NetworkServiceAllowed": True}),
    ("Get-ReceiveConnector", {"Ident": FE}),
]


def parameter_cases() -> list[Case]:
    from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.payload_contract import PARAMETERS

    cases = [case("steps[].parameters", f"{cmdlet} -{list(parameters)[-1]}", {"steps": [{"cmdlet": cmdlet, "parameters": parameters}]},
                  f"parameter '{list(parameters)[-1]}' is not accepted", f"{cmdlet} accepts only {', '.join(PARAMETERS[cmdlet])}")
             for cmdlet, parameters in REFUSED_PARAMETERS]
    return cases + [
        case("steps[].parameters", "Services POP", {"steps": [{"cmdlet": "Enable-ExchangeCertificate", "parameters": {
            "Thumbprint": FOREIGN_THUMBPRINT, "Services": "POP", "Force": True}}]}, "Services 'POP' is not accepted",
             "accepts only SMTP, IIS"),
        case("steps[].parameters", "Identity twice", {"steps": [{"cmdlet": "Get-ReceiveConnector", "parameters": {
            "Identity": FE, "identity": "EX02\\Default Frontend EX02"}}]}, "parameter 'identity' is given twice", "'Identity'"),
    ]


def command_cases() -> list[Case]:
    def step(**changes):
        return {"steps": [{**STEP, **changes}]}

    return [
        case("steps", "missing", {}, "missing required arguments: steps"),
        case("steps", "wrong type", {"steps": "Get-ExchangeServer"}, "steps", "convert to dict"),
        case("steps", "wrong element type", {"steps": [["Get-ExchangeServer"]]}, "steps", "convert to dict"),
        case("steps[].cmdlet", "missing", {"steps": [{"parameters": {}}]}, "missing required arguments: cmdlet", "steps"),
        case("steps[].cmdlet", "wrong type", step(cmdlet=["Get-ExchangeServer"]), "cmdlet", "convert to str"),
        case("steps[].cmdlet", "not allowed", step(cmdlet="Remove-ReceiveConnector"),
             "cmdlet 'Remove-ReceiveConnector' is not allowed", "runs only Get-ExchangeServer"),
        case("steps[].cmdlet", "not allowed: a script", step(cmdlet="Get-ExchangeServer; Remove-Item C:\\"),
             "is not allowed", "runs only Get-ExchangeServer"),
        case("steps[].parameters", "wrong type", step(parameters=["Identity", "EX01"]), "parameters", "convert to dict"),
        case("steps[].parameters", "ErrorAction", step(parameters={"ErrorAction": "SilentlyContinue"}),
             "parameter 'ErrorAction' is not accepted", "ErrorAction is always Stop"),
        case("steps[].parameters", "Restart-Service of another service",
             {"steps": [{"cmdlet": "Restart-Service", "parameters": {"Name": "W3SVC"}}]},
             "Restart-Service", "Name 'W3SVC' is not accepted", "MSExchangeTransport, MSExchangeFrontEndTransport"),
        *parameter_cases(),
        case("steps[].properties", "wrong type", step(properties={"Name": True}), "properties", "convert to list"),
        case("steps[].guard", "wrong type", step(guard=["Name", "EX01"]), "guard", "convert to dict"),
        case("steps[].id", "wrong type", step(id={"label": "read"}), "id", "convert to str"),
        case("steps[].continue_on_error", "wrong type", step(continue_on_error="sometimes"), "continue_on_error",
             "convert to bool"),
        case("steps[].continue_on_error", "conflict: on a Set-* step",
             {"steps": [{"cmdlet": "Set-ReceiveConnector", "parameters": {"Identity": FE}, "continue_on_error": True}]},
             "continue_on_error is accepted only on read steps (Get-*, Test-EdgeSynchronization)"),
        case("certificate_password", "wrong type", {**step(), "certificate_password": ["Pa55"]}, "certificate_password"),
        case("steps[].cmdlet", "unknown step option", step(colour="red"), "colour found in steps", UNSUPPORTED, "cmdlet"),
        case(UNKNOWN, "unknown option", {**step(), "colour": "red"}, "colour", UNSUPPORTED, "steps"),
    ]


# Session rules the action plugins enforce (exchange_action.session_problem); for exchange_command its own
# action plugin applies them on the controller, so the payload stays small.
CHECKED_BY_ACTION_PLUGIN = ("conflict: snapin with credentials", "bad URI", "bad URI scheme", "conflict: without username",
                        "bad format", "empty", "https", "without full serialization", "password in the URI")


def command_session_cases(on_controller: bool) -> list[Case]:
    """The session cases for exchange_command: those its payload enforces, or those its action plugin refuses."""
    return [Case(c.option, c.kind, {**c.args, **STEP_ARGS}, c.needles if c.kind != "wrong type" else (c.option,))
            for c in session_cases("exchange_command") if (c.kind in CHECKED_BY_ACTION_PLUGIN) is on_controller]


STEP_ARGS = {"steps": [STEP]}


def _run_command_cases(lab, tmp_path, cases: list[Case]) -> tuple[list[str], dict]:
    before = lab.state_path.read_bytes()
    before_launches = launches(lab)
    _rc, output, results = play(lab, tmp_path, [_loop("exchange_command", cases)], hosts="EX01")
    problems = check(*_items(results["EX01"], "r0", cases))
    # Each refusal happens in the payload's argument validation, before the Exchange session opens.
    if launches(lab) != before_launches:
        problems.append(f"the payload opened an Exchange session: {launches(lab)}")
    if any(e.get("steps") for e in journal(lab)):
        problems.append("a cmdlet ran")
    if lab.state_path.read_bytes() != before:
        problems.append(f"the state file changed: {state_diff(before, lab.state_path.read_bytes())}")
    return problems, results


@pytest.mark.reliability(AREA, "every option and step suboption of exchange_command with invalid values")
def test_exchange_command_refuses_every_invalid_option_before_opening_a_session(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    cases = command_cases() + command_session_cases(on_controller=False)
    problems, _results = _run_command_cases(lab, tmp_path, cases)
    reliability(len(cases))
    assert not problems, "\n".join(problems)


@pytest.mark.reliability(AREA, "every option and step suboption of exchange_command with invalid values")
def test_exchange_command_refuses_the_session_conflicts_the_action_modules_refuse(running_lab, tmp_path, reliability):
    """The same session rules as the action modules, and a batch with no step (a launch for nothing)."""
    lab = running_lab(SCENARIOS / "demo.yml")
    cases = command_session_cases(on_controller=True) + [
        case("steps", "empty", {"steps": []}, "steps", "at least one step")]
    problems, _results = _run_command_cases(lab, tmp_path, cases)
    reliability(len(cases))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------- smtp_tls_probe

def probe_cases(port: int) -> list[Case]:
    base = {"host": "127.0.0.1", "port": port, "timeout": 5}
    tp = {"expect_thumbprint": FOREIGN_THUMBPRINT}

    def probe(**changes):
        return {k: v for k, v in {**base, **changes}.items() if v is not None}

    return [
        case("host", "missing", probe(host=None), "missing required arguments: host"),
        case("host", "wrong type", probe(host=["127.0.0.1"]), "host must be a string, got a list"),
        case("host", "empty", probe(host=""), "host", "host name", "IP address"),
        case("host", "bad format", probe(host="mail contoso com"), "host 'mail contoso com' is not a host name", "IP address"),
        case("host", "IPv6 in brackets", probe(host="[::1]"), "host '[::1]'", "without brackets"),
        case("port", "zero", probe(port=0), "port must be between 1 and 65535"),
        case("port", "negative", probe(port=-25), "port must be between 1 and 65535"),
        case("port", "huge", probe(port=65536), "port must be between 1 and 65535"),
        case("port", "wrong type", probe(port="smtp"), "port", NOT_INT),
        case("timeout", "zero", probe(timeout=0), "timeout must be a number of seconds greater than 0"),
        case("timeout", "negative", probe(timeout=-1), "timeout must be a number of seconds greater than 0"),
        case("timeout", "huge", probe(timeout=1e12), "timeout", "at most 3600"),
        case("timeout", "not a number", probe(timeout="nan"), "timeout", "greater than 0"),
        case("timeout", "wrong type", probe(timeout="ten"), "timeout", NOT_FLOAT),
        case("helo_name", "bad format", probe(helo_name="probe host!"), "helo_name 'probe host!' is not a host name",
             "address literal"),
        case("helo_name", "bad address literal", probe(helo_name="[192.0.2]"), "helo_name '[192.0.2]'", "[192.0.2.25]"),
        case("helo_name", "wrong type", probe(helo_name=["probe.example.net"]), "helo_name must be a string, got a list"),
        case("expect_thumbprint", "bad format", probe(expect_thumbprint="12345"), "expect_thumbprint must be a certificate thumbprint",
             "40 hexadecimal digits"),
        case("expect_thumbprint", "not hex", probe(expect_thumbprint="Z" * 40), "expect_thumbprint", "40 hexadecimal digits"),
        case("expect_thumbprint", "wrong type", probe(expect_thumbprint={"thumbprint": FOREIGN_THUMBPRINT}),
             "expect_thumbprint must be a string, got a dictionary"),
        case("wait_timeout", "negative", probe(wait_timeout=-1, **tp), "wait_timeout must be 0 (probe once)"),
        case("wait_timeout", "huge", probe(wait_timeout=10 ** 7, **tp), "wait_timeout", "up to 86400"),
        case("wait_timeout", "wrong type", probe(wait_timeout="a minute", **tp), "wait_timeout", NOT_INT),
        case("wait_timeout", "conflict: without expect_thumbprint", probe(wait_timeout=30), "wait_timeout needs expect_thumbprint"),
        case("delay", "zero", probe(delay=0, wait_timeout=10, **tp), "delay must be a number of seconds greater than 0"),
        case("delay", "negative", probe(delay=-2, wait_timeout=10, **tp), "delay must be a number of seconds greater than 0"),
        case("delay", "huge", probe(delay=1e9, wait_timeout=10, **tp), "delay", "at most 3600"),
        case("delay", "wrong type", probe(delay="soon", wait_timeout=10, **tp), "delay", NOT_FLOAT),
        case("seen_as", "bad format", probe(seen_as="nat.contoso.com"), "seen_as 'nat.contoso.com' is not an IP address",
             "192.0.2.25"),
        case("seen_as", "wrong type", probe(seen_as=["192.0.2.10"]), "seen_as must be a string, got a list"),
        case(UNKNOWN, "unknown option", probe(starttls=False), "starttls", UNSUPPORTED, "helo_name"),
    ]


def run_per_host(tmp_path: pathlib.Path, module: str, cases: list[Case], forks: int = 8) -> tuple[str, dict]:
    """Each case as one controller-local host, run side by side (forks): a module runs in its own process per case.

    Every option the cases use is passed as "{{ case.<option> | default(omit) }}", so a host passes exactly its
    case's options, with their types (the inventory is YAML). Returns the output and {case index: result}.
    """
    out = tmp_path / "per-host"
    out.mkdir()
    names = sorted({key for c in cases for key in c.args})
    hosts = {f"case{i}": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "case": c.args}
             for i, c in enumerate(cases)}
    (tmp_path / "cases.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    task = {NS + module: {name: f"{{{{ case.{name} | default(omit) }}}}" for name in names},
            "register": "result", "ignore_errors": True}
    save = {"ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": f"{out}/{{{{ inventory_hostname }}}}.json",
                                     "mode": "0600"}}
    playbook = tmp_path / "per-host.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": [task, save]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp_path / "cases.yml"), "-f", str(forks), str(playbook)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    results = {int(p.stem[4:]): json.loads(p.read_text()) for p in out.glob("case*.json")}
    return proc.stdout + proc.stderr, results


@pytest.mark.reliability(AREA, "every option of smtp_tls_probe with invalid values, from the controller")
def test_smtp_tls_probe_refuses_every_invalid_option_without_connecting(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_bytes()
    # A case the module wrongly accepted would reach a real SMTP listener (the lab's EX01) and succeed.
    cases = probe_cases(lab.smtp["EX01"].port)
    output, results = run_per_host(tmp_path, "smtp_tls_probe", cases)
    assert sorted(results) == list(range(len(cases))), output[-3000:]
    problems = check([(i, c) for i, c in enumerate(cases)], results)
    problems += [f"case {i} connected" for i, r in results.items() if r.get("connected")]
    if lab.state_path.read_bytes() != before or journal(lab):
        problems.append("the lab changed")
    reliability(len(cases))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------- connector_tls_report

def report_cases(tmp_path: pathlib.Path) -> list[Case]:
    a_file = tmp_path / "not-a-directory"

    def report(**changes):
        base = {"dest": "DEST", "mode": "audit", "hosts": ["EX01"]}
        return {k: v for k, v in {**base, **changes}.items() if v is not None}

    return [
        case("dest", "missing", report(dest=None), "missing required arguments: dest"),
        case("dest", "wrong type", report(dest=["reports"]), "dest must be a string"),
        case("dest", "empty", report(dest=""), "dest must be the directory for the reports"),
        case("dest", "a file, not a directory", report(dest=str(a_file)), "cannot write the reports to", "option dest",
             "must be a directory"),
        case("stage", "unknown choice", report(stage="draft"), "stage", "planned, final"),
        case("mode", "missing", report(mode=None), "missing required arguments: mode"),
        case("mode", "unknown choice", report(mode="fix"), "mode", "audit, remediate"),
        case("scope", "wrong type", report(scope=["receive_connectors"]), "scope must be a string"),
        case("exempt", "wrong type", report(exempt="EX01"), "exempt", NOT_DICT),
        case("scope", "bad format", report(scope="receive_connectors[?"), "scope", "not a valid JMESPath expression",
             "Example of a valid one"),
        case("expiring_days", "negative", report(expiring_days=-1), "expiring_days", "between 0 and 3650"),
        case("expiring_days", "huge", report(expiring_days=36500), "expiring_days", "between 0 and 3650"),
        case("expiring_days", "wrong type", report(expiring_days="30d"), "expiring_days", NOT_INT),
        case("fail_on_drift", "wrong type", report(fail_on_drift="perhaps"), "fail_on_drift", NOT_BOOL),
        case("hosts", "wrong type", report(hosts={"EX01": True}), "hosts", NOT_LIST),
        case("hosts", "wrong element type", report(hosts=[["EX01"]]), "hosts must be a list of strings"),
        case("hosts", "unknown host", report(hosts=["EX01", "EX09"]), "hosts names hosts that are not in the inventory: EX09",
             "EDGE01"),
        case("organization_host", "unknown host", report(organization_host="EX09"), "organization_host 'EX09' is not an inventory host",
             "EX02"),
        case("organization_host", "wrong type", report(organization_host=["EX01"]), "organization_host must be a string"),
        case("run_id", "not a run id", report(run_id="../../etc"), "run_id: '../../etc' is not a run id",
             "20261207T233904.123Z"),
        case("run_id", "no such run", report(run_id="20261207T233904.123Z"), "there is no run '20261207T233904.123Z'"),
        case("run_id", "wrong type", report(run_id=["20261207T233904.123Z"]), "run_id must be a string"),
        case(UNKNOWN, "unknown option", report(format="pdf"), "format", UNSUPPORTED, "dest"),
    ]


@pytest.mark.reliability(AREA, "every option of connector_tls_report with invalid values")
def test_connector_tls_report_refuses_every_invalid_option_and_writes_nothing(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_bytes()
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("keep me\n")
    cases = report_cases(tmp_path)
    reports = tmp_path / "reports"
    dests = []
    for i, c in enumerate(cases):
        if c.args.get("dest") == "DEST":
            dests.append(reports / f"case{i}")
            cases[i] = Case(c.option, c.kind, {**c.args, "dest": str(dests[-1])}, c.needles)
    tasks = [_loop("connector_tls_report", cases, run_once=True)]
    # The control: the same task with valid options writes its reports.
    control = reports / "control"
    tasks.append({NS + "connector_tls_report": {"dest": str(control), "mode": "audit", "hosts": ["EX01"],
                                                  "fail_on_drift": False}, "run_once": True})
    _rc, output, results = play(lab, tmp_path, tasks, hosts="EX01")
    problems = check(*_items(results["EX01"], "r0", cases))
    written = sorted(str(p.relative_to(tmp_path)) for p in reports.rglob("*") if not p.is_relative_to(control))
    if written:
        problems.append(f"refused cases wrote {written}")
    if a_file.read_text() != "keep me\n":
        problems.append("the file given as dest changed")
    if sorted(p.name for p in (control / "latest").iterdir()) != ["changes.json", "junit.xml", "report.html", "report.json"]:
        problems.append(f"the control wrote {sorted(control.iterdir())}: {results['EX01']['r1']}")
    if lab.state_path.read_bytes() != before or journal(lab):
        problems.append("the lab changed")
    reliability(len(cases))
    assert not problems, "\n".join(problems)


# ------------------------------------------------ exchange_environment_facts and exchange_environment_report

def environment_cases() -> list[Case]:
    return [
        case("server", "wrong type", {"server": ["EX01"]}, "server must be a string"),
        case("server", "bad format", {"server": "EX 01!"}, "server must be an Exchange server name"),
        case("server", "an IP address", {"server": "192.0.2.25"}, "server must be an Exchange server name"),
        case("probe", "wrong type", {"probe": "maybe"}, "probe", NOT_BOOL),
        case("probe_host", "wrong type", {"probe_host": ["mail.contoso.com"]}, "probe_host must be a string"),
        case("probe_host", "bad format", {"probe_host": "mail server!"}, "probe_host", "not a host name", "IP address"),
        case("probe_host", "empty", {"probe_host": ""}, "probe_host", "not a host name"),
        case("probe_port", "zero", {"probe_port": 0}, "probe_port must be between 1 and 65535"),
        case("probe_port", "huge", {"probe_port": 70000}, "probe_port must be between 1 and 65535"),
        case("probe_port", "wrong type", {"probe_port": "smtp"}, "probe_port", NOT_INT),
        case("probe_timeout", "zero", {"probe_timeout": 0}, "probe_timeout", "greater than 0 and at most 3600"),
        case("probe_timeout", "huge", {"probe_timeout": 86400}, "probe_timeout", "greater than 0 and at most 3600"),
        case("probe_timeout", "wrong type", {"probe_timeout": "soon"}, "probe_timeout", NOT_FLOAT),
        case(UNKNOWN, "unknown option", {"colour": "red"}, "colour", UNSUPPORTED, "probe_host"),
        *session_cases("exchange_environment_facts"),
    ]


def environment_report_cases(tmp_path: pathlib.Path) -> list[Case]:
    a_file = tmp_path / "not-a-directory"

    def report(**changes):
        base = {"dest": "DEST", "hosts": ["EX01"]}
        return {k: v for k, v in {**base, **changes}.items() if v is not None}

    return [
        case("dest", "missing", report(dest=None), "missing required arguments: dest"),
        case("dest", "wrong type", report(dest=["reports"]), "dest must be a string"),
        case("dest", "empty", report(dest=""), "dest must be the directory for environment.json"),
        case("dest", "a file, not a directory", report(dest=str(a_file)), "is a file, not a directory"),
        case("dest", "under a file", report(dest=str(a_file / "sub")), "cannot be written", "not a writable directory"),
        case("stage", "unknown choice", report(stage="draft"), "stage", "check, write"),
        case("hosts", "wrong type", report(hosts={"EX01": True}), "hosts", NOT_LIST),
        case("hosts", "wrong element type", report(hosts=[["EX01"]]), "hosts must be a list of strings"),
        case("hosts", "unknown host", report(hosts=["EX01", "EX09"]), "hosts names hosts that are not in the inventory: EX09",
             "EDGE01"),
        case("result_var", "wrong type", report(result_var=["r"]), "result_var must be a string"),
        case(UNKNOWN, "unknown option", report(format="pdf"), "format", UNSUPPORTED, "dest"),
    ]


@pytest.mark.reliability(AREA, "every option of exchange_environment_facts and exchange_environment_report with invalid values")
def test_environment_modules_refuse_every_invalid_option_before_reading_or_writing(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_bytes()
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("keep me\n")
    reports = tmp_path / "reports"
    report_cases_ = [Case(c.option, c.kind, {**c.args, "dest": str(reports / f"case{i}")} if c.args.get("dest") == "DEST"
                          else c.args, c.needles) for i, c in enumerate(environment_report_cases(tmp_path))]
    facts_cases_ = environment_cases()
    control = reports / "control"
    tasks = [_loop("exchange_environment_facts", facts_cases_), _loop("exchange_environment_report", report_cases_, run_once=True),
             {NS + "exchange_environment_report": {"dest": str(control), "hosts": ["EX01"]}, "run_once": True}]
    _rc, output, results = play(lab, tmp_path, tasks, hosts="EX01")
    pairs, items = _items(results["EX01"], "r0", facts_cases_)
    report_pairs, report_items = _items(results["EX01"], "r1", report_cases_)
    problems = check(pairs + report_pairs, {**items, **report_items})
    written = sorted(str(p.relative_to(tmp_path)) for p in reports.rglob("*") if not p.is_relative_to(control))
    if written:
        problems.append(f"refused cases wrote {written}")
    if a_file.read_text() != "keep me\n":
        problems.append("the file given as dest changed")
    if sorted(p.name for p in control.iterdir()) != ["environment.json"]:
        problems.append(f"the control did not write environment.json: {results['EX01']['r2']}")
    if lab.state_path.read_bytes() != before or journal(lab):
        problems.append("the lab changed, or a launch happened")
    reliability(len(facts_cases_) + len(report_cases_))
    assert not problems, "\n".join(problems)


# ------------------------------ exchange_certificate_import, exchange_certificate_retire, rollout_record, impact

# Long enough that Ansible's no_log masking of it does not garble the messages checked.
PFX_PASSWORD = "Pfx-Passw0rd-2027"


def import_cases(tmp: pathlib.Path) -> list[Case]:
    """exchange_certificate_import refuses a file it cannot import before reading the store."""
    return [
        case("path", "missing", {}, "missing required arguments: path"),
        case("path", "no such file", {"path": str(tmp / "missing.pfx"), "pfx_password": PFX_PASSWORD},
             "path '", "missing.pfx': no such file on the controller", "PKCS#12"),
        case("path", "not a certificate", {"path": str(tmp / "not-a-certificate.pfx"), "pfx_password": PFX_PASSWORD},
             "path '", "not-a-certificate.pfx' is not a certificate", "PKCS#12"),
        case("path", "wrong type", {"path": ["a.pfx"]}, "path must be a string"),
        case("pfx_password", "wrong type", {"path": str(tmp / "not-a-certificate.pfx"), "pfx_password": {"p": 1}}, "pfx_password must be a string",
             "not shown"),
        case("private_key_exportable", "wrong type", {"path": str(tmp / "not-a-certificate.pfx"), "private_key_exportable": "perhaps"},
             "private_key_exportable", NOT_BOOL),
        case("enable_iis", "wrong type", {"path": str(tmp / "not-a-certificate.pfx"), "enable_iis": "perhaps"},
             "enable_iis", NOT_BOOL),
        case("server", "bad format", {"path": str(tmp / "not-a-certificate.pfx"), "server": "EX 01!"},
             "server must be an Exchange server name"),
        case("server", "wrong type", {"path": str(tmp / "not-a-certificate.pfx"), "server": ["EX01"]}, "server must be a string"),
        case(UNKNOWN, "unknown option", {"path": "a.pfx", "colour": "red"}, "colour", UNSUPPORTED, "pfx_password"),
        *[Case(c.option, c.kind, {"path": str(tmp / "not-a-certificate.pfx"), **c.args}, c.needles)
          for c in session_cases("exchange_certificate_import")],
    ]


def retire_cases() -> list[Case]:
    """exchange_certificate_retire refuses a thumbprint or proof it cannot use before reading the server."""
    good = {"thumbprint": FOREIGN_THUMBPRINT, "replacement": "F" * 40, "proof": {"tls": True}}

    def retire(**changes):
        return {k: v for k, v in {**good, **changes}.items() if v is not None}

    return [
        case("thumbprint", "missing", retire(thumbprint=None), "missing required arguments: thumbprint"),
        case("thumbprint", "bad format", retire(thumbprint="not-a-thumbprint"), "thumbprint must be a certificate thumbprint: 40 hexadecimal"),
        case("thumbprint", "wrong type", retire(thumbprint=["A" * 40]), "thumbprint must be a string"),
        case("replacement", "missing", retire(replacement=None), "missing required arguments: replacement"),
        case("replacement", "bad format", retire(replacement="XYZ"), "replacement must be a certificate thumbprint: 40 hexadecimal"),
        case("replacement", "conflict: the same certificate", retire(replacement=FOREIGN_THUMBPRINT),
             "thumbprint and replacement are the same certificate"),
        case("proof", "missing", retire(proof=None), "missing required arguments: proof"),
        case("proof", "wrong type", retire(proof="yes"), "proof", NOT_DICT),
        case("server", "bad format", retire(server="EX 01!"), "server must be an Exchange server name"),
        case("server", "wrong type", retire(server=["EX01"]), "server must be a string"),
        case(UNKNOWN, "unknown option", retire(force=True), "force", UNSUPPORTED, "replacement"),
        *[Case(c.option, c.kind, {**good, **c.args}, c.needles) for c in session_cases("exchange_certificate_retire")],
    ]


def record_cases(tmp: pathlib.Path) -> list[Case]:
    """rollout_record refuses arguments it cannot record before writing a run directory."""
    a_file = tmp / "not-a-directory"

    def record(**changes):
        return {k: v for k, v in {"dest": "DEST", "hosts": ["EX01"], **changes}.items() if v is not None}

    return [
        case("dest", "missing", record(dest=None), "missing required arguments: dest"),
        case("dest", "wrong type", record(dest=["reports"]), "dest must be a string"),
        case("dest", "a file, not a directory", record(dest=str(a_file)), "(option dest)", "not-a-directory",
             "must be a directory this controller can create and write"),
        case("hosts", "wrong type", record(hosts={"EX01": True}), "hosts", NOT_LIST),
        case("hosts", "unknown host", record(hosts=["EX01", "EX09"]), "hosts names EX09, which the inventory does not have"),
        case("results", "wrong type", record(results={"a": 1}), "results", NOT_LIST),
        case("organization_result", "wrong type", record(organization_result=["r"]), "organization_result must be a string"),
        case(UNKNOWN, "unknown option", record(format="pdf"), "format", UNSUPPORTED, "dest"),
    ]


def impact_cases(tmp: pathlib.Path) -> list[Case]:
    """exchange_certificate_impact refuses a candidate or option it cannot use, contacting no server and writing nothing."""
    bad = str(tmp / "not-a-certificate.pfx")
    thumb = {"candidate_thumbprint": FOREIGN_THUMBPRINT, "validate_only": True}
    return [
        case("candidate", "conflict: neither candidate nor candidate_thumbprint", {"validate_only": True},
             "give connector_tls_candidate", "connector_tls_candidate_thumbprint"),
        case("candidate", "no such file", {"candidate": str(tmp / "missing.pem")}, "candidate '", "missing.pem': no such file on the controller",
             "PKCS#12"),
        case("candidate", "not a certificate", {"candidate": bad}, "candidate '", "is not a certificate", "a PEM file"),
        case("candidate", "wrong type", {"candidate": ["a.pem"]}, "candidate must be a string"),
        case("candidate_password", "wrong type", {"candidate": bad, "candidate_password": {"p": 1}}, "candidate_password must be a string",
             "not shown"),
        case("candidate_thumbprint", "bad format", {"candidate_thumbprint": "not-a-thumbprint"},
             "candidate_thumbprint must be a certificate thumbprint (40 hexadecimal"),
        case("candidate_thumbprint", "wrong type", {"candidate_thumbprint": ["A" * 40]}, "candidate_thumbprint must be a string"),
        case("candidate_trust", "no such file", {"candidate": bad, "candidate_trust": str(tmp / "missing-roots.pem")},
             "candidate_trust", "missing-roots.pem", "cannot be read", "PEM bundle"),
        case("exo_inbound_domain", "bad format", {**thumb, "exo_inbound_domain": "not a domain"}, "exo_inbound_domain",
             "mail.contoso.com"),
        case("expiring_days", "negative", {**thumb, "expiring_days": -1}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "huge", {**thumb, "expiring_days": 3651}, "expiring_days", "between 0 and 3650"),
        case("expiring_days", "wrong type", {**thumb, "expiring_days": "soon"}, "expiring_days", NOT_INT),
        case("hosts", "wrong type", {**thumb, "hosts": {"EX01": True}}, "hosts", NOT_LIST),
        case("report_dir", "wrong type", {**thumb, "report_dir": ["reports"]}, "report_dir must be a string"),
        case("validate_only", "wrong type", {**thumb, "validate_only": "perhaps"}, "validate_only", NOT_BOOL),
        case("fail_on_breaking", "wrong type", {**thumb, "fail_on_breaking": "perhaps"}, "fail_on_breaking", NOT_BOOL),
        case(UNKNOWN, "unknown option", {**thumb, "colour": "red"}, "colour", UNSUPPORTED, "candidate"),
    ]


@pytest.mark.reliability(AREA, "every option of the certificate import, retire, impact and rollout_record modules with invalid values")
def test_certificate_and_rollout_modules_refuse_every_invalid_option_before_changing_anything(running_lab, tmp_path, reliability):
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_bytes()
    (tmp_path / "not-a-certificate.pfx").write_bytes(b"this is not a certificate\n")
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("keep me\n")
    reports = tmp_path / "reports"
    records = [Case(c.option, c.kind, {**c.args, "dest": str(reports / f"case{i}")} if c.args.get("dest") == "DEST" else c.args,
                    c.needles) for i, c in enumerate(record_cases(tmp_path))]
    impacts = [Case(c.option, c.kind, {**c.args, "report_dir": str(reports / f"impact{i}")} if "report_dir" not in c.args else c.args,
                    c.needles) for i, c in enumerate(impact_cases(tmp_path))]
    tables = [("exchange_certificate_import", import_cases(tmp_path)), ("exchange_certificate_retire", retire_cases()),
              ("rollout_record", records), ("exchange_certificate_impact", impacts)]
    tasks = [_loop(module, cases, **({"run_once": True} if module in ("rollout_record", "exchange_certificate_impact") else {}))
             for module, cases in tables]
    # The controls: the same controller-side modules with valid options succeed (so a refusal above is the value's doing).
    control = tmp_path / "control"
    tasks.append({NS + "rollout_record": {"dest": str(control), "hosts": ["EX01"]}, "run_once": True})
    tasks.append({NS + "exchange_certificate_impact": {"candidate_thumbprint": FOREIGN_THUMBPRINT, "validate_only": True},
                  "run_once": True})
    _rc, output, results = play(lab, tmp_path, tasks, hosts="EX01")
    keyed, flat = [], {}
    for i, (_module, cases) in enumerate(tables):
        pairs, items = _items(results["EX01"], f"r{i}", cases)
        keyed += pairs
        flat.update(items)
    problems = check(keyed, flat)
    written = sorted(str(p.relative_to(tmp_path)) for p in reports.rglob("*")) if reports.exists() else []
    if written:
        problems.append(f"refused cases wrote {written}")
    if a_file.read_text() != "keep me\n":
        problems.append("the file given as dest changed")
    if sorted(p.name for p in (control / "latest").iterdir()) != ["changes.json"]:
        problems.append(f"the rollout_record control did not write changes.json: {results['EX01']['r4']}")
    if results["EX01"]["r5"].get("failed") or results["EX01"]["r5"].get("candidate", {}).get("thumbprint") != FOREIGN_THUMBPRINT:
        problems.append(f"the exchange_certificate_impact control failed: {results['EX01']['r5']}")
    if lab.state_path.read_bytes() != before or journal(lab):
        problems.append("the lab changed, or a launch happened")
    reliability(len(keyed))
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------- every option has a case

def command_options() -> set[str]:
    options = documented_options("exchange_command")
    names = set(options)
    for sub in options["steps"]["suboptions"]:
        names.add(f"steps[].{sub}")
    return names


def all_tables(lab_stub=None, tmp=pathlib.Path("/nonexistent")) -> dict[str, list[Case]]:
    return {
        "exchange_certificate_facts": facts_cases(),
        "connector_tls_server": server_cases(),
        "receive_connector_tls": receive_cases(lab_stub),
        "send_connector_tls": send_cases(lab_stub),
        "connector_tls_rollback": rollback_cases(),
        "exchange_command": command_cases() + command_session_cases(False) + command_session_cases(True)
        + [case("steps", "empty", {"steps": []})],
        "smtp_tls_probe": probe_cases(25),
        "connector_tls_report": report_cases(tmp),
        "exchange_environment_facts": environment_cases(),
        "exchange_environment_report": environment_report_cases(tmp),
        "exchange_certificate_import": import_cases(tmp),
        "exchange_certificate_retire": retire_cases(),
        "rollout_record": record_cases(tmp),
        "exchange_certificate_impact": impact_cases(tmp),
    }


class _Stub:
    """Enough of a lab for building the tables: a thumbprint per certificate id."""

    class org:
        @staticmethod
        def server(_name):
            class Server:
                @staticmethod
                def certificate_by_id(_id):
                    class Certificate:
                        thumbprint = "F" * 40
                    return Certificate
            return Server


@pytest.mark.reliability(AREA, "every documented option of every module has an invalid-value case here")
def test_every_documented_option_has_an_invalid_case(reliability):
    tables = all_tables(_Stub)
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.yml"))  # every module has its sidecar
    assert sorted(tables) == modules, "a module without a table of invalid options"
    missing = {}
    checked = 0
    for module, cases in tables.items():
        documented = command_options() if module == "exchange_command" else set(documented_options(module))
        covered = {c.option for c in cases}
        assert covered - {UNKNOWN} <= documented, (module, covered - documented - {UNKNOWN})
        lacking = sorted((documented | {UNKNOWN}) - covered)
        if lacking:
            missing[module] = lacking
        checked += len(documented) + 1
    # The role's variables: each has a wrong value of some kind below.
    role_lacking = sorted(set(role_options()) - {name for name, _kind, _value in role_cases()})
    if role_lacking:
        missing["roles/connector_tls"] = role_lacking
    checked += len(role_options())
    reliability(checked)
    assert not missing, f"options without an invalid-value case: {missing}"


# ------------------------------------------------------------------------ the role's variables

def role_options() -> dict:
    spec = yaml.safe_load((ROOT / "roles/connector_tls/meta/argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"]


# One wrong value per variable and per kind; the role's argument validation names each of them.
WRONG_TYPE = {"bool": "sometimes", "int": "many", "list": {"EX02": True}, "dict": ["EX01"]}
BAD_CHOICE = "bogus"
# String variables given a list: argument validation would turn it into the string "['x']".
STRING_AS_LIST = {"str": ["EX01"], "path": ["./reports"]}


def role_cases() -> list[tuple[str, str, object]]:
    cases = []
    for name, option in role_options().items():
        kind = option.get("type", "str")
        if option.get("choices"):
            cases.append((name, "bad choice", BAD_CHOICE))
        if kind in WRONG_TYPE:
            cases.append((name, "wrong type", WRONG_TYPE[kind]))
        if kind in STRING_AS_LIST and not option.get("choices"):
            cases.append((name, "a list for a string", STRING_AS_LIST[kind]))
    return cases


def _role_run(lab, tmp_path: pathlib.Path, name: str, playbook: str, extra: dict) -> tuple[int, str]:
    varsfile = tmp_path / f"{name}.json"
    varsfile.write_text(json.dumps({"connector_tls_report_dir": str(tmp_path / f"{name}-reports"),
                                    "connector_tls_probe_wait": 2, **extra}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), f"exchange.transport_tls.{playbook}",
         "-e", f"@{varsfile}", "--check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.reliability(AREA, "every role variable with a wrong type or a bad choice")
def test_role_variables_with_a_wrong_type_or_choice_fail_naming_each_before_any_launch(running_lab, tmp_path, reliability):
    """As users pass them (-e) to the shipped playbooks; argument validation lists every bad variable at once.

    Three runs side by side: wrong types and bad choices through remediate --check, and the audit
    (whose pre-task guards connector_tls_mode first) with a bad mode.
    """
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_bytes()
    cases = [c for c in role_cases() if c[1] != "a list for a string"]
    runs = {
        "types": ("remediate", {n: v for n, k, v in cases if k == "wrong type"}),
        "choices": ("remediate", {n: v for n, k, v in cases if k == "bad choice"}),
        "audit-mode": ("audit", {"connector_tls_mode": BAD_CHOICE}),
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        done = {key: pool.submit(_role_run, lab, tmp_path, key, playbook, extra) for key, (playbook, extra) in runs.items()}
        outputs = {key: future.result() for key, future in done.items()}
    problems = []
    for key, (rc, output) in outputs.items():
        if rc == 0:
            problems.append(f"{key}: the run succeeded")
        for name, value in runs[key][1].items():
            option = role_options().get(name, {})
            valid = ", ".join(option["choices"]) if option.get("choices") else f"convert to {option.get('type')}"
            if key == "audit-mode":
                valid = "only audits (connector_tls_mode=audit)"
            if name not in output or valid not in output:
                problems.append(f"{key}: {name}={value!r} is not named with {valid!r}: {output[-1500:]}")
    if launches(lab) != {"EX01": 0, "EX02": 0, "EDGE01": 0} or lab.state_path.read_bytes() != before:
        problems.append(f"the lab was contacted: {launches(lab)}")
    if any((tmp_path / f"{key}-reports").exists() for key in runs):
        problems.append("reports were written")
    reliability(sum(len(extra) for _p, extra in runs.values()))
    assert not problems, "\n".join(problems)


@pytest.mark.reliability(AREA, "every role variable with a wrong type or a bad choice")
def test_role_string_variables_given_a_list_fail_naming_each_before_any_launch(running_lab, tmp_path, reliability):
    """A list for a string variable: argument validation alone turns it into "['EX01']" and lets the run go on.

    One run with every such variable a list; the role must refuse each, naming it, before any launch
    (a check of all of them at once, as the proposal in the report does, names them all in one run).
    """
    lab = running_lab(SCENARIOS / "demo.yml")
    before = lab.state_path.read_bytes()
    cases = [c for c in role_cases() if c[1] == "a list for a string"]
    rc, output = _role_run(lab, tmp_path, "lists", "audit", {name: value for name, _kind, value in cases})
    problems = [f"{name} as a list is not refused naming it" for name, _kind, _value in cases
                if not re.search(rf"{name} must be [^\n]*a string", output)]
    if rc == 0:
        problems.append("the run succeeded")
    if launches(lab) != {"EX01": 0, "EX02": 0, "EDGE01": 0} or lab.state_path.read_bytes() != before:
        problems.append(f"the lab was contacted: {launches(lab)}")
    reliability(len(cases))
    assert not problems, "\n".join(problems) + "\n" + output[-1500:]
