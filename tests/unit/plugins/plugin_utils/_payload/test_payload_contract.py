# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_command's contract where it lives only in PowerShell, checked on the syntax tree.

The session opening, the URI and the error stream cannot run here (no Windows, no Exchange):
these tests parse exchange_command.ps1 with tree-sitter-powershell and fail when its structure
breaks a rule. What they cannot show (that Exchange answers the URI, that a real session
rehydrates certificates) is checked by playbooks/verify_environment.yml on a real server.
Also: the parameter allow-list is one table (payload_contract.py), the .ps1's literal equals it,
the module's documentation lists it, and the refusals say what is accepted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract
from ansible.errors import AnsibleActionFail

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    BatchFailed,
    ExchangeActionBase,
    session_failure_message,
    session_problem,
    uri_problem,
)

from .....gates.test_module_docs import documented_options
from ...modules.test_powershell import MODULE_PS1, parse, script_variables, walk, where

# ------------------------------------------------------------------ one table, three places


def test_the_payloads_parameter_table_is_the_python_one():
    variables = script_variables(MODULE_PS1)
    assert variables.get("allowedparameters"), "no literal $allowedParameters = @{...} at the payload's script level"
    assert variables["allowedparameters"] == {k: list(v) for k, v in payload_contract.PARAMETERS.items()}
    assert variables.get("allowedvalues") == {c: {p: list(v) for p, v in rules.items()} for c, rules in payload_contract.VALUES.items()}
    assert variables["allowedcmdlets"] == list(payload_contract.CMDLETS)
    assert variables["exchangecmdlets"] == list(payload_contract.EXCHANGE_CMDLETS)
    assert set(payload_contract.PARAMETERS) == set(payload_contract.CMDLETS)


def test_the_payloads_read_cmdlets_are_the_python_ones():
    """Check mode, continue_on_error and changed rest on which cmdlets only read: Get-* and the listed others."""
    text = MODULE_PS1.read_text(encoding="utf-8")
    match = re.search(r"^\$readCmdlets = @\(\$allowedCmdlets \| Where-Object \{ \$_\.StartsWith\('Get-'\) \}\) \+ @\(([^)]*)\)$", text, re.M)
    assert match, "no $readCmdlets = @($allowedCmdlets | Where-Object { $_.StartsWith('Get-') }) + @(...) in the payload"
    others = re.findall(r"'([^']+)'", match.group(1))
    assert others == [c for c in payload_contract.READ_CMDLETS if not c.startswith("Get-")] == ["Test-EdgeSynchronization"]
    assert set(payload_contract.READ_CMDLETS) <= set(payload_contract.CMDLETS)
    assert {c for c in payload_contract.CMDLETS if c.startswith("Get-")} <= set(payload_contract.READ_CMDLETS)
    # Every decision about reading uses the list, none the prefix alone.
    assert text.count("StartsWith('Get-')") == 1
    assert text.count("$readCmdlets -notcontains $name") == 3


def test_every_value_rule_names_a_listed_parameter():
    for cmdlet, rules in payload_contract.VALUES.items():
        assert set(rules) <= set(payload_contract.PARAMETERS[cmdlet]), cmdlet


def documented_table() -> dict:
    """The per-cmdlet lines of steps[].parameters: cmdlet -> [(parameter, [only values])]."""
    lines = documented_options("exchange_command")["steps"]["suboptions"]["parameters"]["description"]
    table = {}
    for line in lines:
        match = re.fullmatch(r"C\(([A-Z][a-z]+-[A-Za-z]+)\): (.*)\.", line)
        if match:
            items = re.findall(r"C\((\w+)\)(?: \(only ((?:V\([^)]*\)(?: or )?)+)\))?", match.group(2))
            table[match.group(1)] = [(name, re.findall(r"V\(([^)]*)\)", only)) for name, only in items]
    return table


def test_the_documentation_lists_exactly_the_table():
    def shown(value):
        return str(value).lower() if isinstance(value, bool) else value

    expected = {c: [(p, [shown(v) for v in payload_contract.VALUES.get(c, {}).get(p, ())]) for p in params]
                for c, params in payload_contract.PARAMETERS.items()}
    assert documented_table() == expected


# ------------------------------------------------------------------ refusals, by the table

def refusal(cmdlet: str, parameters: dict) -> str | None:
    return payload_contract.steps_problem([{"cmdlet": cmdlet, "parameters": parameters}])


