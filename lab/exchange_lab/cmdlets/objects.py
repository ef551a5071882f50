"""The objects cmdlets return, flattened the way the payload flattens Exchange's objects.
"""

from __future__ import annotations

from typing import Any

from ..model import (
    AUTH_BITS, SERVICE_BITS, Certificate, ReceiveConnector, SendConnector, Server, flags_to_string,
)


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
    # Exchange 2013 kept Client Access as a role of its own: "Mailbox, ClientAccess" (CSS-Exchange E15 GetExchangeServer.xml).
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

