"""Get-ExchangeCertificate and Enable-ExchangeCertificate.
"""

from __future__ import annotations

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

