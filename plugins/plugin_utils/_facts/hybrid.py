# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The organisation's hybrid identity and the hybrid connectors' own TLS settings, from facts.

Which certificate a hybrid connector should name is decided from the
organisation's hybrid identity, not from the connector's Fqdn: a hybrid
receive connector is usually ``Default Frontend <SERVER>``, whose Fqdn is the
server's own FQDN (Exchange's default, which the Hybrid Configuration Wizard
leaves alone; it sets AuthMechanism, PermissionGroups, TlsDomainCapabilities
and TlsCertificateName), and Microsoft 365 checks the certificate against its
own connector's domain (Exchange Team blog, "Demystifying Hybrid Mail Flow",
2025). The identity is what HCW wrote: the hybrid configuration's
TlsCertificateName, the cloud send connectors' and the other hybrid receive
connectors' names.

The settings checks follow HealthChecker (microsoft/CSS-Exchange,
Diagnostics/HealthChecker/Analyzer/Invoke-AnalyzerFrequentConfigurationIssues.ps1,
docs/Diagnostics/HealthChecker/ExoConnectorCheck.md) and the values HCW sets
(learn.microsoft.com/exchange/hybrid-deployment/hybrid-configuration-wizard).
"""

from __future__ import annotations

import re

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import same_server

# HealthChecker's test of TlsDomain under DomainValidation (PowerShell -match: case-insensitive).
_EXO_TLS_DOMAIN = re.compile(r"^mail\.protection\.(outlook\.com|partner\.outlook\.cn|office365\.us)$", re.I)
_VALIDATING_LEVELS = ("CertificateValidation", "DomainValidation")

HCW_RECEIVE_AUTH_MECHANISM = "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer"
HCW_SEND_SETTINGS = ("CloudServicesMailEnabled $true, RequireTLS $true, TlsAuthLevel DomainValidation,"
                     " TlsDomain mail.protection.outlook.com")


def _valid(name) -> bool:
    try:
        tls_name.parse_tls_certificate_name(name)
    except tls_name.TlsCertificateNameError:
        return False
    return True


def identity_names(facts: dict, exclude=None) -> list:
    """The hybrid identity's names as this server sees it, best first, without duplicates.

    The hybrid configuration's name (what HCW starts from), then the cloud send
    connectors' names, then this server's other hybrid receive connectors'.
    ``exclude``: the connector asking (its own name is its stale name).
    """
    names: list = []
    hc = facts.get("hybrid_configuration") or {}
    candidates = [hc.get("tls_certificate_name")]
    candidates += [sc.get("tls_certificate_name") for sc in facts.get("send_connectors") or [] if sc.get("cloud")]
    candidates += [rc.get("tls_certificate_name") for rc in facts.get("receive_connectors") or []
                   if rc.get("hybrid") and rc is not exclude]
    for name in candidates:
        if name and _valid(name) and not any(tls_name.names_match(name, n) for n in names):
            names.append(name)
    return names


def edge_hybrid_exempt(facts: dict) -> bool:
    """Whether this Mailbox server is outside an Edge-based hybrid and need not hold the hybrid certificate.

    With EdgeTransportServers set, Receiving- and SendingTransportServers must be
    $null (Set-HybridConfiguration); mail to and from Microsoft 365 passes the
    Edge servers, so a Mailbox server not listed itself is not a hybrid server.
    """
    hc = facts.get("hybrid_configuration")
    if not hc or not hc.get("edge_transport_servers") or (facts.get("server") or {}).get("role") == "Edge":
        return False
    server = facts["server"]
    listed = hc.get("receiving_transport_servers", []) + hc.get("sending_transport_servers", [])
    return not any(same_server(s, server["name"], server.get("fqdn")) for s in listed)


def send_connector_problems(sc: dict) -> list:
    """HealthChecker's checks of a send connector to Microsoft 365: [(code, current, message)]."""
    problems = []
    name = sc.get("name")
    fix = f"Set-SendConnector '{name}'"
    if not sc.get("cloud_services_mail_enabled"):
        problems.append((
            "hybrid_send_connector_cloud_services_disabled", "False",
            "CloudServicesMailEnabled is False on this connector to Microsoft 365: the cross-premises"
            " X-MS-Exchange-Organization headers are not kept, so hybrid mail is treated as external (HealthChecker:"
            " misconfigured). HCW sets it to $true; rerun the Hybrid Configuration Wizard, or run"
            f" {fix} -CloudServicesMailEnabled $true.",
        ))
    if not sc.get("require_tls"):
        problems.append((
            "hybrid_send_connector_require_tls_disabled", "False",
            "RequireTLS is False on this connector to Microsoft 365, so mail may leave without TLS and Microsoft 365"
            f" cannot attribute it to the organisation by certificate. HCW sets RequireTLS $true; run {fix}"
            " -RequireTLS $true -TlsAuthLevel DomainValidation -TlsDomain mail.protection.outlook.com, or rerun HCW.",
        ))
    level = sc.get("tls_auth_level")
    if sc.get("require_tls") and level not in _VALIDATING_LEVELS:
        problems.append((
            "hybrid_send_connector_tls_auth_level", level,
            f"TlsAuthLevel is {level or 'not set'} on this connector to Microsoft 365: Exchange does not validate"
            " Microsoft 365's certificate (HealthChecker warns unless CertificateValidation or DomainValidation)."
            f" HCW sets DomainValidation; run {fix} -TlsAuthLevel DomainValidation -TlsDomain"
            " mail.protection.outlook.com, or rerun HCW.",
        ))
    elif level == "DomainValidation" and not _EXO_TLS_DOMAIN.match(str(sc.get("tls_domain") or "")):
        problems.append((
            "hybrid_send_connector_tls_domain", sc.get("tls_domain"),
            f"TlsDomain is {sc.get('tls_domain') or 'not set'} under DomainValidation on this connector to Microsoft"
            " 365, which presents a certificate for mail.protection.outlook.com (HealthChecker warns). HCW sets"
            f" mail.protection.outlook.com; run {fix} -TlsDomain mail.protection.outlook.com, or rerun HCW.",
        ))
    return problems


__all__ = [
    "HCW_RECEIVE_AUTH_MECHANISM",
    "HCW_SEND_SETTINGS",
    "edge_hybrid_exempt",
    "identity_names",
    "send_connector_problems",
]
