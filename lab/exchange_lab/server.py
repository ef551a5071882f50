"""The running lab: one WinRM endpoint and one SMTP listener per simulated server.

Everything runs on one asyncio loop, so a fleet of hundreds of servers costs no
thread per server. Cmdlets run under the organisation's lock, so two clients
changing the same object are serialised as Exchange's AD writes would be.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import secrets
import shlex
import threading
from typing import Any

from . import scenario as scenario_mod
from .model import SERVICE_BITS, Organization, Server
from .payload import PAYLOAD_SCRIPT_NAME, PayloadRunner, take_fault
from .smtp import SmtpServer, SmtpSession, TlsOffer
from .winrm import CommandRequest, CommandResult, TransportFault, WinRMServer

TRANSPORT_FAULTS = ("http_500", "connection_reset", "timeout", "auth_failure")
# Faults that hit a launch after it ran to the end: its writes happened, its reply is lost or unreadable.
AFTER_RUN_FAULTS = ("reply_lost", "stray_error_record")


def powershell_not_recognized(term: str) -> str:
    return (
        f"{term} : The term '{term}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct and "
        "try again.\r\n"
        "    + CategoryInfo          : ObjectNotFound: ({term}:String) [], CommandNotFoundException\r\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\r\n"
    )


class _SmtpBackend:
    """One server's port 25: each connection is answered by the connector Exchange selects for it."""

    def __init__(self, lab: "Lab", server: Server):
        self.lab, self.server = lab, server

    def for_session(self, session: SmtpSession) -> "_ConnectorAnswer | None":
        # The listener stands in for port 25 at its own address; the sender is the real peer.
        local = session.local[0] if session.local else self.lab.host
        rc = self.lab.org.answering_connector(self.server, local, session.peer[0])
        return None if rc is None else _ConnectorAnswer(self.lab, self.server, rc)


class _ConnectorAnswer:
    """The receive connector that answers one SMTP connection: its FQDN, its TLS, its RequireTLS."""

    def __init__(self, lab: "Lab", server: Server, connector):
        self.lab, self.server, self.connector = lab, server, connector

    def greeting_fqdn(self) -> str:
        return self.connector.fqdn or self.server.fqdn

    def tls_offer(self, session: SmtpSession) -> TlsOffer | None:
        events_before = len(self.server.events)
        sel = self.lab.org.starttls(self.connector)
        if len(self.server.events) != events_before:
            self.lab.changed()
        if not sel.offered:
            return None
        cert = sel.certificate
        return TlsOffer(cert_chain_pem=cert.minted.presented_pem, key_pem=cert.minted.key_pem, usable=sel.usable)

    def require_tls(self) -> bool:
        return bool(self.connector.require_tls)


