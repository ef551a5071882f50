"""Tests for exchange_lab.winrm: the WinRS endpoint a simulated server answers on.

Real clients talk to it: pywinrm directly, and ansible-playbook (both the 2.21
and the 2.19 virtualenvs) through its winrm connection plugin. No
pytest-asyncio: each test's servers run on an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import os
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from exchange_lab.winrm import (
    CommandRequest,
    CommandResult,
    ModuleRun,
    TransportFault,
    WinRMServer,
    parse_command_line,
    parse_iso8601_duration,
    parse_module_run,
)

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "lab-admin", "Pa55w0rd!"
BECOME_SECRET = "s3cret"
PS_NOT_RECOGNIZED = (
    "The term 'Get-Date' is not recognized as the name of a cmdlet, function, script file, or operable program. "
    "Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
)


def b64_utf16(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


# --------------------------------------------------------------------------
# Fixtures: a background event loop and a server factory
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop():
    lp = asyncio.new_event_loop()
    thread = threading.Thread(target=lp.run_forever, name="winrm-lab-loop", daemon=True)
    thread.start()
    yield lp
    lp.call_soon_threadsafe(lp.stop)
    thread.join(5)
    lp.close()


@pytest.fixture
def serve(loop):
    """serve(execute, **kwargs) -> started WinRMServer; stopped at teardown."""
    servers: list[WinRMServer] = []

    def _serve(execute, **kwargs) -> WinRMServer:
        server = WinRMServer(kwargs.pop("name", "EX01"), USER, PASSWORD, execute, **kwargs)
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)


class Recorder:
    """An execute() that records requests and answers like a host without Get-Date."""

    def __init__(self, result: CommandResult | None = None) -> None:
        self.requests: list[CommandRequest] = []
        self.result = result or CommandResult(stdout="", stderr=PS_NOT_RECOGNIZED, rc=1)

    async def __call__(self, request: CommandRequest) -> CommandResult:
        self.requests.append(request)
        return self.result


# http, so no certificate to validate; proxy=None so no *_proxy variable reroutes 127.0.0.1.
CLIENT_OPTIONS = {"transport": "basic", "server_cert_validation": "ignore", "proxy": None}


def session(server: WinRMServer, password: str = PASSWORD, **kwargs) -> winrm.Session:
    return winrm.Session(server.url, auth=(USER, password), **CLIENT_OPTIONS, **kwargs)


def protocol(server: WinRMServer, **kwargs) -> Protocol:
    return Protocol(server.url, username=USER, password=PASSWORD, **CLIENT_OPTIONS, **kwargs)


# --------------------------------------------------------------------------
# parse_module_run (pure)
# --------------------------------------------------------------------------

MODULE_SOURCE = "#!powershell\r\n#AnsibleRequires -CSharpUtil Ansible.Basic\r\n# caf\u00e9\r\n$module = 1\r\n"


def make_stdin(
    *,
    become: bool = False,
    check_mode: bool = False,
    script_name: str = "ansible_collections.exchange.transport_tls.plugins.modules.exchange_command.ps1",
    source: str = MODULE_SOURCE,
    newline: str = "\n",
    extra_input: str | None = None,
) -> bytes:
    """Build stdin shaped like ansible.executor.powershell.module_manifest produces."""
    bootstrap = {"name": "exec_wrapper", "script": "exec wrapper source", "params": {"MinOSVersion": None}}
    actions = []
    scripts = {
        "module_wrapper.ps1": {"path": "module_wrapper.ps1", "script": base64.b64encode(b"wrapper").decode()},
        script_name: {"path": "/x/" + script_name, "script": base64.b64encode(source.encode()).decode()},
    }
    if become:
        actions.append({"name": "become_wrapper.ps1", "params": {"BecomeUser": "x"},
                        "secure_params": {"BecomePassword": BECOME_SECRET}})
    args = {"steps": [{"cmdlet": "Get-ExchangeCertificate"}], "_ansible_check_mode": check_mode,
            "_ansible_module_name": "exchange_command"}
    actions.append({
        "name": "module_wrapper.ps1",
        "params": {"Script": script_name, "Environment": {},
                   "Variables": [{"Name": "complex_args", "Value": args, "Scope": "Global"}],
                   "CSharpModules": ["Ansible.Basic.cs"], "PowerShellModules": [], "ForModule": True},
        "secure_params": {},
    })
    manifest = {"scripts": scripts, "actions": actions, "signed_hashlist": []}
    text = f"{json.dumps(bootstrap)}{newline}\0\0\0\0{newline}{json.dumps(manifest)}"
    if extra_input is not None:
        text += f"{newline}\0\0\0\0{newline}{extra_input}"
    return text.encode()


def test_parse_module_run_decodes_the_manifest():
    run = parse_module_run(make_stdin())
    assert isinstance(run, ModuleRun)
    assert run.script_name == "ansible_collections.exchange.transport_tls.plugins.modules.exchange_command.ps1"
    assert run.module_source == MODULE_SOURCE
    assert run.module_args["steps"] == [{"cmdlet": "Get-ExchangeCertificate"}]
    assert run.module_args["_ansible_check_mode"] is False
    assert run.check_mode is False
    assert run.become is False


def test_parse_module_run_check_mode_and_become_without_keeping_secrets():
    stdin = make_stdin(become=True, check_mode=True)
    assert BECOME_SECRET.encode() in stdin  # the manifest does carry it...
    run = parse_module_run(stdin)
    assert run is not None and run.check_mode is True and run.become is True
    # ...the decoded run does not.
    assert BECOME_SECRET not in repr(run) and BECOME_SECRET not in json.dumps(vars(run), default=str)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_parse_module_run_tolerates_line_endings_and_trailing_input(newline):
    run = parse_module_run(make_stdin(newline=newline, extra_input="piped input"))
    assert run is not None and run.module_source == MODULE_SOURCE


@pytest.mark.parametrize(
    "stdin",
    [
        b"",
        b"Get-Date\r\n",
        b"\xff\xfe\x00garbage\0\0\0\0",
        make_stdin().split(b"\n\0\0\0\0\n")[0],  # bootstrap only
        make_stdin().replace(b'"exec_wrapper"', b'"something_else"'),
        make_stdin().replace(b'"module_wrapper.ps1", "params"', b'"async_wrapper.ps1", "params"'),
        make_stdin().replace(b'"complex_args"', b'"other_var"'),
        make_stdin()[:-5],  # truncated JSON
        make_stdin(script_name="a.ps1").replace(b'"a.ps1": {', b'"b.ps1": {'),  # script missing
        make_stdin(source="x").replace(base64.b64encode(b"x"), b"!!!notbase64"),
    ],
    ids=["empty", "plain", "binary", "bootstrap-only", "not-exec-wrapper", "last-not-module",
         "no-complex-args", "truncated", "script-missing", "bad-base64"],
)
def test_parse_module_run_returns_none_for_anything_else(stdin):
    assert parse_module_run(stdin) is None


# --------------------------------------------------------------------------
# Command-line parsing (pure)
# --------------------------------------------------------------------------

ENC = b64_utf16("Get-Date")


@pytest.mark.parametrize(
    "line, executable, script",
    [
        (f"powershell -encodedcommand {ENC}", "powershell", "Get-Date"),  # pywinrm run_ps
        (f"PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand {ENC}",
         "powershell", "Get-Date"),  # ansible 2.19
        (f"powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand '{ENC}'",
         "powershell", "Get-Date"),  # ansible 2.21 with ansible_shell_type=powershell
        (f'"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoProfile -enc {ENC}',
         "powershell", "Get-Date"),
        (f"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\POWERSHELL.EXE -e {ENC}", "powershell", "Get-Date"),
        (f"powershell -ec {ENC}", "powershell", "Get-Date"),
        (f"powershell /EncodedCommand {ENC}", "powershell", "Get-Date"),
        (f"powershell -ex bypass -InputFormat None -ENC {ENC} -EncodedArguments AAAA", "powershell", "Get-Date"),
        (f"pwsh.exe -NoLogo -EncodedCommand {ENC}", "pwsh", "Get-Date"),
        (f"powershell -Command -e {ENC}", "powershell", None),  # after -Command everything is the command
        (f"powershell Get-Date -e {ENC}", "powershell", None),
        ("powershell -EncodedCommand not*base64", "powershell", None),
        ("powershell -EncodedCommand", "powershell", None),
        ("ipconfig", "ipconfig", None),
        ("ipconfig /all", "ipconfig", None),
        (f"cmd.exe /c powershell -enc {ENC}", "cmd", None),
        ("", "", None),
    ],
)
def test_parse_command_line(line, executable, script):
    assert parse_command_line(line) == (executable, script)


@pytest.mark.parametrize(
    "value, seconds",
    [("PT20S", 20.0), ("PT20.000S", 20.0), ("PT1.5S", 1.5), ("PT1M", 60.0), ("P0DT1H0M0S", 3600.0),
     ("garbage", 60.0), (None, 60.0)],
)
def test_parse_iso8601_duration(value, seconds):
    assert parse_iso8601_duration(value) == seconds


def test_transport_fault_rejects_unknown_kinds():
    assert TransportFault("timeout").kind == "timeout"
    with pytest.raises(ValueError):
        TransportFault("dns_failure")


# --------------------------------------------------------------------------
# pywinrm against the endpoint
# --------------------------------------------------------------------------


def test_run_ps_and_run_cmd_see_the_powershell_error(serve):
    rec = Recorder()
    server = serve(rec)
    s = session(server)

    r = s.run_ps("Get-Date")
    assert r.status_code == 1
    assert r.std_out == b""
    assert r.std_err.decode() == PS_NOT_RECOGNIZED

    r = s.run_cmd("ipconfig")
    assert (r.status_code, r.std_err.decode()) == (1, PS_NOT_RECOGNIZED)

    ps, cmd = rec.requests
    assert ps.executable == "powershell" and ps.script == "Get-Date" and ps.stdin == b"" and ps.module is None
    assert ps.command_line == f"powershell -encodedcommand {ENC}"
    assert (cmd.command_line, cmd.executable, cmd.script) == ("ipconfig", "ipconfig", None)
    r = s.run_cmd("ipconfig", ["/all"])  # Command + " " + Arguments
    assert rec.requests[-1].command_line == "ipconfig /all"
    assert server.commands == 3


def test_command_line_longer_than_cmd_exe_allows(serve):
    rec = Recorder(CommandResult(stdout="ran"))
    server = serve(rec)
    r = session(server).run_cmd("echo", ["x" * 8186])  # 8,191 characters: fine
    assert (r.status_code, r.std_out) == (0, b"ran")
    r = session(server).run_cmd("echo", ["x" * 8187])
    assert (r.status_code, r.std_out, r.std_err) == (1, b"", b"The command line is too long.\r\n")
    assert len(rec.requests) == 1 and server.commands == 1  # the program never started
    p = protocol(server)  # WINRS_SKIP_CMD_SHELL: no cmd.exe, no limit
    shell_id = p.open_shell()
    command_id = p.run_command(shell_id, "echo", ["x" * 9000], skip_cmd_shell=True)
    assert p.get_command_output(shell_id, command_id) == (b"ran", b"", 0)
    p.cleanup_command(shell_id, command_id)
    p.close_shell(shell_id)


def test_wrong_password_is_rejected(serve):
    server = serve(Recorder())
    with pytest.raises(InvalidCredentialsError):
        session(server, password="wrong").run_ps("Get-Date")
    assert server.commands == 0


def test_http_layer(serve):
    server = serve(Recorder())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/wsman")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 404

    # Same connection (keep-alive): no credentials -> 401 with the Basic challenge.
    conn.request("POST", "/wsman", body=b"<x/>", headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="WSMAN"'

    # Unknown action -> SOAP fault, HTTP 500, with a clear message and RelatesTo.
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
        "<a:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</a:Action>"
        "<a:MessageID>uuid:11111111-2222-3333-4444-555555555555</a:MessageID>"
        "</s:Header><s:Body/></s:Envelope>"
    )
    conn.request("POST", "/wsman", body=envelope.encode(), headers={"Authorization": auth})
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 500
    assert resp.getheader("Content-Type") == "application/soap+xml;charset=UTF-8"
    assert "Enumerate is not supported" in text
    assert "<a:RelatesTo>uuid:11111111-2222-3333-4444-555555555555</a:RelatesTo>" in text
    conn.close()


def test_unknown_shell_gives_the_windows_fault(serve):
    server = serve(Recorder())
    p = protocol(server)
    with pytest.raises(WSManFaultError) as info:
        p.run_command("C0FFEE00-0000-0000-0000-000000000000", "ipconfig")
    assert info.value.code == 500
    assert info.value.wsman_fault_code == 2150858843
    assert "ShellId C0FFEE00-0000-0000-0000-000000000000 failed because the shell was not found" in info.value.reason


def test_slow_command_completes_through_operation_timeout_retries(serve):
    async def slow(request: CommandRequest) -> CommandResult:
        await asyncio.sleep(3)
        return CommandResult(stdout="done\r\n", rc=0)

    server = serve(slow)
    p = protocol(server, operation_timeout_sec=1, read_timeout_sec=2)
    shell_id = p.open_shell()
    command_id = p.run_command(shell_id, "powershell", ["-EncodedCommand", b64_utf16("Start-Sleep 3")])
    started = time.monotonic()
    with pytest.raises(WinRMOperationTimeoutError):  # the retryable 2150858793 fault
        p.get_command_output_raw(shell_id, command_id)
    assert 0.9 < time.monotonic() - started < 2
    assert p.get_command_output(shell_id, command_id) == (b"done\r\n", b"", 0)
    assert time.monotonic() - started >= 2.9
    p.cleanup_command(shell_id, command_id)  # Signal after Done
    p.close_shell(shell_id)


def test_large_output_arrives_intact_in_envelope_sized_pieces(serve):
    big = "".join(f"line {i:06d} caf\u00e9 \u2713\r\n" for i in range(50_000))  # ~1.1 MB
    rec = Recorder(CommandResult(stdout=big, stderr="warn\u00e9", rc=0))
    server = serve(rec)

    p = protocol(server)
    shell_id = p.open_shell(codepage=65001)
    command_id = p.run_command(shell_id, "powershell", ["-EncodedCommand", b64_utf16("big")])
    first_out, _, _, done = p.get_command_output_raw(shell_id, command_id)
    assert not done and 0 < len(first_out) < 153600  # honours MaxEnvelopeSize
    rest_out, err, rc = p.get_command_output(shell_id, command_id)
    assert (first_out + rest_out).decode("utf-8") == big
    assert (err.decode("utf-8"), rc) == ("warn\u00e9", 0)
    p.cleanup_command(shell_id, command_id)
    p.close_shell(shell_id)

    # pywinrm's run_ps opens the shell with code page 437: output is encoded in it.
    r = session(server).run_ps("big")
    assert r.std_out == big.encode("cp437", errors="replace")


def test_stdin_is_collected_and_the_command_runs_at_end(serve):
    rec = Recorder(CommandResult(stdout="ok"))
    server = serve(rec)
    p = protocol(server)
    shell_id = p.open_shell(codepage=65001)
    command_id = p.run_command(shell_id, "powershell", ["-NoProfile", "-"], console_mode_stdin=False)
    payload = os.urandom(450_000)
    p.send_command_input(shell_id, command_id, payload[:200_000])
    p.send_command_input(shell_id, command_id, payload[200_000:400_000])
    assert server.commands == 0  # stdin not complete: not started
    p.send_command_input(shell_id, command_id, payload[400_000:], end=True)
    assert p.get_command_output(shell_id, command_id) == (b"ok", b"", 0)
    assert rec.requests[0].stdin == payload
    assert rec.requests[0].module is None
    assert "stdin" not in repr(rec.requests[0])
    p.cleanup_command(shell_id, command_id)
    p.close_shell(shell_id)


def test_signal_terminates_a_running_command(serve):
    cancelled = threading.Event()

    async def forever(request: CommandRequest) -> CommandResult:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return CommandResult("")

    server = serve(forever)
    p = protocol(server, operation_timeout_sec=1, read_timeout_sec=2)
    shell_id = p.open_shell()
    command_id = p.run_command(shell_id, "ping", ["-t", "localhost"])
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell_id, command_id)
    p.cleanup_command(shell_id, command_id)
    assert cancelled.wait(5)
    p.close_shell(shell_id)


FAULT_SCRIPT_PREFIX = "fault:"


async def faulty(request: CommandRequest) -> CommandResult:
    if request.script and request.script.startswith(FAULT_SCRIPT_PREFIX):
        raise TransportFault(request.script[len(FAULT_SCRIPT_PREFIX):])
    return CommandResult(stdout="fine\r\n")


def test_fault_http_500_is_a_non_retryable_wsman_fault(serve):
    server = serve(faulty)
    with pytest.raises(WSManFaultError) as info:
        session(server).run_ps("fault:http_500")
    assert not isinstance(info.value, WinRMOperationTimeoutError)
    assert info.value.code == 500
    assert info.value.wsman_fault_code not in (None, 2150858793)
    assert "Bad HTTP response returned from server. Code 500" in str(info.value)
    assert session(server).run_ps("ok").std_out == b"fine\r\n"  # the server is still fine


def test_fault_connection_reset(serve):
    server = serve(faulty)
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        session(server).run_ps("fault:connection_reset")
    assert "Connection aborted" in str(info.value) or "reset" in str(info.value).lower()
    assert session(server).run_ps("ok").status_code == 0


def test_fault_auth_failure(serve):
    server = serve(faulty)
    with pytest.raises(InvalidCredentialsError, match="the specified credentials were rejected by the server"):
        session(server).run_ps("fault:auth_failure")


def test_fault_timeout_holds_the_receive_without_blocking_others(serve):
    server = serve(faulty)
    outcome: dict[str, object] = {}

    def victim() -> None:
        started = time.monotonic()
        try:
            session(server, operation_timeout_sec=1, read_timeout_sec=2).run_ps("fault:timeout")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcome["exc"] = exc
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=victim)
    thread.start()
    time.sleep(0.3)
    # Meanwhile another client is served normally.
    assert session(server).run_ps("ok").std_out == b"fine\r\n"
    thread.join(10)
    assert isinstance(outcome["exc"], requests.exceptions.ReadTimeout)
    assert "Read timed out" in str(outcome["exc"])
    assert 1.9 <= outcome["elapsed"] < 5


# --------------------------------------------------------------------------
# Real ansible-playbook runs (2.21 and 2.19 virtualenvs)
# --------------------------------------------------------------------------

VENVS = {"ansible-2.21": REPO / ".venv", "ansible-2.19": REPO / ".venv-2.19"}

ECHO_MODULE = (
    b"#!powershell\r\n"
    b"# exchange-lab test module (CRLF line endings and UTF-8 on purpose: caf\xc3\xa9)\r\n"
    b"#AnsibleRequires -CSharpUtil Ansible.Basic\r\n"
    b"\r\n"
    b"$spec = @{\r\n"
    b"    options = @{ msg = @{ type = 'str'; required = $true } }\r\n"
    b"    supports_check_mode = $true\r\n"
    b"}\r\n"
    b"$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)\r\n"
    b"$module.Result.echo = $module.Params.msg\r\n"
    b"$module.ExitJson()\r\n"
)

# Old-style module: Ansible replaces this marker line before sending the module.
LEGACY_MODULE = b"#!powershell\n# POWERSHELL_COMMON\n$params = Parse-Args $args\nExit-Json @{ echo = 'legacy' }\n"

PLAYBOOK = textwrap.dedent(
    """\
    - hosts: ex01
      gather_facts: false
      tasks:
        - name: module run
          test_echo:
            msg: "hello w\u00f6rld"
          register: echo

        - assert:
            that: echo.echo == "hello w\u00f6rld"

        - name: legacy module run
          test_legacy:
            msg: legacy

        - name: raw
          raw: Get-Date
          register: raw_result
          ignore_errors: true

        - assert:
            that:
              - raw_result.rc == 1
              - raw_result.stderr is search("The term 'Get-Date' is not recognized as the name of a cmdlet")
          when: not ansible_check_mode

        - assert:
            that: raw_result is skipped
          when: ansible_check_mode

        - name: module run with become
          test_echo:
            msg: as-admin
          become: true
          become_method: runas
          become_user: x
          vars:
            ansible_become_password: s3cret
    """
)


@pytest.fixture(params=list(VENVS), ids=list(VENVS))
def ansible_venv(request) -> Path:
    venv = VENVS[request.param]
    if not (venv / "bin" / "ansible-playbook").exists():
        pytest.skip(f"{venv} does not exist")
    return venv


class AnsibleHost:
    """execute() for the playbook: answers module runs with JSON, everything else like a host without Get-Date."""

    def __init__(self) -> None:
        self.requests: list[CommandRequest] = []

    async def __call__(self, request: CommandRequest) -> CommandResult:
        self.requests.append(request)
        if request.module is not None:
            return CommandResult(stdout=json.dumps({"changed": False, "echo": request.module.module_args.get("msg")}))
        return CommandResult(stdout="", stderr=PS_NOT_RECOGNIZED, rc=1)

    @property
    def module_runs(self) -> list[ModuleRun]:
        return [r.module for r in self.requests if r.module is not None]


def run_playbook(venv: Path, tmp_path: Path, server: WinRMServer, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "library" / "test_echo.ps1").write_bytes(ECHO_MODULE)
    (tmp_path / "library" / "test_legacy.ps1").write_bytes(LEGACY_MODULE)
    (tmp_path / "site.yml").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = False\n")
    # ansible_shell_type deliberately unset (see lab/docs/winrm.md).
    (tmp_path / "inventory.ini").write_text(
        f"ex01 ansible_connection=winrm ansible_host=127.0.0.1 ansible_port={server.port} "
        f"ansible_user={USER} ansible_password={PASSWORD} ansible_winrm_scheme=http "
        "ansible_winrm_transport=basic ansible_winrm_server_cert_validation=ignore\n"
    )
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ANSIBLE_") and not k.lower().endswith("_proxy")}
    env.update(
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "local-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    return subprocess.run(
        [str(venv / "bin" / "ansible-playbook"), "-i", str(tmp_path / "inventory.ini"), str(tmp_path / "site.yml"),
         *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )


def _check_common(proc, host: AnsibleHost, caplog, check_mode: bool) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = host.module_runs
    assert [r.module_args["msg"] for r in runs] == ["hello w\u00f6rld", "legacy", "as-admin"]
    echo, legacy, become = runs

    assert echo.script_name == "ansible.legacy.test_echo.ps1"
    # Sent unmodified: byte for byte the file on disk (CRLF, UTF-8).
    assert echo.module_source.encode("utf-8") == ECHO_MODULE
    assert legacy.script_name == "ansible.legacy.test_legacy.ps1"
    # ...except that module_common replaces the old "# POWERSHELL_COMMON" marker.
    assert legacy.module_source.encode() == LEGACY_MODULE.replace(
        b"# POWERSHELL_COMMON", b"#AnsibleRequires -PowerShell Ansible.ModuleUtils.Legacy")

    for run in runs:
        assert run.module_args["_ansible_check_mode"] is check_mode
        assert run.check_mode is check_mode
    assert (echo.become, legacy.become, become.become) == (False, False, True)

    # Every module run is pipelined to the bootstrap wrapper on stdin; its command line
    # is powershell -EncodedCommand <bootstrap_wrapper.ps1>.
    for req in host.requests:
        assert req.executable == "powershell"
        assert req.script is not None
        if req.module is not None:
            assert "$InputFile" in req.script or "ConvertFrom-Json" in req.script

    # The become password travels in stdin (the manifest's secure_params) ...
    become_req = next(r for r in host.requests if r.module is become)
    assert BECOME_SECRET.encode() in become_req.stdin
    # ... but the server logs nothing of it, and keeps nothing of it.
    assert caplog.records, "expected the endpoint's debug log to be captured"
    assert BECOME_SECRET not in caplog.text
    assert all(BECOME_SECRET not in repr(r) for r in host.requests)
    assert not server_state_mentions(BECOME_SECRET, host)


def server_state_mentions(secret: str, host: AnsibleHost) -> bool:
    server = host.server  # type: ignore[attr-defined]
    return secret in repr(vars(server)) or any(secret in repr(vars(s)) for s in server._shells.values())


@pytest.mark.ansible
def test_ansible_playbook(ansible_venv, tmp_path, serve, caplog):
    caplog.set_level(logging.DEBUG, logger="exchange_lab")
    host = AnsibleHost()
    host.server = serve(host)  # type: ignore[attr-defined]
    proc = run_playbook(ansible_venv, tmp_path, host.server)
    _check_common(proc, host, caplog, check_mode=False)

    raw = [r for r in host.requests if r.module is None]
    assert len(raw) == 1 and raw[0].script == "Get-Date" and raw[0].stdin == b""
    assert raw[0].command_line.lower().startswith("powershell -noprofile -noninteractive -executionpolicy unrestricted")
    assert "-EncodedCommand " in raw[0].command_line
    assert host.server.commands == 4
    assert not host.server._shells  # Ansible deletes its shells


@pytest.mark.ansible
def test_ansible_playbook_check_mode(ansible_venv, tmp_path, serve, caplog):
    caplog.set_level(logging.DEBUG, logger="exchange_lab")
    host = AnsibleHost()
    host.server = serve(host)  # type: ignore[attr-defined]
    proc = run_playbook(ansible_venv, tmp_path, host.server, "--check")
    _check_common(proc, host, caplog, check_mode=True)
    assert all(r.module is not None for r in host.requests)  # raw is skipped before it is sent
