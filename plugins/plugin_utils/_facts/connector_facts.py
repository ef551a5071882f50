# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Receive connectors, send connectors and the hybrid configuration as facts (see transport_facts.py), as the read
batch returns them flattened. Pure Python: no Ansible imports.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import _as_list, _bool, _enum_name, _flags, _text, same_server
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.read_batch import _objects

# HealthChecker's EXO send-connector test (Invoke-AnalyzerFrequentConfigurationIssues.ps1);
# PowerShell -match is case-insensitive.
_EXO_SMART_HOST = re.compile(r"^[^.]+\.mail\.protection\.(outlook\.com|partner\.outlook\.cn|office365\.us)$", re.I)
_EXO_ADDRESS_SPACE = re.compile(r"^[^.]+\.mail\.(onmicrosoft\.com|partner\.onmschina\.cn|onmicrosoft\.us)$", re.I)
# "smtp:contoso.mail.onmicrosoft.com;1" -> type, address, cost.
_ADDRESS_SPACE = re.compile(r"^(?:[A-Za-z0-9]+:)?(?P<address>.*?)(?:;\d+)?$")
_HYBRID_CAPABILITY_DOMAINS = frozenset(
    ("mail.protection.outlook.com", "mail.protection.partner.outlook.cn", "mail.protection.office365.us")
)


# --------------------------------------------------------------------------
# Connectors and the hybrid configuration
# --------------------------------------------------------------------------


def _ports(bindings: List[Any]) -> List[int]:
    ports = set()
    for binding in bindings:
        _host, sep, port = str(binding).strip().rpartition(":")
        if sep and port.isdigit():
            ports.add(int(port))
    return sorted(ports)


def _hybrid_capability(capabilities: List[Any]) -> bool:
    domains = (str(c).split(":", 1)[0].strip().lower() for c in capabilities)
    return any(domain in _HYBRID_CAPABILITY_DOMAINS for domain in domains)


def _receive_connector(obj: dict) -> dict:
    bindings = [str(b) for b in _as_list(obj.get("Bindings"))]
    capabilities = [str(c) for c in _as_list(obj.get("TlsDomainCapabilities"))]
    where = f"receive connector {_text(obj.get('Identity')) or _text(obj.get('Name'))!r}"
    # TransportRole is a ServerRole value: "HubTransport" (32) or "FrontendTransport" (16384).
    role = _flags(exchange_enums.SERVER_ROLE, obj, "TransportRole", where)
    return {
        "identity": _text(obj.get("Identity")),
        "name": _text(obj.get("Name")),
        "server": _text(obj.get("Server")),
        "transport_role": ", ".join(role) or None,
        "bindings": bindings,
        "ports": _ports(bindings),
        "fqdn": _text(obj.get("Fqdn")),
        "auth_mechanism": _flags(exchange_enums.AUTH_MECHANISMS, obj, "AuthMechanism", where),
        "permission_groups": _flags(exchange_enums.PERMISSION_GROUPS, obj, "PermissionGroups", where),
        "tls_certificate_name": _text(obj.get("TlsCertificateName")),
        "tls_domain_capabilities": capabilities,
        "require_tls": _bool(obj.get("RequireTLS")),
        "enabled": _bool(obj.get("Enabled"), default=True),
        "hybrid": _hybrid_capability(capabilities),
        # IPRange items flatten by ToString() ("0.0.0.0-255.255.255.255", "10.0.0.0/8", "192.0.2.1"); which
        # connector answers a sender depends on them (plugin_utils/_facts/receive_selection). Absent: every address.
        "remote_ip_ranges": [str(r) for r in _as_list(obj.get("RemoteIPRanges"))] or None,
    }


def _address_space_domain(address_space: object) -> str:
    match = _ADDRESS_SPACE.match(str(address_space).strip())
    return match.group("address").strip() if match else str(address_space)


def _cloud_send_connector(obj: dict) -> bool:
    if _bool(obj.get("CloudServicesMailEnabled")):
        return True
    smart_hosts = [str(h).strip() for h in _as_list(obj.get("SmartHosts"))]
    if any(_EXO_SMART_HOST.match(host) for host in smart_hosts):
        return True
    if smart_hosts:
        return False
    return any(_EXO_ADDRESS_SPACE.match(_address_space_domain(a)) for a in _as_list(obj.get("AddressSpaces")))


def _send_connector(obj: dict, name: str, fqdn: Optional[str]) -> dict:
    sources = [str(s) for s in _as_list(obj.get("SourceTransportServers"))]
    return {
        "identity": _text(obj.get("Identity")),
        "name": _text(obj.get("Name")),
        "address_spaces": [str(a) for a in _as_list(obj.get("AddressSpaces"))],
        "source_transport_servers": sources,
        "smart_hosts": [str(h) for h in _as_list(obj.get("SmartHosts"))],
        "fqdn": _text(obj.get("Fqdn")),
        "tls_certificate_name": _text(obj.get("TlsCertificateName")),
        "tls_auth_level": _enum_name(exchange_enums.TLS_AUTH_LEVEL, obj, "TlsAuthLevel",
                                     f"send connector {_text(obj.get('Name'))!r}"),
        "tls_domain": _text(obj.get("TlsDomain")),
        "require_tls": _bool(obj.get("RequireTLS")),
        "cloud_services_mail_enabled": _bool(obj.get("CloudServicesMailEnabled")),
        "enabled": _bool(obj.get("Enabled"), default=True),
        "cloud": _cloud_send_connector(obj),
        "this_server_is_source": any(same_server(s, name, fqdn) for s in sources),
    }


def _hybrid_configuration(step: Optional[dict], name: str, fqdn: Optional[str]) -> Optional[dict]:
    objects = _objects(step)
    if not objects:
        return None
    obj = objects[0]
    lists = {
        key: [str(s) for s in _as_list(obj.get(prop))]
        for key, prop in (
            ("receiving_transport_servers", "ReceivingTransportServers"),
            ("sending_transport_servers", "SendingTransportServers"),
            ("edge_transport_servers", "EdgeTransportServers"),
        )
    }
    listed = any(same_server(s, name, fqdn) for servers in lists.values() for s in servers)
    facts = {"tls_certificate_name": _text(obj.get("TlsCertificateName"))}
    facts.update(lists)
    facts.update(features=[str(f) for f in _as_list(obj.get("Features"))], this_server_listed=listed)
    return facts
