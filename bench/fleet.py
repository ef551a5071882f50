"""Synthetic Exchange fleets for the benchmark, in the lab's scenario format (lab/docs/scenario-format.md).

``fleet(n, launch_seconds)`` returns a scenario of ``n`` servers the morning after a
certificate renewal, with the mix a real organisation has. Per block of ten servers:

====  ===================================================================================
slot  server
====  ===================================================================================
0     Mailbox, its hybrid Frontend connector names the deleted R10 certificate
1     Mailbox, two stale connectors (Default Frontend on 25, Client Frontend on 587)
2     Mailbox, healthy: its connector already names the R11 renewal
3     Mailbox, stale
4     Mailbox, stale, and the renewal has only IIS: SMTP must be enabled first
5     Mailbox, stale
6     Mailbox, healthy
7     Mailbox, stale
8     Mailbox, stale
9     Edge, its commercial certificate was renewed without OU=; the connector names the old one
====  ===================================================================================

One send connector ("Outbound to Office 365") has the first four Mailbox servers as
source servers and, like the hybrid configuration, still names the R10 certificate.
The same renewal is one certificate imported on every Mailbox server (one PFX), so
the lab mints it once.
"""

from __future__ import annotations

from typing import Any, Dict, List

R10 = {"subject": "CN=mail.contoso.com", "issuer": "CN=R10, O=Let's Encrypt, C=US"}
R11 = {"subject": "CN=mail.contoso.com", "issuer": "CN=R11, O=Let's Encrypt, C=US"}
DIGICERT = "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"
SEND_CONNECTOR = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"
SLOTS = ("stale", "two_stale", "healthy", "stale", "smtp_missing", "stale", "healthy", "stale", "stale", "edge")
SOURCE_SERVERS = 4


def server_name(index: int, kind: str, width: int) -> str:
    return f"{'EDGE' if kind == 'edge' else 'EX'}{index + 1:0{width}d}"


def fleet(n: int, launch_seconds: float = 0.0) -> Dict[str, Any]:
    if n < 1:
        raise ValueError(f"a fleet needs at least 1 server, got n={n}")
    width = max(2, len(str(n)))
    servers = []
    for i in range(n):
        kind = SLOTS[i % len(SLOTS)]
        name = server_name(i, kind, width)
        servers.append(_edge(name) if kind == "edge" else _mailbox(name, kind))
    mailboxes = [s["name"] for s in servers if s["role"] == "Mailbox"]
    sources = mailboxes[:SOURCE_SERVERS]
    scenario: Dict[str, Any] = {
        "format": 1,
        "organization": "contoso",
        "now": "2026-11-27T12:00:00Z",
        "latency": {"launch_seconds": float(launch_seconds)},
        "servers": servers,
    }
    if sources:
        # The first source holds the R10 certificate's record (in_store: false), so the name resolves.
        old = {"certificate": f"{sources[0]}/le-r10"} if _holds_r10(servers[0]) else _literal(R10)
        scenario["hybrid_configuration"] = {
            "tls_certificate_name": old,
            "receiving_transport_servers": sources[:1],
            "sending_transport_servers": sources,
            "edge_transport_servers": [],
        }
        scenario["send_connectors"] = [{
            "name": SEND_CONNECTOR,
            "address_spaces": ["smtp:contoso.mail.onmicrosoft.com;1"],
            "source_transport_servers": sources,
            "fqdn": "mail.contoso.com",
            "tls_certificate_name": old,
            "tls_auth_level": "DomainValidation",
            "tls_domain": "mail.protection.outlook.com",
            "require_tls": True,
            "cloud_services_mail_enabled": True,
        }]
    return scenario


def expected_changes(scenario: Dict[str, Any]) -> Dict[str, int]:
    """What a correct remediation changes: connectors per server, certificates given SMTP, org objects."""
    receive = {}
    smtp = 0
    for server in scenario["servers"]:
        stale = [c for c in server["receive_connectors"] if c.get("tls_certificate_name") in
                 ({"certificate": "le-r10"}, {"certificate": "digicert-2025"})]
        receive[server["name"]] = len(stale)
        smtp += any(c["id"] in ("le-r11",) and "SMTP" not in c["services"] for c in server["certificates"])
    org = 2 if "send_connectors" in scenario else 0
    return {"receive_connectors": sum(receive.values()), "smtp_enabled": smtp, "organization_objects": org,
            "servers_changed": sum(1 for v in receive.values() if v)}