# Parameters real Exchange or Windows would bind and the collection never sends: each one a
# way to weaken TLS, open a relay, redirect mail, change the payload's own behaviour, or make
# the server authenticate outbound (F5/F6 of the reliability review).
REFUSED = [
    ("Get-ExchangeServer", "OutVariable", "step"),
    ("Get-ExchangeServer", "ov", "names"),
    ("Set-ReceiveConnector", "WhatIf", True),
    ("Set-SendConnector", "Confirm", True),
    ("Get-ReceiveConnector", "ErrorVariable", "module"),
    ("Get-TransportService", "PipelineVariable", "stop"),
    ("Get-ExchangeCertificate", "InformationVariable", "x"),
    ("Get-WinEvent", "ComputerName", "attacker.example"),
    ("Get-WinEvent", "Path", "\\\\attacker\\share\\x.evtx"),
    ("Get-WinEvent", "FilterHashtable", {"LogName": "Security"}),
    ("Set-ReceiveConnector", "PermissionGroups", "AnonymousUsers"),
    ("Set-ReceiveConnector", "RemoteIPRanges", ["0.0.0.0-255.255.255.255"]),
    ("Set-ReceiveConnector", "AuthMechanism", ["None"]),
    ("Set-ReceiveConnector", "RequireTLS", False),
    ("Set-SendConnector", "SmartHosts", ["attacker.example"]),
    ("Set-SendConnector", "AddressSpaces", ["*"]),
    ("Set-SendConnector", "IgnoreSTARTTLS", True),
    ("Set-HybridConfiguration", "Features", ["OnlineArchive"]),
    ("Enable-ExchangeCertificate", "NetworkServiceAllowed", True),
    ("Restart-Service", "Force", True),
    ("Get-ExchangeServer", "ErrorAction", "SilentlyContinue"),
    ("Get-ExchangeServer", "WarningAction", "Inquire"),
    ("Get-ReceiveConnector", "Ident", "EX01\\Default Frontend EX01"),
]


@pytest.mark.parametrize("cmdlet, parameter, value", REFUSED, ids=[f"{c} -{p}" for c, p, _v in REFUSED])
def test_a_parameter_outside_the_table_is_refused_naming_it_and_the_accepted_ones(cmdlet, parameter, value):
    accepted = ", ".join(payload_contract.PARAMETERS[cmdlet])
    problem = refusal(cmdlet, {parameter: value})
    assert problem is not None and problem.startswith(f"step 0 ({cmdlet}): parameter '{parameter}' is not accepted")
    assert problem.endswith(f"; {cmdlet} accepts only {accepted}")


REFUSED_VALUES = [
    ("Enable-ExchangeCertificate", "Services", "POP", "Services 'POP' is not accepted; Services accepts only SMTP, IIS"),
    # One form per value: a list, never a comma-joined string (which would hide a third service in it).
    ("Enable-ExchangeCertificate", "Services", "IIS, SMTP", "Services 'IIS, SMTP' is not accepted; Services accepts only SMTP, IIS"),
    ("Enable-ExchangeCertificate", "Services", ["SMTP", "IIS", "IMAP"], "Services 'IMAP' is not accepted; Services accepts only SMTP, IIS"),
    ("Enable-ExchangeCertificate", "Services", ["SMTP", "Federation"],
     "Services 'Federation' is not accepted; Services accepts only SMTP, IIS"),
    ("Enable-ExchangeCertificate", "Force", False, "Force False is not accepted; Force accepts only True"),
    ("Enable-ExchangeCertificate", "Force", "true", "Force 'true' is not accepted; Force accepts only True"),
    ("Get-WinEvent", "LogName", "Security", "LogName 'Security' is not accepted; LogName accepts only Application"),
    ("Restart-Service", "Name", "W3SVC",
     "Name 'W3SVC' is not accepted; Name accepts only MSExchangeTransport, MSExchangeFrontEndTransport"),
    ("Restart-Service", "Name", [], "Name is an empty list; Name accepts only MSExchangeTransport, MSExchangeFrontEndTransport"),
    ("Restart-Service", "Name", 7, "Name this value is not accepted; Name accepts only MSExchangeTransport, MSExchangeFrontEndTransport"),
]


@pytest.mark.parametrize("cmdlet, parameter, value, words", REFUSED_VALUES)
def test_a_value_outside_the_rule_is_refused_naming_what_is_accepted(cmdlet, parameter, value, words):
    assert refusal(cmdlet, {parameter: value}) == f"step 0 ({cmdlet}): {words}"


