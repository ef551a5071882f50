"""What every cmdlet shares: the error type, the call context, PowerShell-style parameter binding, and
reads and writes through the simulated directory (replication).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name

from ..model import SERVICE_BITS, Organization, Server


TRANSPORT_SERVICES = ("MSExchangeTransport", "MSExchangeFrontEndTransport")


class CmdletError(Exception):
    """A terminating error of a cmdlet, as ErrorAction Stop turns every error into."""

    def __init__(self, message: str, error_id: str, category: str = "InvalidOperation"):
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category


@dataclass
class Context:
    org: Organization
    server: Server                     # the server whose session runs the cmdlet
    warnings: list[str] = field(default_factory=list)
    wrote: bool = False                # did this cmdlet change anything
    dc: str | None = None              # the domain controller serving it (None on Edge: its AD LDS is local)


@dataclass
class Param:
    name: str
    kind: str = "str"                  # str | switch | strlist | services | int | tlsname | any
    mandatory: bool = False


def _not_found(ident: str, cmdlet: str, ctx: Context) -> CmdletError:
    dc = "localhost" if ctx.server.is_edge else f"DC01.{ctx.org.name}.com"
    return CmdletError(
        f"The operation couldn't be performed because object '{ident}' couldn't be found on '{dc}'.",
        f"ManagementObjectNotFoundException,{cmdlet}",
        "NotSpecified",
    )


def _bind(cmdlet: str, params: list[Param], given: dict[str, Any]) -> dict[str, Any]:
    by_lower = {p.name.lower(): p for p in params}
    bound: dict[str, Any] = {}
    for raw_name, value in given.items():
        key = str(raw_name).lower()
        param = by_lower.get(key)
        if param is None:
            prefixed = [p for n, p in by_lower.items() if n.startswith(key)]
            if len(prefixed) > 1:
                names = ", ".join(p.name for p in prefixed)
                raise CmdletError(
                    f"Parameter cannot be processed because the parameter name '{raw_name}' is ambiguous. "
                    f"Possible matches include: {names}.",
                    f"AmbiguousParameter,{cmdlet}",
                    "InvalidArgument",
                )
            if not prefixed:
                raise CmdletError(
                    f"A parameter cannot be found that matches parameter name '{raw_name}'.",
                    f"NamedParameterNotFound,{cmdlet}",
                    "InvalidArgument",
                )
            param = prefixed[0]
        if param.name in bound:
            raise CmdletError(
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once.",
                f"ParameterAlreadyBound,{cmdlet}",
                "InvalidArgument",
            )
        bound[param.name] = _convert(cmdlet, param, value)
    for p in params:
        if p.mandatory and p.name not in bound:
            raise CmdletError(
                f"Cannot process command because of one or more missing mandatory parameters: {p.name}.",
                f"MissingMandatoryParameter,{cmdlet}",
                "InvalidArgument",
            )
    return bound


def _convert(cmdlet: str, param: Param, value: Any) -> Any:
    def bad(expected: str) -> CmdletError:
        return CmdletError(
            f"Cannot bind parameter '{param.name}'. Cannot convert value \"{value}\" to type \"{expected}\".",
            f"CannotConvertArgumentNoMessage,{cmdlet}",
            "InvalidArgument",
        )

    if param.kind == "switch":
        if isinstance(value, bool):
            return value
        raise bad("System.Management.Automation.SwitchParameter")
    if param.kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise bad("System.Int32")
        try:
            return int(value)
        except ValueError:
            raise bad("System.Int32") from None
    if param.kind == "strlist":
        items = value if isinstance(value, list) else [value]
        if any(isinstance(i, (dict, list)) for i in items):
            raise bad("System.String[]")
        return [str(i) for i in items]
    if param.kind == "services":
        items = value if isinstance(value, list) else str(value).split(",")
        names = []
        for item in items:
            item = str(item).strip()
            match = next((n for n in list(SERVICE_BITS) + ["None"] if n.lower() == item.lower()), None)
            if match is None:
                raise CmdletError(
                    f"Cannot bind parameter 'Services'. Cannot convert value \"{item}\" to type "
                    "\"Microsoft.Exchange.Management.SystemConfigurationTasks.AllowedServices\". Error: \"Unable to "
                    "match the identifier name "
                    f"{item} to a valid enumerator name. Specify one of the following enumerator names and try again: "
                    "None, Federation, IIS, IMAP, POP, SMTP, UM, UMCallRouter\"",
                    f"CannotConvertArgumentNoMessage,{cmdlet}",
                    "InvalidArgument",
                )
            names.append(match)
        return set(names) - {"None"}
    if param.kind == "tlsname":
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad("Microsoft.Exchange.Data.SmtpX509Identifier")
        try:
            return str(tls_name.normalize_tls_certificate_name(value))
        except (tls_name.TlsCertificateNameError, x500.X500Error) as exc:
            raise CmdletError(
                f"Cannot process argument transformation on parameter 'TlsCertificateName'. Cannot convert value "
                f"\"{value}\" to type \"Microsoft.Exchange.Data.SmtpX509Identifier\". Error: \"{exc}\"",
                f"ParameterArgumentTransformationError,{cmdlet}",
                "InvalidData",
            ) from None
    if param.kind == "any":
        return value
    if isinstance(value, (dict, list)):
        raise bad("System.String")
    if value is None:
        raise CmdletError(
            f"Cannot bind argument to parameter '{param.name}' because it is null.",
            f"ParameterArgumentValidationErrorNullNotAllowed,{cmdlet}",
            "InvalidData",
        )
    # PowerShell's string conversion: [string]$true is "True", [string]5 is "5".
    return value if isinstance(value, str) else str(value)


# The attributes of each directory object the allow-listed Set-* cmdlets and Enable-ExchangeCertificate write.
_REPLICATED = {
    "receive": ("TlsCertificateName", "AuthMechanism", "RequireTLS", "Fqdn"),
    "send": ("TlsCertificateName",),
    "hybrid": ("TlsCertificateName",),
    "transport": ("InternalTransportCertificateThumbprint",),
}


def _read(ctx: Context, key: tuple, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as the serving domain controller has it, with the OriginatingServer Exchange reports."""
    obj = ctx.org.directory.view(key, ctx.dc, obj)
    obj["OriginatingServer"] = ctx.dc or ctx.server.fqdn
    return obj