class Lab:
    def __init__(
        self,
        scenario_path: str | os.PathLike,
        *,
        state_path: str | os.PathLike | None = None,
        inventory_path: str | os.PathLike | None = None,
        journal_path: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        username: str = "lab-admin",
        password: str | None = None,
        winrm_read_timeout: int | None = None,
    ):
        self.scenario_path = pathlib.Path(scenario_path)
        self.scenario = scenario_mod.load_scenario(self.scenario_path)
        self.org = Organization(self.scenario)
        self.runner = PayloadRunner(self.org)
        self.state_path = pathlib.Path(state_path) if state_path else None
        self.inventory_path = pathlib.Path(inventory_path) if inventory_path else None
        self.journal_path = pathlib.Path(journal_path) if journal_path else None
        self.host = host
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.winrm_read_timeout = winrm_read_timeout
        self.winrm: dict[str, WinRMServer] = {}
        self.smtp: dict[str, SmtpServer] = {}
        self._state_lock = threading.Lock()
        # Coalesced state writes: every change is on disk before the client that
        # caused it is answered, but one write covers every change made while the
        # previous write was running (a 50-fork wave needs a few writes, not 50).
        self._changes = 0
        self._persisted = 0
        self._persist_lock: asyncio.Lock | None = None

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        for path in (self.state_path, self.inventory_path, self.journal_path):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        for server in self.org.servers.values():
            w = WinRMServer(server.name, self.username, self.password, self._executor(server), host=self.host)
            await w.start()
            self.winrm[server.name] = w
            if self.org.smtp_connector(server) is not None:
                s = SmtpServer(_SmtpBackend(self, server), host=self.host)
                await s.start()
                self.smtp[server.name] = s
        self.write_state()
        if self.inventory_path:
            self.write_inventory()

    async def stop(self) -> None:
        for listener in list(self.winrm.values()) + list(self.smtp.values()):
            await listener.stop()
        self.write_state()

    # -- WinRM commands ----------------------------------------------------------

    def _executor(self, server: Server):
        async def execute(request: CommandRequest) -> CommandResult:
            return await self.execute(server, request)

        return execute

    async def execute(self, server: Server, request: CommandRequest) -> CommandResult:
        module = request.module
        if module is None:
            return self._not_a_command(request)
        if module.script_name != PAYLOAD_SCRIPT_NAME:
            name = module.script_name.rsplit(".", 2)[-2] if module.script_name.count(".") >= 2 else module.script_name
            return CommandResult(stdout="", stderr=powershell_not_recognized(name), rc=1)
        problem = self.runner.check_source(module.module_source)
        if problem:
            return CommandResult(stdout=json.dumps({"failed": True, "msg": problem}), rc=1)
        cmdlets = _step_cmdlets(module.module_args)
        with self.org.lock:
            fault = take_fault(server, TRANSPORT_FAULTS, cmdlets)
        if fault is not None:
            self._journal({"server": server.name, "fault": fault["kind"], "cmdlets": cmdlets})
            self._changes += 1
            await self.persist()
            raise TransportFault(fault["kind"])
        if self.org.launch_seconds:
            await asyncio.sleep(self.org.launch_seconds)
        launches = server.launches
        result, rc, steps = self.runner.run(server, module.module_args, module.check_mode)
        # A run refused during argument validation is not a launch and changes nothing:
        # the state file stays byte-identical (not even the clock line moves).
        opened = server.launches != launches
        after = None
        if opened:
            self._changes += 1
            with self.org.lock:
                after = take_fault(server, AFTER_RUN_FAULTS, cmdlets)
        entry = {
            "server": server.name,
            "launch": server.launches,
            "check_mode": module.check_mode,
            "become": module.become,
            "steps": steps,
            "failed": bool(result.get("failed")),
            "msg": result.get("msg"),
        }
        self._journal(dict(entry, fault=after["kind"]) if after else entry)
        if opened:
            await self.persist()
        if after is not None and after["kind"] == "reply_lost":
            # The launch is done and on disk; the connection drops before its output is sent.
            raise TransportFault("connection_reset")
        stdout = json.dumps(result)
        if after is not None:
            stdout += "\r\n" + stray_error_record(server) + "\r\n"
        return CommandResult(stdout=stdout, rc=rc)

    @staticmethod
    def _not_a_command(request: CommandRequest) -> CommandResult:
        # A host without the command: PowerShell says the term is not recognised.
        if request.executable not in ("powershell", "pwsh"):
            term = request.command_line.split()[0] if request.command_line.split() else request.command_line
            return CommandResult(
                stdout="",
                stderr=f"'{term}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
                rc=1,
            )
        script = (request.script or "").strip()
        try:
            term = shlex.split(script, posix=False)[0] if script else "powershell"
        except ValueError:
            term = script.split()[0]
        return CommandResult(stdout="", stderr=powershell_not_recognized(term), rc=1)

    # -- state, journal, inventory -------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.org.lock:
            return state_of(self.org, self.scenario)

    def write_state(self) -> None:
        if not self.state_path:
            return
        with self._state_lock:
            text = scenario_mod.dump_state(self.state())
            tmp = self.state_path.with_name(self.state_path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.state_path)

    def changed(self) -> None:
        """A change outside a launch (an event logged by an SMTP session): persist it soon."""
        self._changes += 1
        asyncio.get_running_loop().create_task(self.persist())

    async def persist(self) -> None:
        """Return once the state on disk includes every change counted so far."""
        if not self.state_path:
            return
        wanted = self._changes
        if self._persist_lock is None:
            self._persist_lock = asyncio.Lock()
        async with self._persist_lock:
            if self._persisted >= wanted:
                return
            covered = self._changes
            # Off the loop, so launches finishing meanwhile queue here and the
            # next write covers them all; the snapshot is taken under org.lock.
            await asyncio.get_running_loop().run_in_executor(None, self.write_state)
            self._persisted = covered

    def _journal(self, entry: dict) -> None:
        if not self.journal_path:
            return
        entry = {"time": self.org.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), **entry}
        with self._state_lock, self.journal_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def write_inventory(self) -> None:
        mailbox, edge = [], []
        for server in self.org.servers.values():
            line = (
                f"{server.name} ansible_host={self.host} ansible_port={self.winrm[server.name].port}"
                f" exchange_fqdn={server.fqdn}"
            )
            if server.name in self.smtp:
                line += f" exchange_smtp_host={self.host} exchange_smtp_port={self.smtp[server.name].port}"
            (edge if server.is_edge else mailbox).append(line)
        common = [
            "ansible_connection=winrm",
            f"ansible_user={self.username}",
            f"ansible_password={self.password}",
            "ansible_winrm_scheme=http",
            "ansible_winrm_transport=basic",
            "ansible_winrm_server_cert_validation=ignore",
        ]
        if self.winrm_read_timeout:
            common += [
                f"ansible_winrm_read_timeout_sec={self.winrm_read_timeout}",
                f"ansible_winrm_operation_timeout_sec={max(1, self.winrm_read_timeout - 5)}",
            ]
        text = "\n".join(
            [
                f"# exchange-lab inventory for organisation {self.org.name} ({self.scenario_path.name})",
                "# Written when every server listened; valid until the lab stops.",
                "[mailbox]",
                *mailbox,
                "",
                "[edge]",
                *edge,
                "",
                "[exchange:children]",
                "mailbox",
                "edge",
                "",
                "[exchange:vars]",
                *common,
                "",
            ]
        )
        tmp = self.inventory_path.with_name(self.inventory_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.inventory_path)