@pytest.mark.parametrize("cmdlet, parameters", [
    ("Enable-ExchangeCertificate", {"Server": "EX01", "Thumbprint": "AB" * 20, "services": "smtp", "Force": True}),
    ("Enable-ExchangeCertificate", {"Server": "EX01", "Thumbprint": "AB" * 20, "Services": "IIS"}),
    ("Enable-ExchangeCertificate", {"Server": "EX01", "Thumbprint": "AB" * 20, "Services": ["SMTP", "iis"]}),
    ("Restart-Service", {"name": ["MSExchangeFrontEndTransport", "msexchangetransport"]}),
    ("Get-WinEvent", {"LogName": "Application", "FilterXPath": "*", "MaxEvents": 10}),
    ("set-receiveconnector", {"Identity": "EX01\\Default Frontend EX01", "TlsCertificateName": None, "DomainController": "dc1"}),
    ("Get-ExchangeServer", {"Identity": "EX01", "Status": True}),
])
def test_what_the_collection_sends_is_accepted_in_any_case(cmdlet, parameters):
    assert refusal(cmdlet, parameters) is None


def test_a_parameter_given_twice_in_another_case_is_refused():
    # A PowerShell hashtable splat ignores case: the second would silently win.
    assert refusal("Get-ReceiveConnector", {"Identity": "EX01\\A", "identity": "EX02\\B"}) == (
        "step 0 (Get-ReceiveConnector): parameter 'identity' is given twice (also as 'Identity'); parameter names ignore case")


def test_the_first_refused_step_is_named_and_a_cmdlet_outside_the_list_too():
    steps = [{"cmdlet": "Get-ExchangeServer"}, {"cmdlet": "Set-SendConnector", "parameters": {"SmartHosts": ["x"]}}]
    assert payload_contract.steps_problem(steps).startswith("step 1 (Set-SendConnector): parameter 'SmartHosts'")
    assert payload_contract.steps_problem([{"cmdlet": "Remove-ReceiveConnector"}]).startswith(
        "step 0: cmdlet 'Remove-ReceiveConnector' is not allowed; exchange_command runs only Get-ExchangeServer")


@pytest.mark.parametrize("steps", ["Get-ExchangeServer", [["Get-ExchangeServer"]], [{"cmdlet": ["x"]}],
                                   [{"cmdlet": "Get-ExchangeServer", "parameters": ["Identity"]}]])
def test_malformed_steps_are_left_to_the_payloads_argument_validation(steps):
    # Ansible.Basic then names the option and the type, which a guess here could not.
    assert payload_contract.steps_problem(steps) is None


# ------------------------------------------------------------------ the session options

GOOD_URI = "http://ex01.contoso.com/powershell?serializationLevel=Full"
CREDENTIALS = {"username": "CONTOSO\\svc", "password": "x"}


@pytest.mark.parametrize("uri, words", [
    ("https://ex01.contoso.com/powershell?serializationLevel=Full", "must use http://"),
    ("http://ex01.contoso.com/PowerShell/", "serializationLevel=Full"),
    ("http://ex01.contoso.com/powershell?serializationLevel=Partial", "serializationLevel=Full"),
    ("ftp://ex01.contoso.com/powershell?serializationLevel=Full", "http:// URL"),
    ("http://ex01.contoso.com\n/powershell?serializationLevel=Full", "http:// URL"),
])
def test_connection_uri_must_be_http_with_full_serialization(uri, words):
    problem = session_problem({"connection_uri": uri, **CREDENTIALS})
    assert problem is not None and words in problem and GOOD_URI in problem


def test_https_is_refused_with_microsofts_reason():
    assert "CSS-Exchange issue #2168" in uri_problem("https://ex01.contoso.com/powershell?serializationLevel=Full")


def test_a_uri_with_a_password_is_refused_without_showing_it():
    problem = uri_problem("http://svc:UriSecret-4242@ex01.contoso.com/powershell?serializationLevel=Full")
    assert problem is not None and "UriSecret-4242" not in problem and "username and password" in problem


def test_a_good_uri_passes():
    assert session_problem({"connection_uri": GOOD_URI + ";clientApplication=ManagementShell", **CREDENTIALS}) is None


@pytest.mark.parametrize("option", ["domain_controller"])
def test_a_trailing_newline_is_not_a_host_name(option):
    assert session_problem({option: "dc01.contoso.com\n"}) is not None
    assert session_problem({option: "dc01.contoso.com"}) is None


# ------------------------------------------------------------------ session failures, in words

def failed(msg: str, error_id: str, code) -> dict:
    return {"failed": True, "msg": msg, "session_error": {"message": "m", "error_id": error_id, "error_code": code}}


REMOTE = "could not open the Exchange session, session=remote to http://ex01/powershell?serializationLevel=Full (Kerberos): m"
AS_USER = "could not open the Exchange session, session=remote as CONTOSO\\svc to http://ex01/powershell (Kerberos): m"


