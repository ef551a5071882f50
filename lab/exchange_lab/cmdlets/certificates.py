"""Get-ExchangeCertificate and Enable-ExchangeCertificate.
"""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name

from .. import pfx
from ..model import Certificate, Server, _selection_order
from .core import CmdletError, Context, _parameter_set_error, _target_server, _transport_view, _wrote
from .objects import certificate_object


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
# (docs/exchange-behaviour.md#sessions): PowerShell
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


# -- certificate rollout (lab/docs/scenario-format.md, additions) --


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
