"""A WinRS (WS-Management remote shell) endpoint for one simulated server.

pywinrm and Ansible's ``winrm`` connection plugin really talk to this: HTTP/1.1
with Basic auth, the SOAP actions Create/Command/Send/Receive/Signal/Delete of
the ``windows/shell/cmd`` resource, output in the shell's code page, the
retryable ``OperationTimeout`` fault for long Receives, and the faults a real
server gives for an unknown shell. What a command *does* is delegated to an
``execute`` coroutine, which gets a :class:`CommandRequest` (command line,
decoded ``-EncodedCommand`` script, stdin and, for an Ansible module run, the
decoded :class:`ModuleRun`) and returns a :class:`CommandResult`, or raises
:class:`TransportFault` to make the transport misbehave.

Three rooms: :mod:`.endpoint` (HTTP, Basic auth, lifecycle), :mod:`.wsman` (SOAP
and the remote shells) and :mod:`.winrs` (decoding the command line and the
Ansible exec manifest). The facts this follows are in ``lab/docs/winrm.md``.
Security: stdin of a module run carries the exec manifest, whose ``secure_params``
can hold the become password in plain text. Nothing here logs or keeps stdin, the
manifest, or request bodies; the server keeps only a counter of commands run.
"""

from __future__ import annotations

from .endpoint import WinRMServer
from .winrs import CommandRequest, CommandResult, ModuleRun, TransportFault, parse_command_line, parse_module_run
from .wsman import parse_iso8601_duration

__all__ = [
    "CommandRequest",
    "CommandResult",
    "ModuleRun",
    "TransportFault",
    "WinRMServer",
    "parse_command_line",
    "parse_module_run",
]
