"""The allow-listed cmdlets, implemented on the model.

Each cmdlet binds its parameters the way PowerShell does (names are
case-insensitive and may be abbreviated to a unique prefix; an unknown or
ambiguous name fails binding) and then follows Microsoft's documented
semantics. Output objects hold values the way the payload would flatten them:
enums and Exchange value types as their ToString(), dates as UTC datetimes.
Error texts follow Exchange's where the documentation or real output is known;
where it is not, the text says what happened in Exchange's style and the lab
README lists it as the lab's own wording.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.exchange.transport_tls.plugins.module_utils import tls_name, x500

from . import enums, pfx
from .model import (
    AUTH_BITS,
    SERVICE_BITS,
    Certificate,
    DirectoryError,
    Organization,
    ReceiveConnector,
    SendConnector,
    Server,
    _selection_order,
    flags_to_string,
)

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


# -- object views -------------------------------------------------------------


def certificate_object(cert: Certificate, server: Server) -> dict[str, Any]:
    return {
        "Thumbprint": cert.thumbprint,
        "Subject": cert.subject,
        "Issuer": cert.issuer,
        "NotBefore": cert.not_before,
        "NotAfter": cert.not_after,
        "Services": flags_to_string(cert.services, SERVICE_BITS),
        "Status": cert.status,
        "HasPrivateKey": cert.has_private_key,
        "IsSelfSigned": cert.self_signed,
        "RootCAType": cert.root_ca_type,
        "CertificateDomains": list(cert.domains),
        "SerialNumber": cert.minted.serial_number,
        "FriendlyName": cert.friendly_name or "",
        "Identity": f"{server.fqdn}\\{cert.thumbprint}",
        "PublicKeySize": cert.minted.public_key_size,
        # An Oid, which the payload's ToString() flattening turns into its type name.
        "SignatureAlgorithm": "System.Security.Cryptography.Oid",
        "RawData": cert.minted.der,
    }


def receive_connector_object(rc: ReceiveConnector) -> dict[str, Any]:
    return {
        "Identity": rc.identity,
        "Name": rc.name,
        "Server": rc.server.name,
        "TransportRole": rc.transport_role or "HubTransport",
        "Bindings": list(rc.bindings),
        "Fqdn": rc.fqdn,
        "AuthMechanism": flags_to_string(rc.auth_mechanism, AUTH_BITS),
        "PermissionGroups": ", ".join(rc.permission_groups) if rc.permission_groups else "None",
        "TlsDomainCapabilities": list(rc.tls_domain_capabilities),
        "TlsCertificateName": rc.tls_certificate_name,
        "RequireTLS": rc.require_tls,
        # IPRange.ToString(): the entry in the form it was given (single address, CIDR or Lo-Hi).
        "RemoteIPRanges": list(rc.remote_ip_ranges),
        "Enabled": True,
    }


def send_connector_object(sc: SendConnector) -> dict[str, Any]:
    return {
        "Identity": sc.name,
        "Name": sc.name,
        "AddressSpaces": list(sc.address_spaces),
        "SourceTransportServers": list(sc.source_transport_servers),
        "Fqdn": sc.fqdn,
        "TlsCertificateName": sc.tls_certificate_name,
        "TlsAuthLevel": sc.tls_auth_level,
        "TlsDomain": sc.tls_domain,
        "RequireTLS": sc.require_tls,
        "CloudServicesMailEnabled": sc.cloud_services_mail_enabled,
        "SmartHosts": list(sc.smart_hosts),
        "DNSRoutingEnabled": not sc.smart_hosts,
        "Enabled": True,
    }


def _version_string(version: str) -> str:
    parts = version.split(".")
    if len(parts) >= 4:
        return f"Version {parts[0]}.{parts[1]} (Build {parts[2]}.{parts[3]})"
    return f"Version {version}"


def _server_role(server: Server) -> str:
    # Exchange 2013 kept Client Access as a role of its own: "Mailbox, ClientAccess" (real-object-shapes.md section 7).
    if server.is_edge:
        return "Edge"
    return "Mailbox, ClientAccess" if server.version.startswith("15.0.") else "Mailbox"


def _site(server: Server) -> str | None:
    # An ADObjectId's ToString() is its canonical path; an Edge server is in no site.
    if server.is_edge:
        return None
    return f"{server.fqdn.split('.', 1)[-1]}/Configuration/Sites/Default-First-Site-Name"


def server_object(server: Server) -> dict[str, Any]:
    return {
        "Name": server.name,
        "Identity": server.name,
        "Fqdn": server.fqdn,
        "Site": _site(server),
        "ServerRole": _server_role(server),
        "IsEdgeServer": server.is_edge,
        "AdminDisplayVersion": _version_string(server.version),
        "Edition": "Standard",
    }


# -- directory replication (model.Directory) ---------------------------------------

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


def get_exchange_server(ctx: Context, p: dict) -> list[dict]:
    if "Identity" in p:
        return [dict(server_object(_target_server(ctx, p["Identity"], "GetExchangeServer")), OriginatingServer=ctx.dc or ctx.server.fqdn)]
    return [dict(server_object(s), OriginatingServer=ctx.dc or ctx.server.fqdn) for s in _visible_servers(ctx)]


def _parameter_set_error(cmdlet: str) -> CmdletError:
    return CmdletError(
        "Parameter set cannot be resolved using the specified named parameters.",
        f"AmbiguousParameterSet,Microsoft.Exchange.Management.SystemConfigurationTasks.{cmdlet}",
        "InvalidArgument",
    )


def _certificate(ctx: Context, p: dict, cmdlet: str) -> tuple[Server, Certificate | None]:
    """The server and certificate named by -Thumbprint, -Identity ([SERVER\\]THUMBPRINT) and -Server."""
    if "Identity" in p and ("Server" in p or "Thumbprint" in p):
        raise _parameter_set_error(cmdlet)
    server = _target_server(ctx, p.get("Server"), cmdlet)
    thumbprint = p.get("Thumbprint")
    if "Identity" in p:
        thumbprint = p["Identity"]
        if "\\" in thumbprint:
            server_name, thumbprint = thumbprint.split("\\", 1)
            server = _target_server(ctx, server_name, cmdlet)
    if thumbprint is None:
        return server, None
    cert = server.certificate(thumbprint)
    if cert is None:
        raise CmdletError(
            f"The certificate with thumbprint {thumbprint.replace(' ', '').upper()} was not found.",
            f"ObjectNotFound,Microsoft.Exchange.Management.SystemConfigurationTasks.{cmdlet}",
            "ObjectNotFound",
        )
    return server, cert


# What reaches the client when the Exchange types cannot be rehydrated
# (exchange-reference.md section 1; real-object-shapes.md section 2): PowerShell
# serializes an X509Certificate2 as RawData alone and rebuilds it on the client
# (types.ps1xml: PropertySerializationSet RawData, DeserializingTypeConverter), so
# a plain remote session sees the X509Certificate2 members of that copy: no
# Exchange property, a FriendlyName that is empty (it is a store property, not in
# the DER) and HasPrivateKey false (the copy has no key), whatever the server's
# store holds. A failed signed deserialisation keeps only RawData.
_CERTIFICATE_VIEWS = {
    "remote": frozenset({"Thumbprint", "Subject", "Issuer", "NotBefore", "NotAfter", "HasPrivateKey",
                         "SerialNumber", "FriendlyName", "SignatureAlgorithm", "RawData"}),
    "raw_data": frozenset({"RawData"}),
}
_CLIENT_COPY = {"remote": {"HasPrivateKey": False, "FriendlyName": ""}}


def get_exchange_certificate(ctx: Context, p: dict) -> list[dict]:
    server, cert = _certificate(ctx, p, "GetExchangeCertificate")
    certs = server.store() if cert is None else [cert]
    if "DomainName" in p:
        names = p["DomainName"]
        certs = sorted((c for c in certs if any(c.covers(n) for n in names)), key=_selection_order)
    objects = [certificate_object(c, server) for c in certs]
    # The session's server decides, not -Server's target: the loss happens between
    # the session and its client.
    kept = _CERTIFICATE_VIEWS.get(ctx.server.certificate_properties)
    if kept is not None:
        copy = _CLIENT_COPY.get(ctx.server.certificate_properties, {})
        objects = [{k: copy.get(k, v) for k, v in o.items() if k in kept} for o in objects]
    return objects


def enable_exchange_certificate(ctx: Context, p: dict) -> list[dict]:
    server, cert = _certificate(ctx, p, "EnableExchangeCertificate")
    if cert is None:
        raise CmdletError(
            "Cannot process command because of one or more missing mandatory parameters: Thumbprint.",
            "MissingMandatoryParameter,Microsoft.Exchange.Management.SystemConfigurationTasks.EnableExchangeCertificate",
            "InvalidArgument",
        )
    services = p["Services"]
    if not cert.has_private_key:
        raise CmdletError(
            f"The certificate with thumbprint {cert.thumbprint} doesn't have a private key, so it can't be enabled "
            "for services.",
            "InvalidOperation,Microsoft.Exchange.Management.SystemConfigurationTasks.EnableExchangeCertificate",
        )
    replaces_default = "SMTP" in services and server.internal_transport_certificate != cert.thumbprint
    if replaces_default and not p.get("Force", False):
        # The "Overwrite the existing default SMTP certificate?" prompt cannot be
        # answered in a non-interactive host: the call fails and nothing changes.
        current = server.certificate(server.internal_transport_certificate or "") if server.internal_transport_certificate else None
        current_text = (
            f"'{current.thumbprint}' (expires {current.not_after:%m/%d/%Y %H:%M:%S})" if current else "(none)"
        )
        raise CmdletError(
            "Overwrite the existing default SMTP certificate?\n\n"
            f"Current certificate: {current_text}\n"
            f"Replace it with certificate: '{cert.thumbprint}' (expires {cert.not_after:%m/%d/%Y %H:%M:%S})\n"
            "PowerShell is running non-interactively and cannot ask for confirmation: "
            "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
            "HostException,Microsoft.Exchange.Management.SystemConfigurationTasks.EnableExchangeCertificate",
            "NotSpecified",
        )
    before = (set(cert.services), server.internal_transport_certificate)
    cert.services |= services
    if "SMTP" in services:
        server.internal_transport_certificate = cert.thumbprint
        # The default is msExchServerInternalTLSCert on the server's directory object: it replicates.
        _wrote(ctx, ("transport", server.name.lower()), {"InternalTransportCertificateThumbprint": before[1]},
               _transport_view(server))
    if (set(cert.services), server.internal_transport_certificate) != before:
        ctx.wrote = True
    else:
        ctx.warnings.append(f"The command completed successfully but no settings of '{cert.thumbprint}' have been modified.")
    return []


def _find_receive_connectors(ctx: Context, ident: str, cmdlet: str) -> ReceiveConnector:
    if "\\" in ident:
        server_name, name = ident.split("\\", 1)
        server = ctx.org.server(server_name)
        scope = [server] if server is not None and (not ctx.server.is_edge or server is ctx.server) else []
    else:
        # A bare connector name means the local server's connector (Get-ReceiveConnector docs, example 2).
        name, scope = ident, [ctx.server]
    found = [rc for s in scope for rc in s.receive_connectors if rc.name.lower() == name.lower()]
    if not found:
        raise _not_found(ident, cmdlet, ctx)
    if len(found) > 1:
        raise CmdletError(
            f"The operation couldn't be performed because '{ident}' matches multiple entries.",
            f"ManagementObjectAmbiguousException,{cmdlet}",
            "NotSpecified",
        )
    return found[0]


def get_receive_connector(ctx: Context, p: dict) -> list[dict]:
    if "Identity" in p and "Server" in p:
        raise _parameter_set_error("GetReceiveConnector")
    if "Identity" in p:
        found = [_find_receive_connectors(ctx, p["Identity"], "GetReceiveConnector")]
    else:
        servers = [_target_server(ctx, p["Server"], "GetReceiveConnector")] if "Server" in p else _visible_servers(ctx)
        found = [rc for s in servers for rc in s.receive_connectors]
    return [_read(ctx, ("receive", rc.identity.lower()), receive_connector_object(rc)) for rc in found]


def _no_change(ctx: Context, ident: str) -> None:
    ctx.warnings.append(f"The command completed successfully but no settings of '{ident}' have been modified.")


def set_receive_connector(ctx: Context, p: dict) -> list[dict]:
    rc = _find_receive_connectors(ctx, p["Identity"], "SetReceiveConnector")
    auth = list(rc.auth_mechanism)
    if "AuthMechanism" in p:
        auth = []
        for item in p["AuthMechanism"]:
            for part in item.split(","):
                match = next((n for n in list(AUTH_BITS) + ["None"] if n.lower() == part.strip().lower()), None)
                if match is None:
                    raise CmdletError(
                        f"Cannot bind parameter 'AuthMechanism'. Cannot convert value \"{part.strip()}\" to type "
                        "\"Microsoft.Exchange.Data.AuthMechanisms\".",
                        "CannotConvertArgumentNoMessage,SetReceiveConnector",
                        "InvalidArgument",
                    )
                if match != "None":
                    auth.append(match)
    require_tls = p.get("RequireTLS", rc.require_tls)
    if require_tls and "Tls" not in auth:
        raise CmdletError(
            "The RequireTLS parameter can't be set to $true when Tls isn't one of the AuthMechanism values.",
            "InvalidOperation,SetReceiveConnector",
        )
    value = p.get("TlsCertificateName")
    if rc.server.is_edge and value is not None and len(value) > tls_name.EDGE_NAME_LIMIT:
        # The Edge's AD LDS schema caps ms-Exch-Smtp-TLS-Certificate at 256 characters (KB 4052493): the
        # directory refuses the write (a constraint violation) and nothing changes. The lab's wording.
        raise CmdletError(
            f"Active Directory operation failed on {rc.server.fqdn}. This error is not retriable. Additional "
            "information: A constraint violation occurred. Active directory response: 0000202F: AtrErr: the value of "
            f"msExchSmtpTLSCertificate is {len(value)} characters; the schema allows at most {tls_name.EDGE_NAME_LIMIT}.",
            "ADOperationException,SetReceiveConnector",
            "WriteError",
        )
    seen = receive_connector_object(rc)
    before = (rc.tls_certificate_name, rc.auth_mechanism, rc.require_tls, rc.fqdn)
    if "TlsCertificateName" in p:
        rc.tls_certificate_name = p["TlsCertificateName"]
    rc.auth_mechanism, rc.require_tls = auth, require_tls
    if "Fqdn" in p:
        rc.fqdn = p["Fqdn"]
    if (rc.tls_certificate_name, rc.auth_mechanism, rc.require_tls, rc.fqdn) == before:
        _no_change(ctx, rc.identity)
        return []
    ctx.wrote = True
    _wrote(ctx, ("receive", rc.identity.lower()), seen, receive_connector_object(rc))
    ctx.org.connector_changed(rc)
    return []


def _subscribed_edge(ctx: Context) -> bool:
    return ctx.server.is_edge and ctx.server.edge_subscription_certificate is not None


def get_send_connector(ctx: Context, p: dict) -> list[dict]:
    connectors = ctx.org.send_connectors
    if ctx.server.is_edge:
        # EdgeSync replicates to an Edge the send connectors it is a source server of.
        connectors = [c for c in connectors if ctx.server.name in c.source_transport_servers]
    if "Identity" in p:
        found = [c for c in connectors if c.name.lower() == p["Identity"].lower()]
        if not found:
            raise _not_found(p["Identity"], "GetSendConnector", ctx)
        connectors = found
    # An Edge reads its own EdgeSync copy of the name; a Mailbox server reads the directory.
    return [_read(ctx, ("send", c.name.lower()), dict(send_connector_object(c), TlsCertificateName=ctx.org.name_on(c, ctx.server)))
            for c in connectors]


def set_send_connector(ctx: Context, p: dict) -> list[dict]:
    if _subscribed_edge(ctx):
        raise CmdletError(
            "Set-SendConnector is disabled on this Edge Transport server because it is subscribed to an Active "
            "Directory site (EdgeSync). Change the send connector on a Mailbox server; EdgeSync replicates it.",
            "InvalidOperation,SetSendConnector",
        )
    sc = ctx.org.send_connector(p["Identity"])
    if sc is None:
        raise _not_found(p["Identity"], "SetSendConnector", ctx)
    before = (sc.tls_certificate_name,)
    if "TlsCertificateName" in p:
        sc.tls_certificate_name = p["TlsCertificateName"]
    if (sc.tls_certificate_name,) == before:
        _no_change(ctx, sc.name)
        return []
    ctx.wrote = True
    _wrote(ctx, ("send", sc.name.lower()), {"TlsCertificateName": before[0]}, {"TlsCertificateName": sc.tls_certificate_name})
    ctx.org.edge_sync(sc)
    return []


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


# -- certificate rollout (lab-scenarios.md, Additions) ------------------------------------------


def _rpc_error(server: Server, text: str, cmdlet: str, error_id: str) -> CmdletError:
    # The store cmdlets run on the target server through Exchange's RPC to its service host; a refusal
    # there reaches the client prefixed like this (Microsoft Learn, "Can't remove a certificate that's
    # installed in Exchange Server").
    return CmdletError(f"A special Rpc error occurs on server {server.name}: {text}",
                       f"{error_id},Microsoft.Exchange.Management.SystemConfigurationTasks.{cmdlet}", "InvalidOperation")


def _new_id(server: Server, thumbprint: str) -> str:
    base = f"imported-{thumbprint[:8].lower()}"
    taken = {c.id for c in server.certificates}
    return base if base not in taken else next(f"{base}-{n}" for n in range(2, 1000) if f"{base}-{n}" not in taken)


def import_exchange_certificate(ctx: Context, p: dict) -> list[dict]:
    server = _target_server(ctx, p.get("Server"), "ImportExchangeCertificate")
    data = p["FileData"]
    if not isinstance(data, (bytes, bytearray)):
        raise CmdletError(
            "Cannot bind parameter 'FileData'. Cannot convert value to type \"System.Byte[]\".",
            "CannotConvertArgumentNoMessage,Microsoft.Exchange.Management.SystemConfigurationTasks.ImportExchangeCertificate",
            "InvalidArgument",
        )
    try:
        content = pfx.read_pfx(bytes(data), p.get("Password"))
    except pfx.PfxError as exc:
        # Windows' CryptographicException for a PFX its password does not open (the lab's wording for
        # Exchange's wrapper around it).
        text = "The specified network password is not correct." if exc.wrong_password else str(exc)
        raise CmdletError(
            f"Cannot import the certificate: {text}",
            "CryptographicException,Microsoft.Exchange.Management.SystemConfigurationTasks.ImportExchangeCertificate",
            "InvalidData",
        ) from None
    thumbprint = content.minted.thumbprint
    if server.certificate(thumbprint) is not None:
        # The lab's wording: Exchange refuses a certificate its store already holds.
        raise CmdletError(
            f"The certificate with thumbprint {thumbprint} already exists in the certificate store on {server.name}.",
            "InvalidOperation,Microsoft.Exchange.Management.SystemConfigurationTasks.ImportExchangeCertificate",
        )
    server.certificates = [c for c in server.certificates if c.thumbprint != thumbprint]
    cert = Certificate(
        id=_new_id(server, thumbprint),
        subject=content.minted.subject,
        issuer=content.minted.issuer,
        self_signed=content.self_signed,
        domains=content.domains,
        not_before=content.not_before,
        not_after=content.not_after,
        services=set(),
        has_private_key=content.has_private_key,
        status="Valid",
        in_store=True,
        minted=content.minted,
        friendly_name=content.friendly_name,
        root_ca_type="Registry" if content.self_signed else "ThirdParty",
        key=content.key,
        signature_hash=content.signature_hash,
        eku=content.eku,
        include_chain=content.include_chain,
        exportable=bool(p.get("PrivateKeyExportable", False)),
    )
    server.certificates.append(cert)
    ctx.wrote = True
    return [certificate_object(cert, server)]


def _named_by_send_connectors(ctx: Context, server: Server, cert: Certificate) -> list[str]:
    names = []
    for sc in ctx.org.send_connectors:
        if server.is_edge and server.name not in sc.source_transport_servers:
            continue
        value = ctx.org.name_on(sc, server) if server.is_edge else sc.tls_certificate_name
        try:
            wanted = tls_name.parse_tls_certificate_name(value) if value else None
        except tls_name.TlsCertificateNameError:
            wanted = None
        if wanted is not None and cert.subject.lower() == wanted.subject.lower() and (
                wanted.issuer is None or cert.issuer.lower() == wanted.issuer.lower()):
            names.append(sc.name)
    return names


def remove_exchange_certificate(ctx: Context, p: dict) -> list[dict]:
    server, cert = _certificate(ctx, p, "RemoveExchangeCertificate")
    if cert is None:
        raise CmdletError(
            "Cannot process command because of one or more missing mandatory parameters: Thumbprint.",
            "MissingMandatoryParameter,Microsoft.Exchange.Management.SystemConfigurationTasks.RemoveExchangeCertificate",
            "InvalidArgument",
        )
    if p.get("Confirm", True):
        # ConfirmImpact High: "Are you sure you want to perform this action? Remove certificate with thumbprint
        # ... from the computer's certificate store?" cannot be answered without a host (-Confirm:$false can).
        raise CmdletError(
            f"Are you sure you want to perform this action?\nRemove certificate with thumbprint {cert.thumbprint} from "
            "the computer's certificate store?\nPowerShell is running non-interactively and cannot ask for confirmation: "
            "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
            "HostException,Microsoft.Exchange.Management.SystemConfigurationTasks.RemoveExchangeCertificate",
            "NotSpecified",
        )
    connectors = _named_by_send_connectors(ctx, server, cert)
    if connectors:
        raise _rpc_error(server, (
            f"These certificates are tagged with following Send Connectors : {', '.join(connectors)}. Removing and "
            "replacing certificates from Send Connector would break the mail flow. If you still want to proceed then "
            "replace or remove these certificates from Send Connector and then try this command."),
            "RemoveExchangeCertificate", "InvalidOperation")
    if server.internal_transport_certificate == cert.thumbprint:
        raise _rpc_error(server, (
            "The internal transport certificate cannot be removed because that would cause the Microsoft Exchange "
            "Transport service to stop. To replace the internal transport certificate, create a new certificate. The "
            "new certificate will automatically become the internal transport certificate. You can then remove the "
            "existing certificate."), "RemoveExchangeCertificate", "DCA528C3")
    auth = ctx.org.auth_certificates()
    if cert.thumbprint in auth.values():
        which = "current" if auth.get("current") == cert.thumbprint else "next"
        # The lab's wording: the organisation's Auth configuration names it (Get-AuthConfig).
        raise _rpc_error(server, (
            f"The certificate with thumbprint {cert.thumbprint} is the {which} Auth certificate of the organization "
            "(Get-AuthConfig) and cannot be removed."), "RemoveExchangeCertificate", "InvalidOperation")
    server.certificates.remove(cert)
    ctx.wrote = True
    return []


def export_exchange_certificate(ctx: Context, p: dict) -> list[dict]:
    server, cert = _certificate(ctx, p, "ExportExchangeCertificate")
    if cert is None:
        raise CmdletError(
            "Cannot process command because of one or more missing mandatory parameters: Thumbprint.",
            "MissingMandatoryParameter,Microsoft.Exchange.Management.SystemConfigurationTasks.ExportExchangeCertificate",
            "InvalidArgument",
        )
    if not cert.has_private_key or not cert.exportable:
        raise CmdletError(
            "The private key couldn't be exported as PKCS-12. It either couldn't be accessed or isn't exportable.",
            "InvalidOperation,Microsoft.Exchange.Management.SystemConfigurationTasks.ExportExchangeCertificate",
        )
    return [{"FileData": pfx.build_pfx(cert.minted, p.get("Password"), friendly_name=cert.friendly_name)}]


def get_auth_config(ctx: Context, p: dict) -> list[dict]:
    _hybrid(ctx, "Get-AuthConfig")  # not on an Edge server: its shell has no organisation configuration
    auth = ctx.org.auth_certificates()
    return [_read(ctx, ("auth",), {
        "Identity": "Auth Configuration",
        "CurrentCertificateThumbprint": auth.get("current"),
        "NextCertificateThumbprint": auth.get("next"),
        "ServiceName": "00000002-0000-0ff1-ce00-000000000000",
    })]


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
            "Test-EdgeSynchronization",
            [Param("ExcludeRecipientTest", "switch"), Param("FullCompareMode", "switch"), Param("TargetServer"),
             Param("MaxReportSize", "int"), Param("MonitoringContext", "any")] + _COMMON,
            test_edge_synchronization,
        ),
        CmdletSpec(
            "Get-WinEvent",
            [Param("LogName", "strlist"), Param("FilterXPath"), Param("FilterHashtable", "any"), Param("MaxEvents", "int")],
            get_win_event,
        ),
        CmdletSpec("Restart-Service", [Param("Name", "strlist", mandatory=True)], restart_service),
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
