# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_command.ps1 never turns a value into code.

tests/unit/plugins/modules/test_powershell.py already refuses Invoke-Expression/iex,
[scriptblock]::Create, InvokeScript/NewScriptBlock, AddScript, inline Add-Type
and computed '&'/'.' targets in every PowerShell file. This file adds what a
value-to-code path could still use in the payload, checked on its syntax tree
(tree-sitter-powershell), and the positive half: the command a step runs is a
command object resolved from the allow-list, never from the step's own text,
and it gets its parameters only by splatting one hashtable, so a value is
always one parameter's argument, whatever it contains (tests/hostile_corpus.py).
Each detector is shown to catch a snippet that does the forbidden thing.
"""

from __future__ import annotations

import re

import pytest

from .test_powershell import MODULE_PS1, code_from_strings, parse, walk, where, without_comments

# Text patterns (outside comments) that hand a string to a parser or a new runspace.
FORBIDDEN = {
    "ExpandString": re.compile(r"\.\s*ExpandString\s*\(", re.I),
    "[scriptblock]::Create": re.compile(r"\[\s*(?:System\.Management\.Automation\.)?ScriptBlock\s*\]\s*::\s*Create", re.I),
    "AddScript": re.compile(r"\.\s*AddScript\s*\(", re.I),
    "[PowerShell]::Create": re.compile(r"\[\s*(?:System\.Management\.Automation\.)?PowerShell\s*\]\s*::\s*Create", re.I),
    "a string-built cmdlet name ('Get-' + ...)": re.compile(r"""["'](?:Get|Set|Enable|Restart|New|Remove)-["']\s*\+""", re.I),
}
# Commands (by name, as the syntax tree has them) that run a string as code or in another process.
FORBIDDEN_COMMANDS = {
    "invoke-expression", "iex", "invoke-command", "icm", "start-job", "start-threadjob", "start-process", "saps",
    "start", "new-module", "nmo", "powershell", "pwsh", "cmd", "wscript", "cscript", "bash", "sh",
}
# What the step loop's invocation may pass besides the splat: fixed common parameters.
FIXED_ARGUMENTS = {("-ErrorAction", "Stop"), ("-WarningVariable", "stepWarnings")}


def text_findings(source: bytes) -> list[str]:
    tree = parse(source)
    text = without_comments(tree, source).decode("utf-8", "replace")
    found = []
    for label, pattern in FORBIDDEN.items():
        for match in pattern.finditer(text):
            found.append(f"{label} at line {text.count(chr(10), 0, match.start()) + 1}: {match.group().strip()!r}")
    for node in walk(tree.root_node):
        name = node.child_by_field_name("command_name") if node.type == "command" else None
        if name is not None and name.type == "command_name":
            bare = re.sub(r"\.exe$", "", name.text.decode().replace("\\", "/").rsplit("/", 1)[-1].lower())
            if bare in FORBIDDEN_COMMANDS:
                found.append(f"{name.text.decode()} at {where(node)}")
    return found


def invocation_findings(source: bytes) -> tuple[list[str], int]:
    """Every '& $command ...': only '@params' and the fixed common parameters. Returns (problems, invocations)."""
    tree = parse(source)
    found, seen = [], 0
    for node in walk(tree.root_node):
        if node.type != "command":
            continue
        name = node.child_by_field_name("command_name")
        if name is None or name.type != "command_name_expr":
            continue
        if name.text.decode().lower() != "$command":
            continue
        seen += 1
        elements = node.child_by_field_name("command_elements")
        items = [c for c in (elements.named_children if elements else []) if c.type != "command_argument_sep"]
        splats = [c for c in items if re.fullmatch(r"@\w+", c.text.decode())]
        rest = [c.text.decode() for c in items if c not in splats]
        pairs = set(zip(rest[::2], rest[1::2]))
        if len(splats) != 1 or len(rest) % 2 or not pairs <= FIXED_ARGUMENTS:
            found.append(f"& $command at {where(node)} passes {[c.text.decode() for c in items]}: "
                         f"expected one @splat and only {sorted(FIXED_ARGUMENTS)}")
    return found, seen


def resolution_findings(source: bytes) -> list[str]:
    """$command comes from Get-Command -Name $name, and $name only from the allow-list."""
    text = without_comments(parse(source), source).decode("utf-8", "replace")
    found = []
    commands = re.findall(r"\$command\s*=\s*([^\n]+)", text, re.I)
    if commands != ["Get-Command -Name $name -ErrorAction Stop"]:
        found.append(f"$command is assigned from {commands}, expected only Get-Command -Name $name")
    names = re.findall(r"\$name\s*=\s*([^\n]+)", text, re.I)
    allowed = "$allowedCmdlets | Where-Object { $_ -eq $step.cmdlet } | Select-Object -First 1"
    if sorted(set(names)) != sorted({allowed, "$names[$i]"}):
        found.append(f"$name is assigned from {names}, expected the allow-list entry equal to the step's cmdlet")
    if not re.search(r"\$names\.Add\(\$name\)", text):
        found.append("$names is not filled from the allow-list lookup")
    return found


@pytest.mark.reliability("Hostile input", "exchange_command.ps1 read for any path that turns a value into code")
def test_payload_never_turns_a_value_into_code(reliability):
    source = MODULE_PS1.read_bytes()
    problems = code_from_strings(source) + text_findings(source) + resolution_findings(source)
    invocation_problems, invocations = invocation_findings(source)
    assert invocations == 1, f"expected the one '& $command @params' of the step loop, found {invocations}"
    assert not problems + invocation_problems, "\n".join(problems + invocation_problems)
    reliability(len(FORBIDDEN) + len(FORBIDDEN_COMMANDS) + invocations + 3)


DETECTED = [
    ("$ExecutionContext.InvokeCommand.ExpandString($value)", text_findings),
    ("iex $value", text_findings),
    ("[ScriptBlock]::Create($value).Invoke()", text_findings),
    ("[powershell]::Create().AddScript($value).Invoke()", text_findings),
    ("Invoke-Command -ScriptBlock { param($v) $v } -ArgumentList $value", text_findings),
    ("Start-Process -FilePath $exe -ArgumentList $value", text_findings),
    ("powershell.exe -NoProfile -Command \"Set-ReceiveConnector -Identity '$value'\"", text_findings),
    ("cmd /c \"echo $value\"", text_findings),
    ("$m = New-Module -ScriptBlock $block", text_findings),
    ("$cmd = 'Get-' + $noun", text_findings),
    ("$live = & $command -Identity $value -ErrorAction Stop", lambda s: invocation_findings(s)[0]),
    ("$live = & $command @params $extra", lambda s: invocation_findings(s)[0]),
    ("$live = & $command @params -ErrorAction $value", lambda s: invocation_findings(s)[0]),
    ("$command = Get-Command -Name $step.cmdlet -ErrorAction Stop\n$name = $step.cmdlet", resolution_findings),
]


@pytest.mark.parametrize("snippet, detector", DETECTED, ids=[s for s, _d in DETECTED])
def test_detectors_catch_value_to_code(snippet, detector):
    assert detector(snippet.encode()), f"not detected: {snippet}"


def test_comments_do_not_count():
    assert not text_findings(b"# never Invoke-Expression, iex or ExpandString here\nGet-Date\n<# Start-Process #>")