def _literal(cert: Dict[str, str]) -> str:
    return f"<I>{cert['issuer']}<S>{cert['subject']}"


def _holds_r10(server: Dict[str, Any]) -> bool:
    return any(c["id"] == "le-r10" for c in server["certificates"])


def _selfsigned(name: str, services: List[str]) -> Dict[str, Any]:
    return {"id": "selfsigned", "subject": f"CN={name}", "self_signed": True,
            "domains": [name, f"{name.lower()}.contoso.com"], "not_before": "2024-03-01",
            "not_after": "2029-03-01", "services": services}


def _frontend(name: str, port: int, label: str, cert: str, *, hybrid: bool) -> Dict[str, Any]:
    connector = {
        "name": f"{label} {name}",
        "transport_role": "FrontendTransport",
        "bindings": [f"0.0.0.0:{port}", f"[::]:{port}"],
        "fqdn": "mail.contoso.com",
        "auth_mechanism": ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"],
        "permission_groups": ["AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"],
        "tls_certificate_name": {"certificate": cert},
    }
    if hybrid:
        connector["tls_domain_capabilities"] = ["mail.protection.outlook.com:AcceptCloudServicesMail"]
    return connector


def _mailbox(name: str, kind: str) -> Dict[str, Any]:
    healthy = kind == "healthy"
    certificates = [_selfsigned(name, ["IMAP", "POP", "IIS", "SMTP"])]
    if not healthy:
        certificates.append({"id": "le-r10", **R10, "domains": ["mail.contoso.com", "autodiscover.contoso.com"],
                             "not_before": "2026-07-22", "not_after": "2026-10-20", "services": ["IIS", "SMTP"],
                             "in_store": False})
    certificates.append({"id": "le-r11", **R11, "domains": ["mail.contoso.com", "autodiscover.contoso.com"],
                         "not_before": "2026-10-19", "not_after": "2027-01-17",
                         "services": ["IIS"] if kind == "smtp_missing" else ["IIS", "SMTP"]})
    named = "le-r11" if healthy else "le-r10"
    connectors = [_frontend(name, 25, "Default Frontend", named, hybrid=True)]
    if kind == "two_stale":
        connectors.append(_frontend(name, 587, "Client Frontend", named, hybrid=False))
    connectors.append({
        "name": f"Default {name}", "transport_role": "HubTransport", "bindings": ["0.0.0.0:2525", "[::]:2525"],
        "fqdn": f"{name.lower()}.contoso.com",
        "auth_mechanism": ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"],
        "permission_groups": ["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"],
    })
    return {"name": name, "fqdn": f"{name.lower()}.contoso.com", "role": "Mailbox", "version": "15.2.1544.4",
            "certificates": certificates, "internal_transport_certificate": "selfsigned",
            "receive_connectors": connectors}


def _edge(name: str) -> Dict[str, Any]:
    subject = "CN=smtp.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US"
    return {
        "name": name, "fqdn": f"{name.lower()}.contoso.com", "role": "Edge", "version": "15.2.1544.4",
        "certificates": [
            _selfsigned(name, ["SMTP"]),
            {"id": "digicert-2025", "subject": "CN=smtp.contoso.com, OU=IT, O=Contoso Ltd, L=Redmond, S=Washington, C=US",
             "issuer": DIGICERT, "domains": ["smtp.contoso.com"], "not_before": "2025-11-20",
             "not_after": "2026-11-20", "services": ["SMTP"], "in_store": False},
            {"id": "digicert-2026", "subject": subject, "issuer": DIGICERT, "domains": ["smtp.contoso.com"],
             "not_before": "2026-11-10", "not_after": "2027-11-10", "services": ["SMTP"]},
        ],
        "internal_transport_certificate": "selfsigned",
        "edge_subscription_certificate": "selfsigned",
        "receive_connectors": [{
            "name": f"Default internal receive connector {name}", "bindings": ["0.0.0.0:25"],
            "fqdn": "smtp.contoso.com", "auth_mechanism": ["Tls", "ExchangeServer"],
            "permission_groups": ["AnonymousUsers", "ExchangeServers", "Partners"],
            "tls_certificate_name": {"certificate": "digicert-2025"},
        }],
    }