@pytest.mark.parametrize("result, words, absent", [
    (failed(AS_USER, "1326,PSSessionOpenFailed", 1326), ["Logon failure (Win32 error 1326)", "username and password"], ["second hop"]),
    (failed(REMOTE, "AccessDenied,PSSessionOpenFailed", 5), ["Access is denied (Win32 error 5)", "RBAC role", "second hop", "runas"], []),
    (failed(AS_USER, "AccessDenied,PSSessionOpenFailed", 5), ["Access is denied", "RBAC role"], ["second hop"]),
    (failed(REMOTE, "-2146893042,PSSessionOpenFailed", -2146893042), ["0x8009030E", "second hop", "runas", "username and password"], ["RBAC"]),
    (failed(REMOTE, "NoExchangeCmdlet", None), ["RBAC roles grant none", "RemotePowerShellEnabled"], ["second hop"]),
    (failed(REMOTE, "-2144108387,PSSessionOpenFailed", -2144108387), ["does not say which cause", "-2144108387", "second hop"], []),
])
def test_a_session_failure_says_what_it_means(result, words, absent):
    message = session_failure_message(result)
    assert message.startswith(result["msg"] + ". ")
    assert all(w in message for w in words), message
    assert not any(a in message for a in absent), message


def test_a_failure_without_session_facts_is_left_as_it_is():
    assert session_failure_message({"failed": True, "msg": "step 0 failed"}) is None


# ------------------------------------------------------------------ the .ps1's structure

SOURCE = MODULE_PS1.read_bytes()
TREE = parse(SOURCE)


def commands(tree) -> list:
    return [n for n in walk(tree.root_node) if n.type == "command"]


def command_name(node) -> str:
    name = node.child_by_field_name("command_name")
    return name.text.decode() if name is not None else ""


def arguments(node) -> list[tuple[str, str | None]]:
    """(-Parameter, the argument after it or None) for each parameter of a command."""
    elements = node.child_by_field_name("command_elements")
    named = [c for c in (elements.named_children if elements else []) if c.type != "command_argument_sep"]
    found = []
    for index, element in enumerate(named):
        if element.type == "command_parameter":
            following = named[index + 1] if index + 1 < len(named) and named[index + 1].type != "command_parameter" else None
            found.append((element.text.decode().rstrip(":"), following.text.decode() if following is not None else None))
    return found


def function_body(tree, name: str) -> str:
    for node in walk(tree.root_node):
        if node.type == "function_statement" and any(c.text.decode() == name for c in node.named_children if c.type == "function_name"):
            return node.text.decode()
    raise AssertionError(f"no function {name} in the payload")


def test_the_payload_never_calls_connect_exchangeserver_or_its_helpers():
    names = {command_name(c).lower() for c in commands(TREE)}
    assert not names & {"connect-exchangeserver", "_newexchangerunspace", "_openexchangerunspace", "read-host"}


def test_the_local_uri_asks_for_full_serialization_over_http():
    body = function_body(TREE, "Get-LocalSessionUri")
    assert '"http://$fqdn/powershell?serializationLevel=Full"' in body
    assert ";ExchClientVer=" in body and ";clientApplication=ManagementShell" in body
    strings = [n.text.decode() for n in walk(TREE.root_node) if n.type == "string_literal"]
    assert not [s for s in strings if "https://" in s.lower()], "the payload must never build an https:// URI"


def test_the_session_is_kerberos_to_the_exchange_endpoint_with_or_without_credentials():
    sessions = [c for c in commands(TREE) if command_name(c) == "New-PSSession"]
    assert len(sessions) == 2, [where(c) for c in sessions]
    with_credential = []
    for call in sessions:
        args = dict(arguments(call))
        assert (args.get("-ConfigurationName"), args.get("-ConnectionUri"), args.get("-Authentication"), args.get("-ErrorAction")) == (
            "Microsoft.Exchange", "$Uri", "Kerberos", "Stop"), f"New-PSSession at {where(call)}: {args}"
        with_credential.append(args.get("-Credential"))
    assert sorted(with_credential, key=str) == sorted([None, "$Credential"], key=str)
    imports = [c for c in commands(TREE) if command_name(c) == "Import-PSSession"]
    assert len(imports) == 1 and dict(arguments(imports[0])).get("-CommandName") == "$exchangeCmdlets"


# What keeps a record out of the runspace's error stream, which ansible-core's module_wrapper.ps1
# writes after the module's JSON as a second document: a caught exception, -ErrorAction
# SilentlyContinue or Ignore (the record goes to $Error only), or 2>$null. 'Continue' writes it.
QUIET = {"silentlycontinue", "ignore"}


