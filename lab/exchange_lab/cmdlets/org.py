"""Organisation and server cmdlets: Get-ExchangeServer, Get-TransportService,
Get-/Set-HybridConfiguration, Get-WinEvent, Restart-Service.
"""

from __future__ import annotations

import datetime as dt
import re

from .connectors import _no_change
from .core import (
    CmdletError, Context, TRANSPORT_SERVICES, _not_found, _read, _target_server, _visible_servers, _wrote,
)
from ..model import Server
from .objects import server_object


def get_exchange_server(ctx: Context, p: dict) -> list[dict]:
    if "Identity" in p:
        return [dict(server_object(_target_server(ctx, p["Identity"], "GetExchangeServer")), OriginatingServer=ctx.dc or ctx.server.fqdn)]
    return [dict(server_object(s), OriginatingServer=ctx.dc or ctx.server.fqdn) for s in _visible_servers(ctx)]


def get_transport_service(ctx: Context, p: dict) -> list[dict]:
    if "Identity" in p:
        servers = [_target_server(ctx, p["Identity"], "GetTransportService")]
    else:
        # An Edge sees only itself; a Mailbox server lists the organisation's Mailbox servers.
        servers = [s for s in _visible_servers(ctx) if s.is_edge == ctx.server.is_edge]
    return [
        _read(ctx, ("transport", s.name.lower()), {
            "Name": s.name,
            "Identity": s.name,
            "InternalTransportCertificateThumbprint": s.internal_transport_certificate,
        })
        for s in servers
    ]


def _hybrid(ctx: Context, cmdlet: str):
    if ctx.server.is_edge:
        raise CmdletError(
            f"The term '{cmdlet}' is not recognized as the name of a cmdlet, function, script file, or operable "
            "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
            "and try again.",
            "CommandNotFoundException",
            "ObjectNotFound",
        )
    return ctx.org.hybrid_configuration


def get_hybrid_configuration(ctx: Context, p: dict) -> list[dict]:
    hc = _hybrid(ctx, "Get-HybridConfiguration")
    if hc is None:
        return []
    return [
        _read(ctx, ("hybrid",), {
            "Identity": "Hybrid Configuration",
            "TlsCertificateName": hc.tls_certificate_name,
            "ReceivingTransportServers": list(hc.receiving_transport_servers),
            "SendingTransportServers": list(hc.sending_transport_servers),
            "EdgeTransportServers": list(hc.edge_transport_servers),
            "Features": ["OnlineArchive", "FreeBusy", "MailTips", "MessageTracking", "OwaRedirection", "SecureMail", "Photos"],
        })
    ]


def set_hybrid_configuration(ctx: Context, p: dict) -> list[dict]:
    hc = _hybrid(ctx, "Set-HybridConfiguration")
    if hc is None:
        raise _not_found("Hybrid Configuration", "SetHybridConfiguration", ctx)
    if "TlsCertificateName" in p and p["TlsCertificateName"] != hc.tls_certificate_name:
        before = {"TlsCertificateName": hc.tls_certificate_name}
        hc.tls_certificate_name = p["TlsCertificateName"]
        ctx.wrote = True
        _wrote(ctx, ("hybrid",), before, {"TlsCertificateName": hc.tls_certificate_name})
    else:
        _no_change(ctx, "Hybrid Configuration")
    return []


# A deliberately small XPath subset: the one shape the collection sends.
_XPATH_ID = re.compile(r"EventID\s*=\s*(\d+)")
_XPATH_AGE = re.compile(r"timediff\(@SystemTime\)\s*<=\s*(\d+)")
_XPATH_PROVIDER = re.compile(r"Provider\[@Name\s*=\s*'([^']*)'\]")
_XPATH_SHAPE = re.compile(r"^\*\[System\[[A-Za-z0-9_@=<>'()\[\] .\-]*\]\]$")