def stray_error_record(server: Server) -> str:
    """The document ansible-core's module_wrapper.ps1 (2.19 and later) writes after the module's own output for an
    error record left in the runspace's error stream (Write-AnsibleErrorDetail -ForModule: a hashtable of failed,
    msg and exception, ConvertTo-Json -Compress; ansible/ansible lib/ansible/executor/powershell/module_wrapper.ps1).
    The record here is the one a failed first attempt of Microsoft's session bootstrap leaves behind when a later
    attempt succeeds."""
    error = (
        f"[{server.fqdn}] Connecting to remote server {server.fqdn} failed with the following error message : The WinRM"
        " client received an HTTP server error status (500), but the remote service did not include any other"
        " information about the cause of the failure. For more information, see the about_Remote_Troubleshooting Help topic."
    )
    exception = "\r\n".join([
        error,
        "At C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin\\ConnectFunctions.ps1:144 char:17",
        "+ CategoryInfo          : OpenError: (System.Manageme....RemoteRunspace:RemoteRunspace) [New-PSSession],"
        " PSRemotingTransportException",
        "+ FullyQualifiedErrorId : -2144108477,PSSessionOpenFailed",
        "",
        "ScriptStackTrace:",
        "at _NewExchangeRunspace, C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin\\ConnectFunctions.ps1: line 144",
    ])
    # A PowerShell hashtable has no key order; this is one ConvertTo-Json may print.
    return json.dumps({"exception": exception, "msg": f"Unhandled exception while executing module: {error}", "failed": True},
                      separators=(",", ":"))


def _step_cmdlets(module_args: dict) -> list[str]:
    steps = module_args.get("steps")
    if not isinstance(steps, list):
        return []
    return [str(s.get("cmdlet")) for s in steps if isinstance(s, dict) and s.get("cmdlet")]


