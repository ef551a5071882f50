"""The allow-listed cmdlets, implemented on the model.

Each cmdlet binds its parameters the way PowerShell does (names are
case-insensitive and may be abbreviated to a unique prefix; an unknown or
ambiguous name fails binding) and then follows Microsoft's documented
semantics. Output objects hold values the way the payload would flatten them:
enums and Exchange value types as their ToString(), dates as UTC datetimes.
Error texts follow Exchange's where the documentation or real output is known;
where it is not, the text says what happened in Exchange's style and the lab
README lists it as the lab's own wording.

Rooms, by subject: :mod:`.core` (errors, context, parameter binding, directory reads and writes),
:mod:`.objects` (returned shapes), :mod:`.certificates`, :mod:`.connectors` and :mod:`.org`. A new
cmdlet is a function in the room of its subject plus one :class:`CmdletSpec` row in ``CMDLETS`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .. import enums
from ..model import DirectoryError
from .certificates import (
    enable_exchange_certificate, export_exchange_certificate, get_exchange_certificate, import_exchange_certificate,
    remove_exchange_certificate,
)
from .connectors import get_receive_connector, get_send_connector, set_receive_connector, set_send_connector
from .core import CmdletError, Context, Param, _bind
from .objects import certificate_object, receive_connector_object, send_connector_object, server_object
from .org import (
    get_auth_config, get_exchange_server, get_hybrid_configuration, get_transport_service, get_win_event,
    restart_service, set_hybrid_configuration, test_edge_synchronization,
)

__all__ = [
    "CMDLETS",
    "CmdletError",
    "CmdletSpec",
    "Context",
    "certificate_object",
    "receive_connector_object",
    "run_cmdlet",
    "send_connector_object",
    "server_object",
]


@dataclass
class CmdletSpec:
    name: str
    params: list[Param]
    run: Callable[[Context, dict], list[dict]]


_COMMON = [Param("DomainController")]

CMDLETS: dict[str, CmdletSpec] = {
    spec.name.lower(): spec
    for spec in [
        CmdletSpec("Get-ExchangeServer", [Param("Identity"), Param("Status", "switch")] + _COMMON, get_exchange_server),
        CmdletSpec(
            "Get-ExchangeCertificate",
            [Param("Thumbprint"), Param("Identity"), Param("Server"), Param("DomainName", "strlist")] + _COMMON,
            get_exchange_certificate,
        ),
        CmdletSpec(
            "Enable-ExchangeCertificate",
            [
                Param("Thumbprint"),
                Param("Identity"),
                Param("Services", "services", mandatory=True),
                Param("Server"),
                Param("Force", "switch"),
                Param("DoNotRequireSsl", "switch"),
                Param("NetworkServiceAllowed", "switch"),
                Param("Confirm", "switch"),
            ]
            + _COMMON,
            enable_exchange_certificate,
        ),
        CmdletSpec("Get-ReceiveConnector", [Param("Identity"), Param("Server")] + _COMMON, get_receive_connector),
        CmdletSpec(
            "Set-ReceiveConnector",
            [
                Param("Identity", mandatory=True),
                Param("TlsCertificateName", "tlsname"),
                Param("RequireTLS", "switch"),
                Param("AuthMechanism", "strlist"),
                Param("Fqdn"),
                Param("Confirm", "switch"),
            ]
            + _COMMON,
            set_receive_connector,
        ),
        CmdletSpec("Get-SendConnector", [Param("Identity")] + _COMMON, get_send_connector),
        CmdletSpec(
            "Set-SendConnector",
            [Param("Identity", mandatory=True), Param("TlsCertificateName", "tlsname"), Param("Confirm", "switch")] + _COMMON,
            set_send_connector,
        ),
        CmdletSpec("Get-TransportService", [Param("Identity")] + _COMMON, get_transport_service),
        CmdletSpec("Get-HybridConfiguration", _COMMON, get_hybrid_configuration),
        CmdletSpec(
            "Set-HybridConfiguration",
            [Param("TlsCertificateName", "tlsname"), Param("Confirm", "switch")] + _COMMON,
            set_hybrid_configuration,
        ),
        CmdletSpec(
            "Get-WinEvent",
            [Param("LogName", "strlist"), Param("FilterXPath"), Param("FilterHashtable", "any"), Param("MaxEvents", "int")],
            get_win_event,
        ),
        CmdletSpec("Restart-Service", [Param("Name", "strlist", mandatory=True)], restart_service),
        CmdletSpec(
            "Test-EdgeSynchronization",
            [Param("ExcludeRecipientTest", "switch"), Param("FullCompareMode", "switch"), Param("TargetServer"),
             Param("MaxReportSize", "int"), Param("MonitoringContext", "any")] + _COMMON,
            test_edge_synchronization,
        ),
        CmdletSpec(
            "Import-ExchangeCertificate",
            [Param("FileData", "any", mandatory=True), Param("Password"), Param("PrivateKeyExportable", "switch"),
             Param("Server"), Param("FriendlyName"), Param("Confirm", "switch")] + _COMMON,
            import_exchange_certificate,
        ),
        CmdletSpec(
            "Remove-ExchangeCertificate",
            [Param("Thumbprint"), Param("Identity"), Param("Server"), Param("Confirm", "switch")] + _COMMON,
            remove_exchange_certificate,
        ),
        CmdletSpec(
            "Export-ExchangeCertificate",
            [Param("Thumbprint"), Param("Identity"), Param("Server"), Param("Password"), Param("BinaryEncoded", "switch")] + _COMMON,
            export_exchange_certificate,
        ),
        CmdletSpec("Get-AuthConfig", _COMMON, get_auth_config),
    ]
}


def run_cmdlet(ctx: Context, name: str, parameters: dict[str, Any]) -> list[dict]:
    spec = CMDLETS[name.lower()]
    bound = _bind(spec.name.replace("-", ""), spec.params, parameters)
    if ctx.server.is_edge and "DomainController" in bound:
        raise CmdletError(
            "The DomainController parameter isn't supported on Edge Transport servers.",
            f"InvalidOperation,{spec.name.replace('-', '')}",
            "InvalidArgument",
        )
    if not ctx.server.is_edge and any(p.name == "DomainController" for p in spec.params):
        try:
            ctx.dc = ctx.org.directory.serve(bound.get("DomainController"))
        except DirectoryError:
            raise CmdletError(
                f"The Active Directory server {bound['DomainController']} isn't available. The lab's domain controllers"
                f" are {' and '.join(ctx.org.directory.controllers)}.",
                f"ADServerNotAvailable,{spec.name.replace('-', '')}",
                "NotSpecified",
            ) from None
    # The session's server decides how enums travel, as it decides certificate_properties.
    return enums.in_form(spec.run(ctx, bound), ctx.server.enum_form)

