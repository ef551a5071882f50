"""The WS-Management layer: namespaces, action URIs, SOAP faults, and the remote shells
(Create, Command, Send, Receive, Signal, Delete of the ``windows/shell/cmd`` resource).

The facts followed are in ``lab/docs/winrm.md``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import contextlib
import dataclasses
import logging
import re
import typing as t
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_quoteattr

from .winrs import CommandRequest, CommandResult, TransportFault, parse_command_line, parse_module_run

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Namespaces and action URIs
# --------------------------------------------------------------------------

NS_S = "http://www.w3.org/2003/05/soap-envelope"
NS_A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_X = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_P = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

RESOURCE_URI_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = NS_RSP + "/Command"
ACTION_SEND = NS_RSP + "/Send"
ACTION_RECEIVE = NS_RSP + "/Receive"
ACTION_SIGNAL = NS_RSP + "/Signal"
ACTION_WSMAN_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ACTION_ADDRESSING_FAULT = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"

STATE_DONE = NS_RSP + "/CommandState/Done"
STATE_RUNNING = NS_RSP + "/CommandState/Running"

# WSManFault codes a real Windows server uses.
FAULT_OPERATION_TIMEOUT = 2150858793  # 0x80338029, clients retry the Receive
FAULT_SHELL_NOT_FOUND = 2150858843  # 0x8033805B
FAULT_INTERNAL_ERROR = 2147500037  # 0x80004005 E_FAIL: generic, not retried
FAULT_ACTION_NOT_SUPPORTED = 2150858771  # 0x80338013
FAULT_INVALID_PARAMETER = 2147942487  # 0x80070057 ERROR_INVALID_PARAMETER

CMD_EXE_MAX_LINE = 8191  # cmd.exe's command-line limit (WinRS runs commands through cmd.exe)

_SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_DEFAULT_MAX_ENVELOPE = 153600
_ENVELOPE_OVERHEAD = 4096  # room for the SOAP header and CommandState


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

_DURATION_RE = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_iso8601_duration(value: str | None, default: float = 60.0) -> float:
    """Parse an xs:duration such as ``PT20.000S`` into seconds."""
    if not value:
        return default
    m = _DURATION_RE.match(value.strip())
    if not m or not any(m.groupdict().values()):
        return default
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _codec_for_codepage(codepage: int) -> str:
    if codepage == 65001:
        return "utf-8"
    name = f"cp{codepage}"
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name


def _uuid() -> str:
    return str(uuid.uuid4()).upper()


def _q(tag: str, ns: str) -> str:
    return f"{{{ns}}}{tag}"


class _SoapFault(Exception):
    """A WS-Management fault to answer with (HTTP 500)."""

    def __init__(
        self,
        message: str,
        *,
        wsman_code: int,
        code: str = "s:Receiver",
        subcode: str = "w:InternalError",
        action: str = ACTION_WSMAN_FAULT,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.wsman_code = wsman_code
        self.code = code
        self.subcode = subcode
        self.action = action


class _Hold:
    """Sentinel: never answer this request (simulated timeout)."""


class _Reset:
    """Sentinel: reset the TCP connection without an answer."""


class _Unauthorized:
    """Sentinel: answer 401."""


_HOLD = _Hold()
_RESET = _Reset()
_UNAUTHORIZED = _Unauthorized()


# --------------------------------------------------------------------------
# Shell state
# --------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Command:
    command_id: str
    command_line: str
    encoding: str
    stdin_chunks: list[bytes] = dataclasses.field(default_factory=list, repr=False)
    stdin_sent: bool = False  # at least one Send arrived
    stdin_closed: bool = False  # a Send with End="true" arrived
    task: asyncio.Task | None = None
    fault: TransportFault | None = None
    internal_error: str | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    rc: int = 0
    out_pos: int = 0
    err_pos: int = 0
    via_cmd_shell: bool = True  # WinRS runs the line through cmd.exe unless WINRS_SKIP_CMD_SHELL

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()


@dataclasses.dataclass(eq=False)
class _Shell:
    shell_id: str
    codepage: int
    encoding: str
    commands: dict[str, _Command] = dataclasses.field(default_factory=dict)




class WSManShells:
    """The WS-Man shells of one endpoint: Create/Command/Send/Receive/Signal/Delete of the cmd resource.

    Mixed into :class:`.endpoint.WinRMServer`, which owns the state this uses (``name``, ``commands``,
    ``codepage_default``, ``_execute``, ``_shells``).
    """

    # -- SOAP --------------------------------------------------------------

    async def _dispatch_soap(self, body: bytes, peer: t.Any) -> t.Any:
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            return "500", self._fault_xml(None, _SoapFault("DTDs are not allowed.", wsman_code=FAULT_INVALID_PARAMETER,
                                                           code="s:Sender", subcode="w:InvalidMessageInformationHeader"))
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return "500", self._fault_xml(None, _SoapFault(
                "The WS-Management service cannot process the request because the XML is invalid.",
                wsman_code=FAULT_INVALID_PARAMETER, code="s:Sender", subcode="w:SchemaValidationError"))
        header = root.find(_q("Header", NS_S))
        soap_body = root.find(_q("Body", NS_S))
        message_id = None
        action = ""
        if header is not None:
            message_id = (header.findtext(_q("MessageID", NS_A)) or "").strip() or None
            action = (header.findtext(_q("Action", NS_A)) or "").strip()
        logger.debug("%s: %s", self.name, action.rsplit("/", 1)[-1] or "(no action)")
        try:
            if action == ACTION_CREATE:
                return "200", self._create(header, soap_body, message_id, peer)
            if action == ACTION_DELETE:
                return "200", self._delete(header, message_id)
            if action == ACTION_COMMAND:
                return "200", self._command(header, soap_body, message_id)
            if action == ACTION_SEND:
                return "200", self._send(header, soap_body, message_id)
            if action == ACTION_RECEIVE:
                return await self._receive(header, soap_body, message_id)
            if action == ACTION_SIGNAL:
                return "200", self._signal(header, soap_body, message_id)
            raise _SoapFault(
                f"The WS-Management service cannot process the request. The action {action or '(none)'!s} is not "
                f"supported by the exchange-lab WinRS endpoint (it answers Create, Command, Send, Receive, Signal "
                f"and Delete of {RESOURCE_URI_CMD}).",
                wsman_code=FAULT_ACTION_NOT_SUPPORTED,
                code="s:Sender",
                subcode="a:ActionNotSupported",
                action=ACTION_ADDRESSING_FAULT,
            )
        except _SoapFault as fault:
            return "500", self._fault_xml(message_id, fault)
        except Exception as exc:  # a bug here must not look like a network failure to the client
            logger.exception("%s: internal error handling %s", self.name, action.rsplit("/", 1)[-1])
            return "500", self._fault_xml(message_id, _SoapFault(
                f"exchange-lab: internal error in the WinRS endpoint of {self.name} ({type(exc).__name__}).",
                wsman_code=FAULT_INTERNAL_ERROR))

    # envelope helpers

    def _envelope(self, action: str, message_id: str | None, body: str) -> str:
        relates = f"<a:RelatesTo>{_xml_escape(message_id)}</a:RelatesTo>" if message_id else ""
        return (
            '<s:Envelope xml:lang="en-US"'
            f' xmlns:s="{NS_S}" xmlns:a="{NS_A}" xmlns:x="{NS_X}" xmlns:w="{NS_W}"'
            f' xmlns:rsp="{NS_RSP}" xmlns:p="{NS_P}">'
            "<s:Header>"
            f"<a:Action>{action}</a:Action>"
            f"<a:MessageID>uuid:{_uuid()}</a:MessageID>"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            f"{relates}"
            "</s:Header>"
            f"<s:Body>{body}</s:Body>"
            "</s:Envelope>"
        )

    def _fault_xml(self, message_id: str | None, fault: _SoapFault) -> str:
        text = _xml_escape(fault.message)
        body = (
            "<s:Fault>"
            f"<s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
            "<s:Detail>"
            f'<f:WSManFault xmlns:f="{NS_F}" Code="{fault.wsman_code}" Machine={_xml_quoteattr(self.name)}>'
            f"<f:Message>{text}</f:Message>"
            "</f:WSManFault>"
            "</s:Detail>"
            "</s:Fault>"
        )
        return self._envelope(fault.action, message_id, body)

    @staticmethod
    def _selector(header: ET.Element | None, name: str) -> str | None:
        if header is None:
            return None
        for sel in header.iter(_q("Selector", NS_W)):
            if sel.get("Name") == name:
                return (sel.text or "").strip()
        return None

    @staticmethod
    def _options(header: ET.Element | None) -> dict[str, str]:
        opts: dict[str, str] = {}
        if header is None:
            return opts
        for opt in header.iter(_q("Option", NS_W)):
            name = opt.get("Name")
            if name:
                opts[name.upper()] = (opt.text or "").strip()
        return opts

    def _shell_for(self, header: ET.Element | None) -> _Shell:
        shell_id = self._selector(header, "ShellId")
        shell = self._shells.get((shell_id or "").upper())
        if shell is None:
            raise _SoapFault(
                f"The request for the Windows Remote Shell with ShellId {shell_id or ''} failed because the shell was "
                "not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no "
                "longer exists on the server. Provide the correct ShellId or create a new shell and retry the "
                "operation. ",
                wsman_code=FAULT_SHELL_NOT_FOUND,
                subcode="w:InvalidSelectors",
            )
        return shell

    @staticmethod
    def _command_for(shell: _Shell, command_id: str | None) -> _Command:
        cmd = shell.commands.get((command_id or "").upper())
        if cmd is None:
            raise _SoapFault(
                f"The request for the Windows Remote Shell with ShellId {shell.shell_id} failed because the command "
                f"with CommandId {command_id or ''} was not found in the shell. Possible causes are: the specified "
                "CommandId is incorrect or the command has already been terminated. ",
                wsman_code=FAULT_INVALID_PARAMETER,
                subcode="w:InvalidParameter",
            )
        return cmd

    # actions

    def _create(self, header: ET.Element | None, body: ET.Element | None, message_id: str | None, peer: t.Any) -> str:
        opts = self._options(header)
        codepage = self.codepage_default
        if opts.get("WINRS_CODEPAGE", "").isdigit():
            codepage = int(opts["WINRS_CODEPAGE"])
        shell = _Shell(shell_id=_uuid(), codepage=codepage, encoding=_codec_for_codepage(codepage))
        self._shells[shell.shell_id] = shell
        client_ip = peer[0] if isinstance(peer, tuple) and peer else ""
        resp = (
            "<x:ResourceCreated>"
            f"<a:Address>{_xml_escape(self.url)}</a:Address>"
            "<a:ReferenceParameters>"
            f"<w:ResourceURI>{RESOURCE_URI_CMD}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell.shell_id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters>"
            "</x:ResourceCreated>"
            "<rsp:Shell>"
            f"<rsp:ShellId>{shell.shell_id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{RESOURCE_URI_CMD}</rsp:ResourceUri>"
            f"<rsp:Owner>{_xml_escape(self._username)}</rsp:Owner>"
            f"<rsp:ClientIP>{_xml_escape(str(client_ip))}</rsp:ClientIP>"
            "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            "<rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
            "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            "</rsp:Shell>"
        )
        return self._envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", message_id, resp)

    def _drop_shell(self, shell: _Shell) -> None:
        for cmd in shell.commands.values():
            self._drop_command(cmd)
        shell.commands.clear()

    @staticmethod
    def _drop_command(cmd: _Command) -> None:
        cmd.stdin_chunks.clear()
        if cmd.task is not None and not cmd.task.done():
            cmd.task.cancel()

    def _delete(self, header: ET.Element | None, message_id: str | None) -> str:
        shell = self._shell_for(header)
        self._drop_shell(shell)
        del self._shells[shell.shell_id]
        return self._envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", message_id, "")

    def _command(self, header: ET.Element | None, body: ET.Element | None, message_id: str | None) -> str:
        shell = self._shell_for(header)
        cmdline = body.find(_q("CommandLine", NS_RSP)) if body is not None else None
        if cmdline is None:
            raise _SoapFault(
                "The WS-Management service cannot process the request: the Command request has no rsp:CommandLine.",
                wsman_code=FAULT_INVALID_PARAMETER, code="s:Sender", subcode="w:SchemaValidationError")
        command = cmdline.findtext(_q("Command", NS_RSP)) or ""
        arguments = [a.text or "" for a in cmdline.findall(_q("Arguments", NS_RSP))]
        line = " ".join([command, *arguments]) if arguments else command
        cmd = _Command(command_id=_uuid(), command_line=line, encoding=shell.encoding)
        opts = self._options(header)
        cmd.via_cmd_shell = opts.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() != "TRUE"
        shell.commands[cmd.command_id] = cmd
        resp = f"<rsp:CommandResponse><rsp:CommandId>{cmd.command_id}</rsp:CommandId></rsp:CommandResponse>"
        return self._envelope(NS_RSP + "/CommandResponse", message_id, resp)

    def _send(self, header: ET.Element | None, body: ET.Element | None, message_id: str | None) -> str:
        shell = self._shell_for(header)
        send = body.find(_q("Send", NS_RSP)) if body is not None else None
        streams = send.findall(_q("Stream", NS_RSP)) if send is not None else []
        if not streams:
            raise _SoapFault("The WS-Management service cannot process the request: the Send request has no rsp:Stream.",
                             wsman_code=FAULT_INVALID_PARAMETER, code="s:Sender", subcode="w:SchemaValidationError")
        for stream in streams:
            cmd = self._command_for(shell, stream.get("CommandId"))
            if cmd.stdin_closed or cmd.task is not None:
                raise _SoapFault(
                    "The WS-Management service cannot process the request because the input stream of the command "
                    "has already been closed.",
                    wsman_code=FAULT_INVALID_PARAMETER, subcode="w:InvalidParameter")
            try:
                data = base64.b64decode("".join((stream.text or "").split()), validate=True)
            except (binascii.Error, ValueError):
                raise _SoapFault("The WS-Management service cannot process the request: stdin is not valid base64.",
                                 wsman_code=FAULT_INVALID_PARAMETER, code="s:Sender",
                                 subcode="w:SchemaValidationError") from None
            cmd.stdin_sent = True
            if data:
                cmd.stdin_chunks.append(data)
            if (stream.get("End") or "").strip().lower() in ("true", "1"):
                cmd.stdin_closed = True
                self._start(cmd)
        return self._envelope(NS_RSP + "/SendResponse", message_id, "<rsp:SendResponse/>")

    def _start(self, cmd: _Command) -> None:
        if cmd.task is not None:
            return
        stdin = b"".join(cmd.stdin_chunks)
        cmd.stdin_chunks = []  # do not keep stdin beyond handing it over
        cmd.task = asyncio.get_running_loop().create_task(self._run(cmd, stdin))

    async def _run(self, cmd: _Command, stdin: bytes) -> None:
        if cmd.via_cmd_shell and len(cmd.command_line) > CMD_EXE_MAX_LINE:
            # What cmd.exe answers; the program never starts.
            cmd.stderr = "The command line is too long.\r\n".encode(cmd.encoding)
            cmd.rc = 1
            return
        executable, script = parse_command_line(cmd.command_line)
        request = CommandRequest(
            command_line=cmd.command_line,
            executable=executable,
            script=script,
            stdin=stdin,
            module=parse_module_run(stdin) if stdin else None,
        )
        self.commands += 1
        try:
            result = await self._execute(request)
        except TransportFault as fault:
            cmd.fault = fault
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("%s: execute() raised %s", self.name, type(exc).__name__)
            cmd.internal_error = f"{type(exc).__name__}: {exc}"
            return
        if not isinstance(result, CommandResult):
            cmd.internal_error = f"execute() returned {type(result).__name__}, not CommandResult"
            return
        cmd.stdout = (result.stdout or "").encode(cmd.encoding, errors="replace")
        cmd.stderr = (result.stderr or "").encode(cmd.encoding, errors="replace")
        cmd.rc = int(result.rc)

    async def _receive(self, header: ET.Element | None, body: ET.Element | None, message_id: str | None) -> t.Any:
        shell = self._shell_for(header)
        receive = body.find(_q("Receive", NS_RSP)) if body is not None else None
        desired = receive.find(_q("DesiredStream", NS_RSP)) if receive is not None else None
        cmd = self._command_for(shell, desired.get("CommandId") if desired is not None else None)
        timeout = parse_iso8601_duration(header.findtext(_q("OperationTimeout", NS_W)) if header is not None else None)
        max_env = _DEFAULT_MAX_ENVELOPE
        if header is not None:
            with contextlib.suppress(TypeError, ValueError):
                max_env = int((header.findtext(_q("MaxEnvelopeSize", NS_W)) or "").strip())

        if cmd.task is None and not cmd.stdin_sent:
            self._start(cmd)  # no stdin was sent: the command runs now
        if not cmd.done:
            # Not started (stdin incomplete) or still running: wait up to the operation timeout.
            if cmd.task is not None:
                # asyncio.wait neither cancels the task on timeout nor raises if it was cancelled.
                await asyncio.wait({cmd.task}, timeout=timeout)
            else:
                await asyncio.sleep(timeout)
            if not cmd.done:
                raise _SoapFault(
                    "The WS-Management service cannot complete the operation within the time specified in "
                    "OperationTimeout.  ",
                    wsman_code=FAULT_OPERATION_TIMEOUT,
                    subcode="w:TimedOut",
                )
        assert cmd.task is not None
        if cmd.task.cancelled():
            raise _SoapFault("The command was terminated.", wsman_code=FAULT_INTERNAL_ERROR)

        if cmd.fault is not None:
            kind = cmd.fault.kind
            logger.debug("%s: simulating transport fault %s", self.name, kind)
            if kind == "timeout":
                return _HOLD
            if kind == "connection_reset":
                return _RESET
            if kind == "auth_failure":
                return _UNAUTHORIZED
            raise _SoapFault(
                "The WS-Management service cannot process the request. An internal error occurred in the "
                "WinRM service (simulated by exchange-lab).",
                wsman_code=FAULT_INTERNAL_ERROR,
            )
        if cmd.internal_error is not None:
            raise _SoapFault(
                f"exchange-lab: the simulated server {self.name} failed to run the command ({cmd.internal_error}).",
                wsman_code=FAULT_INTERNAL_ERROR,
            )

        # Deliver output in envelope-sized pieces, then CommandState Done.
        budget = max(1024, (max_env - _ENVELOPE_OVERHEAD) * 3 // 4)
        parts: list[str] = []
        cid = cmd.command_id
        take = min(budget, len(cmd.stdout) - cmd.out_pos)
        if take > 0:
            chunk = cmd.stdout[cmd.out_pos:cmd.out_pos + take]
            cmd.out_pos += take
            budget -= take
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}">{base64.b64encode(chunk).decode()}</rsp:Stream>')
        take = min(budget, len(cmd.stderr) - cmd.err_pos)
        if take > 0:
            chunk = cmd.stderr[cmd.err_pos:cmd.err_pos + take]
            cmd.err_pos += take
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}">{base64.b64encode(chunk).decode()}</rsp:Stream>')
        if cmd.out_pos >= len(cmd.stdout) and cmd.err_pos >= len(cmd.stderr):
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(
                f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}"><rsp:ExitCode>{cmd.rc}</rsp:ExitCode>'
                "</rsp:CommandState>"
            )
        else:
            parts.append(f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>')
        body_xml = f'<rsp:ReceiveResponse SequenceID="0">{"".join(parts)}</rsp:ReceiveResponse>'
        return "200", self._envelope(NS_RSP + "/ReceiveResponse", message_id, body_xml)

    def _signal(self, header: ET.Element | None, body: ET.Element | None, message_id: str | None) -> str:
        shell = self._shell_for(header)
        signal = body.find(_q("Signal", NS_RSP)) if body is not None else None
        command_id = signal.get("CommandId") if signal is not None else None
        code = (signal.findtext(_q("Code", NS_RSP)) or "") if signal is not None else ""
        cmd = self._command_for(shell, command_id)
        if code.rstrip("/").rsplit("/", 1)[-1].lower() in ("terminate", "ctrl_c", "ctrl_break"):
            self._drop_command(cmd)
            shell.commands.pop(cmd.command_id, None)
        return self._envelope(NS_RSP + "/SignalResponse", message_id, "<rsp:SignalResponse/>")