def state_of(org: Organization, scenario: dict) -> dict[str, Any]:
    """The live organisation in scenario format v1: every name literal, every thumbprint shown."""
    servers = []
    for server in org.servers.values():
        by_thumb = {c.thumbprint: c.id for c in server.certificates}
        servers.append(
            {
                "name": server.name,
                "fqdn": server.fqdn,
                "role": server.role,
                "version": server.version,
                "certificates": [
                    {
                        "id": c.id,
                        "subject": c.subject,
                        "issuer": None if c.self_signed else c.issuer,
                        "self_signed": c.self_signed,
                        "domains": list(c.domains),
                        "not_before": c.not_before,
                        "not_after": c.not_after,
                        "services": sorted(c.services, key=SERVICE_BITS.get),
                        "has_private_key": c.has_private_key,
                        "status": c.status,
                        "in_store": c.in_store,
                        "friendly_name": c.friendly_name,
                        "root_ca_type": c.root_ca_type,
                        "key": c.key,
                        "signature_hash": c.signature_hash,
                        "eku": list(c.eku),
                        "include_chain": c.include_chain,
                        "exportable": c.exportable,
                        "thumbprint": c.thumbprint,
                    }
                    for c in server.certificates
                ],
                "internal_transport_certificate": by_thumb.get(server.internal_transport_certificate),
                "edge_subscription_certificate": by_thumb.get(server.edge_subscription_certificate),
                "transport_change_needs_restart": server.transport_change_needs_restart,
                "certificate_properties": server.certificate_properties,
                "enum_form": server.enum_form,
                "receive_connectors": [
                    {
                        "name": rc.name,
                        "transport_role": rc.transport_role,
                        "bindings": list(rc.bindings),
                        "fqdn": rc.fqdn,
                        "auth_mechanism": list(rc.auth_mechanism),
                        "permission_groups": list(rc.permission_groups),
                        "tls_domain_capabilities": list(rc.tls_domain_capabilities),
                        "tls_certificate_name": rc.tls_certificate_name,
                        "require_tls": rc.require_tls,
                        "remote_ip_ranges": list(rc.remote_ip_ranges),
                    }
                    for rc in server.receive_connectors
                ],
                "faults": [dict(f) for f in server.faults],
                "launches": server.launches,
                "writes": server.writes,
                "restarts": server.restarts,
                "events": [
                    {"id": e.id, "source": e.source, "level": e.level, "time": e.time, "message": e.message}
                    for e in server.events
                ],
                "edgesync": server.edgesync,
            }
        )
    hc = org.hybrid_configuration
    return {
        "format": 1,
        "organization": org.name,
        "now": org.clock.now(),
        "latency": {"launch_seconds": org.launch_seconds},
        "hybrid_configuration": None
        if hc is None
        else {
            "tls_certificate_name": hc.tls_certificate_name,
            "receiving_transport_servers": list(hc.receiving_transport_servers),
            "sending_transport_servers": list(hc.sending_transport_servers),
            "edge_transport_servers": list(hc.edge_transport_servers),
        },
        "send_connectors": [
            {
                "name": sc.name,
                "address_spaces": list(sc.address_spaces),
                "source_transport_servers": list(sc.source_transport_servers),
                "fqdn": sc.fqdn,
                "tls_certificate_name": sc.tls_certificate_name,
                "tls_auth_level": sc.tls_auth_level,
                "tls_domain": sc.tls_domain,
                "require_tls": sc.require_tls,
                "cloud_services_mail_enabled": sc.cloud_services_mail_enabled,
                "smart_hosts": list(sc.smart_hosts),
                "outbound_tls": org.outbound_status(sc),
                "edge_copies": dict(sc.edge_copies) or None,
            }
            for sc in org.send_connectors
        ],
        "servers": servers,
        "replication_lag_seconds": org.directory.lag,
        "auth_certificate": org.auth_certificate,
    }


class LabThread:
    """Runs a Lab on its own event loop in a background thread (tests, the demo)."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="exchange-lab", daemon=True)

    def __enter__(self) -> Lab:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.lab.start(), self.loop).result(60)
        return self.lab

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.lab.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def serve(lab: Lab, ready_message: bool = True) -> None:
    """Run until SIGINT or SIGTERM, then write the state one last time."""
    import signal

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await lab.start()
    if ready_message:
        ports = ", ".join(
            f"{name} winrm={w.port}" + (f" smtp={lab.smtp[name].port}" if name in lab.smtp else "")
            for name, w in lab.winrm.items()
        )
        print(f"exchange-lab: serving {len(lab.winrm)} servers of {lab.org.name} on {lab.host} ({ports})", flush=True)
        if lab.inventory_path:
            print(f"exchange-lab: inventory written to {lab.inventory_path}", flush=True)
    await stop.wait()
    await lab.stop()
    print("exchange-lab: stopped", flush=True)