def error_stream_problems(source: bytes) -> list[str]:
    tree = parse(source)
    problems = []
    for node in walk(tree.root_node):
        if node.type == "assignment_expression":
            left = node.named_children[0].text.decode().lower()
            value = node.child_by_field_name("value").text.decode().strip("'\" ").lower()
            if left == "$erroractionpreference" and value not in QUIET | {"stop"}:
                problems.append(f"$ErrorActionPreference = {value} at {where(node)}")
    for call in commands(tree):
        name = command_name(call).lower()
        args = arguments(call)
        actions = [(v or "").lower() for p, v in args if len(p) > 1 and ("-erroraction".startswith(p.lower()) or p.lower() == "-ea")]
        if name == "write-error":
            problems.append(f"Write-Error at {where(call)}")
        if any(a not in QUIET | {"stop"} for a in actions):
            problems.append(f"{command_name(call) or call.text.decode()[:30]} -ErrorAction {actions} at {where(call)}")
        # Microsoft's scripts and probes whose failure is tolerated must say so.
        elements = call.child_by_field_name("command_elements")
        tokens = [c.text.decode().replace(" ", "") for c in (elements.named_children if elements else [])]
        redirected = any(t in ("2>$null", "*>$null") for t in tokens)
        if call.child_by_field_name("command_name").type == "command_name_expr":
            # A script run with '.' or '&' (Microsoft's): its errors are tolerated, so they must be silenced.
            if not redirected and not actions:
                problems.append(f"script run without 2>$null or -ErrorAction at {where(call)}")
        elif name in ("get-command", "remove-pssession", "get-itemproperty") and not actions and not redirected:
            problems.append(f"{command_name(call)} without -ErrorAction at {where(call)}")
    return problems


def test_nothing_the_payload_tolerates_can_write_to_the_error_stream():
    assert error_stream_problems(SOURCE) == []


@pytest.mark.parametrize("snippet", [
    "$ErrorActionPreference = 'Continue'",
    ". $remoteExchange | Out-Null",
    "& $remoteExchange | Out-Null",
    "Get-Command -Name $names",
    "Get-PSSession | Remove-PSSession -ErrorAction Continue",
    "Get-ItemProperty -LiteralPath $key -ea Continue",
    "Write-Error 'x'",
])
def test_the_error_stream_check_catches_what_would_write_a_record(snippet):
    assert error_stream_problems(snippet.encode()), snippet


def test_the_microsoft_script_runs_silenced_and_the_preference_is_put_back():
    body = function_body(TREE, "Open-ExchangeSession")
    silenced = body.index("$ErrorActionPreference = 'SilentlyContinue'")
    dot_source = body.index("& $remoteExchange 2>$null")
    restored = body.index("$ErrorActionPreference = 'Stop'")
    assert silenced < dot_source < restored < body.index("New-PSSession")


def test_ansible_core_runs_modules_with_stop_and_reports_the_error_stream():
    # The premise of the rules above, in the installed ansible-core's own wrapper.
    import ansible
    wrapper = (Path(ansible.__file__).parent / "executor" / "powershell" / "module_wrapper.ps1").read_text()
    assert 'SetVariable("ErrorActionPreference", "Stop")' in wrapper
    assert "foreach ($err in $ps.Streams.Error)" in wrapper


# ------------------------------------------------------------------ run_batch, for every action module

class _Batch(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        raise NotImplementedError("these tests call run_batch directly")


def batch_action(answer: dict):
    action = object.__new__(_Batch)
    launched = []

    def execute_module(module_name, module_args, task_vars):
        launched.append(module_args)
        return answer

    action._execute_module = execute_module
    return action, launched


def test_run_batch_refuses_its_own_step_outside_the_allow_list_without_a_launch():
    action, launched = batch_action({"changed": False, "steps": []})
    with pytest.raises(AnsibleActionFail, match=r"internal error.*parameter 'SmartHosts' is not accepted"):
        action.run_batch([{"cmdlet": "Set-SendConnector", "parameters": {"Identity": "x", "SmartHosts": ["y"]}}], {}, {})
    assert launched == []


def test_run_batch_failures_say_what_a_failed_session_means():
    answer = failed(REMOTE, "AccessDenied,PSSessionOpenFailed", 5)
    action, launched = batch_action(answer)
    with pytest.raises(BatchFailed) as raised:
        action.run_batch([{"cmdlet": "Get-ExchangeServer", "parameters": {"Identity": "EX01"}}], {"session": "auto"}, {})
    assert len(launched) == 1
    assert raised.value.result["msg"].startswith(REMOTE + ". Access is denied (Win32 error 5)")