def get_win_event(ctx: Context, p: dict) -> list[dict]:
    if "FilterHashtable" in p:
        raise CmdletError(
            "exchange-lab implements Get-WinEvent -LogName with -FilterXPath only; the collection sends an XPath.",
            "NotImplemented,Microsoft.PowerShell.Commands.GetWinEventCommand",
        )
    logs = p.get("LogName", ["Application"])
    if [log.lower() for log in logs] != ["application"]:
        raise CmdletError(
            f"There is not an event log on the localhost computer that matches \"{logs[0]}\".",
            "NoMatchingLogsFound,Microsoft.PowerShell.Commands.GetWinEventCommand",
            "ObjectNotFound",
        )
    xpath = p.get("FilterXPath", "*")
    ids, age_ms, providers = None, None, None
    if xpath != "*":
        if not _XPATH_SHAPE.match(xpath):
            raise CmdletError(
                "The specified query is invalid",
                "System.Diagnostics.Eventing.Reader.EventLogException,Microsoft.PowerShell.Commands.GetWinEventCommand",
                "NotSpecified",
            )
        ids = {int(i) for i in _XPATH_ID.findall(xpath)} or None
        ages = _XPATH_AGE.findall(xpath)
        age_ms = int(ages[0]) if ages else None
        providers = set(_XPATH_PROVIDER.findall(xpath)) or None
    now = ctx.org.clock.now()
    events = [
        e
        for e in reversed(ctx.server.events)
        if (ids is None or e.id in ids)
        and (providers is None or e.source in providers)
        and (age_ms is None or (now - e.time) <= dt.timedelta(milliseconds=age_ms))
    ]
    if "MaxEvents" in p:
        events = events[: p["MaxEvents"]]
    if not events:
        raise CmdletError(
            "No events were found that match the specified selection criteria.",
            "NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand",
            "ObjectNotFound",
        )
    return [
        {
            "Id": e.id,
            "ProviderName": e.source,
            "LogName": "Application",
            "LevelDisplayName": e.level,
            "TimeCreated": e.time,
            "MachineName": ctx.server.fqdn,
            "Message": e.message,
        }
        for e in events
    ]


def restart_service(ctx: Context, p: dict) -> list[dict]:
    for name in p["Name"]:
        service = next((s for s in TRANSPORT_SERVICES if s.lower() == name.lower()), None)
        if service is None or (ctx.server.is_edge and service == "MSExchangeFrontEndTransport"):
            raise CmdletError(
                f"Cannot find any service with service name '{name}'.",
                "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.RestartServiceCommand",
                "ObjectNotFound",
            )
        ctx.org.reload_transport(ctx.server, service)
        ctx.server.restarts += 1
        ctx.wrote = True
    return []


def get_auth_config(ctx: Context, p: dict) -> list[dict]:
    _hybrid(ctx, "Get-AuthConfig")  # not on an Edge server: its shell has no organisation configuration
    auth = ctx.org.auth_certificates()
    return [_read(ctx, ("auth",), {
        "Identity": "Auth Configuration",
        "CurrentCertificateThumbprint": auth.get("current"),
        "NextCertificateThumbprint": auth.get("next"),
        "ServiceName": "00000002-0000-0ff1-ce00-000000000000",
    })]


def _edge_sync_status(ctx: Context, edge: Server) -> tuple[str, str, str | None]:
    """SyncStatus, ConnectionResult and FailureDetail of one Edge Subscription, from the lab's EdgeSync state."""
    if edge.edgesync == "broken" or edge.internal_transport_certificate != edge.edge_subscription_certificate:
        # The subscription pinned the Edge's certificate; with another one EdgeSync's credentials do not work.
        return ("Failed", "InvalidCredentials", "The Edge Transport server's certificate is not the one its Edge "
                "Subscription holds; EdgeSync cannot authenticate to it. Re-create the Edge Subscription.")
    stale = sorted(sc.name for sc in ctx.org.send_connectors
                   if edge.name in sc.edge_copies and sc.edge_copies[edge.name] != sc.tls_certificate_name)
    if stale:
        return ("Warning", "Succeeded", "Configuration objects differ between Active Directory and the Edge's AD LDS: "
                + ", ".join(f"send connector {name}" for name in stale))
    return ("Normal", "Succeeded", None)


def test_edge_synchronization(ctx: Context, p: dict) -> list[dict]:  # pylint: disable=unused-argument
    # One object per Edge Subscription (ExcludeRecipientTest or not: the lab models configuration only).
    # EdgeSync runs on the Mailbox servers; an Edge has no such cmdlet.
    if ctx.server.is_edge:
        raise CmdletError(
            "The term 'Test-EdgeSynchronization' is not recognized as the name of a cmdlet, function, script file, or "
            "operable program.",
            "CommandNotFoundException",
            "ObjectNotFound",
        )
    out = []
    for edge in ctx.org.servers.values():
        if not edge.is_edge or edge.edge_subscription_certificate is None:
            continue
        status, connection, detail = _edge_sync_status(ctx, edge)
        out.append({
            "Name": edge.name,
            "SyncStatus": status,
            "ConnectionResult": connection,
            "FailureDetail": detail,
        })
    return out