def _replicated(key: tuple, obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj.get(k) for k in _REPLICATED[key[0]]}


def _wrote(ctx: Context, key: tuple, before: dict[str, Any], after: dict[str, Any]) -> None:
    ctx.org.directory.wrote(key, ctx.dc, _replicated(key, before), _replicated(key, after))


def _transport_view(server: Server) -> dict[str, Any]:
    return {"InternalTransportCertificateThumbprint": server.internal_transport_certificate}


# -- the cmdlets ----------------------------------------------------------------


def _visible_servers(ctx: Context) -> list[Server]:
    # An Edge server sees only itself (its AD LDS); a Mailbox server sees the organisation's AD.
    if ctx.server.is_edge:
        return [ctx.server]
    return [s for s in ctx.org.servers.values() if not s.is_edge] + [
        s for s in ctx.org.servers.values() if s.is_edge
    ]


def _target_server(ctx: Context, name: str | None, cmdlet: str) -> Server:
    if name is None:
        return ctx.server
    target = ctx.org.server(name)
    if target is None or (ctx.server.is_edge and target is not ctx.server):
        raise _not_found(name, cmdlet, ctx)
    return target


def _parameter_set_error(cmdlet: str) -> CmdletError:
    return CmdletError(
        "Parameter set cannot be resolved using the specified named parameters.",
        f"AmbiguousParameterSet,Microsoft.Exchange.Management.SystemConfigurationTasks.{cmdlet}",
        "InvalidArgument",
    )

