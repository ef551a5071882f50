"""WinRS command decoding: the command line a client sends (``powershell -EncodedCommand ...``) and,
for an Ansible module run, the exec manifest on stdin; plus the data types ``execute`` receives and returns.

The facts followed are in ``lab/docs/winrm.md``. Security: stdin of a module run carries the exec manifest,
whose ``secure_params`` can hold the become password in plain text; nothing here logs or keeps it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import typing as t


# --------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------


@dataclasses.dataclass
class ModuleRun:
    """An Ansible module run, decoded from the pipelined exec manifest on stdin."""

    script_name: str
    module_source: str = dataclasses.field(repr=False)
    module_args: dict
    check_mode: bool
    become: bool
    # The manifest's secure_params (become password) are never kept here.


@dataclasses.dataclass
class CommandRequest:
    """One WinRS command as the simulated server sees it."""

    command_line: str
    executable: str
    script: str | None
    # repr=False: stdin of a module run contains the become password in plain text.
    stdin: bytes = dataclasses.field(repr=False)
    module: ModuleRun | None


@dataclasses.dataclass
class CommandResult:
    stdout: str
    stderr: str = ""
    rc: int = 0


TRANSPORT_FAULT_KINDS = ("http_500", "connection_reset", "timeout", "auth_failure")


class TransportFault(Exception):
    """Raised by ``execute`` to make the Receive for the command misbehave.

    - ``http_500``: HTTP 500 with a generic (non-retryable) WSManFault;
    - ``connection_reset``: the TCP connection is reset without a response;
    - ``timeout``: the Receive is never answered (the client's read times out);
    - ``auth_failure``: HTTP 401.
    """

    def __init__(self, kind: str) -> None:
        if kind not in TRANSPORT_FAULT_KINDS:
            raise ValueError(f"unknown transport fault kind {kind!r}; expected one of {', '.join(TRANSPORT_FAULT_KINDS)}")
        super().__init__(kind)
        self.kind = kind


ExecuteFn = t.Callable[[CommandRequest], t.Awaitable[CommandResult]]


# --------------------------------------------------------------------------
# Command-line parsing (cmd.exe / CommandLineToArgvW / powershell.exe rules)
# --------------------------------------------------------------------------

_SWITCH_PREFIXES = ("-", "/", "\u2013", "\u2014", "\u2015")  # powershell.exe accepts dashes and '/'

# powershell.exe (Windows PowerShell 5.1) switches, in the order its parser
# tries them: (canonical name, smallest unambiguous prefix, alternate short form,
# kind). A switch matches when it is a prefix of the name at least as long as
# the smallest prefix, or equals the alternate form. kind: "flag" takes no
# value, "value" takes the next argument, "rest" consumes the remainder.
_PWSH_SWITCHES: tuple[tuple[str, str, str | None, str], ...] = (
    ("help", "h", "?", "flag"),
    ("noexit", "noe", None, "flag"),
    ("noprofile", "nop", None, "flag"),
    ("nologo", "nol", None, "flag"),
    ("noninteractive", "noni", None, "flag"),
    ("namedpipeservermode", "namedpipeservermode", None, "flag"),
    ("servermode", "s", None, "flag"),
    ("command", "c", None, "rest"),
    ("windowstyle", "w", None, "value"),
    ("file", "f", None, "rest"),
    ("executionpolicy", "ex", "ep", "value"),
    ("encodedcommand", "e", "ec", "value"),
    ("encodedarguments", "encodeda", "ea", "value"),
    ("inputformat", "in", "if", "value"),
    ("outputformat", "o", "of", "value"),
    ("version", "v", None, "value"),
    ("psconsolefile", "psc", None, "value"),
    ("configurationname", "config", None, "value"),
    ("mta", "mta", None, "flag"),
    ("sta", "sta", None, "flag"),
)


def _split_program(line: str) -> tuple[str, str]:
    """Split off the program name the way CreateProcess/CommandLineToArgvW do."""
    line = line.lstrip(" \t")
    if line.startswith('"'):
        end = line.find('"', 1)
        if end == -1:
            return line[1:], ""
        return line[1:end], line[end + 1:]
    m = re.match(r"[^ \t]*", line)
    assert m is not None
    return m.group(0), line[m.end():]


def _argv_split(args: str) -> list[str]:
    """Split arguments like the Microsoft C runtime (CommandLineToArgvW) does."""
    argv: list[str] = []
    i, n = 0, len(args)
    while True:
        while i < n and args[i] in " \t":
            i += 1
        if i >= n:
            return argv
        cur: list[str] = []
        in_quotes = False
        while i < n:
            c = args[i]
            if c == "\\":
                j = i
                while j < n and args[j] == "\\":
                    j += 1
                count = j - i
                if j < n and args[j] == '"':
                    cur.append("\\" * (count // 2))
                    if count % 2:
                        cur.append('"')
                        i = j + 1
                    else:
                        i = j
                    continue
                cur.append("\\" * count)
                i = j
                continue
            if c == '"':
                if in_quotes and i + 1 < n and args[i + 1] == '"':
                    cur.append('"')
                    i += 2
                    continue
                in_quotes = not in_quotes
                i += 1
                continue
            if c in " \t" and not in_quotes:
                break
            cur.append(c)
            i += 1
        argv.append("".join(cur))


def _match_pwsh_switch(token: str) -> tuple[str, str] | None:
    if len(token) < 2 or not token.startswith(_SWITCH_PREFIXES):
        return None
    key = token[1:].lower()
    for name, smallest, alt, kind in _PWSH_SWITCHES:
        if (name.startswith(key) and len(key) >= len(smallest)) or key == alt:
            return name, kind
    return None


def _decode_encoded_command(value: str) -> str | None:
    value = value.strip()
    # 2.21 with ansible_shell_type=powershell quotes the value ('<b64>'); a real
    # powershell.exe would reject that, the lab decodes it anyway.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    try:
        raw = base64.b64decode(value, validate=True)
        return raw.decode("utf-16-le")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def parse_command_line(command_line: str) -> tuple[str, str | None]:
    """Return (executable, decoded -EncodedCommand script or None).

    The executable is the program name as CreateProcess sees it (quotes
    removed), reduced to its lower-cased basename without ``.exe``.
    """
    program, rest = _split_program(command_line)
    base = re.split(r"[\\/]", program)[-1].lower()
    if base.endswith(".exe"):
        base = base[:-4]
    if base not in ("powershell", "pwsh"):
        return base, None
    argv = _argv_split(rest)
    i = 0
    while i < len(argv):
        match = _match_pwsh_switch(argv[i])
        if match is None:
            return base, None  # a bare argument: powershell treats the rest as -Command
        name, kind = match
        if kind == "rest":
            return base, None
        if kind == "value":
            if i + 1 >= len(argv):
                return base, None
            if name == "encodedcommand":
                return base, _decode_encoded_command(argv[i + 1])
            i += 2
            continue
        i += 1
    return base, None


# --------------------------------------------------------------------------
# Ansible module run decoding
# --------------------------------------------------------------------------

_NUL_LINE = "\0\0\0\0"


def parse_module_run(stdin: bytes) -> ModuleRun | None:
    """Decode Ansible's pipelined PowerShell module run from a command's stdin.

    stdin is ``<bootstrap JSON>\\n\\0\\0\\0\\0\\n<exec manifest JSON>`` (read line
    by line by bootstrap_wrapper.ps1/exec_wrapper.ps1; a line of four NUL
    characters ends a segment). Returns None when stdin is anything else.
    ``secure_params`` (become password) are deliberately not read.
    """
    if not stdin or b"\0\0\0\0" not in stdin:
        return None
    try:
        text = stdin.decode("utf-8")
    except UnicodeDecodeError:
        return None

    segments: list[list[str]] = [[]]
    for line in re.split(r"\r\n|\r|\n", text):
        if line == _NUL_LINE:
            segments.append([])
        else:
            segments[-1].append(line)
    if len(segments) < 2:
        return None

    try:
        bootstrap = json.loads("\n".join(segments[0]))
        manifest = json.loads("\n".join(segments[1]))
    except ValueError:
        return None
    if not isinstance(bootstrap, dict) or bootstrap.get("name") != "exec_wrapper":
        return None
    if not isinstance(manifest, dict):
        return None
    actions = manifest.get("actions")
    scripts = manifest.get("scripts")
    if not isinstance(actions, list) or not actions or not isinstance(scripts, dict):
        return None
    if not all(isinstance(a, dict) for a in actions):
        return None

    last = actions[-1]
    if last.get("name") != "module_wrapper.ps1":
        return None
    params = last.get("params")
    if not isinstance(params, dict):
        return None
    script_name = params.get("Script")
    if not isinstance(script_name, str) or not script_name:
        return None
    script_info = scripts.get(script_name)
    if not isinstance(script_info, dict) or not isinstance(script_info.get("script"), str):
        return None
    try:
        module_source = base64.b64decode(script_info["script"], validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None

    variables = params.get("Variables")
    if not isinstance(variables, list):
        return None
    module_args = None
    for var in variables:
        if isinstance(var, dict) and var.get("Name") == "complex_args":
            module_args = var.get("Value")
            break
    if not isinstance(module_args, dict):
        return None

    return ModuleRun(
        script_name=script_name,
        module_source=module_source,
        module_args=module_args,
        check_mode=bool(module_args.get("_ansible_check_mode", False)),
        become=any(a.get("name") == "become_wrapper.ps1" for a in actions),
    )

