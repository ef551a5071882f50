# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read batch of ``exchange_certificate_facts`` (see transport_facts.py): which cmdlets and which properties one
launch reads (``read_steps``), and the steps of its result: indexed, required, failed, and the clock they were read at.
Pure Python: no Ansible imports.
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import FactsError, _as_utc, _parse_date

TRANSPORT_TLS_EVENT_IDS = (12014, 12016, 12018)
TRANSPORT_PROVIDERS = ("MSExchangeTransport", "MSExchangeFrontEndTransport")

_REQUIRED = (
    ("server", "Get-ExchangeServer"),
    ("certificates", "Get-ExchangeCertificate"),
    ("receive_connectors", "Get-ReceiveConnector"),
    ("send_connectors", "Get-SendConnector"),
    ("transport_service", "Get-TransportService"),
)

_SERVER_PROPERTIES = ["Name", "Fqdn", "ServerRole", "IsEdgeServer", "AdminDisplayVersion", "Edition", "Site"]
# SignatureAlgorithm is an Oid the payload would flatten to its type name: it is read from RawData instead.
_CERTIFICATE_PROPERTIES = [
    "Thumbprint", "Subject", "Issuer", "NotBefore", "NotAfter", "Services", "Status", "HasPrivateKey",
    "IsSelfSigned", "RootCAType", "CertificateDomains", "FriendlyName", "PublicKeySize", "RawData",
]
_RECEIVE_PROPERTIES = [
    "Identity", "Name", "Server", "TransportRole", "Bindings", "Fqdn", "AuthMechanism", "PermissionGroups",
    "TlsCertificateName", "TlsDomainCapabilities", "RequireTLS", "Enabled", "RemoteIPRanges",
]
_SEND_PROPERTIES = [
    "Identity", "Name", "AddressSpaces", "SourceTransportServers", "SmartHosts", "Fqdn", "TlsCertificateName",
    "TlsAuthLevel", "TlsDomain", "RequireTLS", "CloudServicesMailEnabled", "Enabled",
]
# OriginatingServer: the domain controller that served the read; the converging modules write through it.
_TRANSPORT_PROPERTIES = ["Name", "InternalTransportCertificateThumbprint", "OriginatingServer"]
_HYBRID_PROPERTIES = [
    "TlsCertificateName", "ReceivingTransportServers", "SendingTransportServers", "EdgeTransportServers", "Features",
]
_EVENT_PROPERTIES = ["Id", "ProviderName", "LevelDisplayName", "TimeCreated", "Message"]


# --------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")


def _events_xpath(event_hours: int) -> str:
    ids = " or ".join(f"EventID={event_id}" for event_id in TRANSPORT_TLS_EVENT_IDS)
    return f"*[System[({ids}) and TimeCreated[timediff(@SystemTime) <= {event_hours * 3600000}]]]"


def _step(step_id: str, cmdlet: str, parameters: dict, properties: list, tolerant: bool = False) -> dict:
    step = {"id": step_id, "cmdlet": cmdlet, "parameters": parameters, "properties": list(properties)}
    if tolerant:
        step["continue_on_error"] = True
    return step


def read_steps(server: str, event_hours: int = 24, max_events: int = 200) -> List[dict]:
    """Return the exchange_command steps that read ``server``'s whole transport TLS picture.

    ``event_hours`` is how far back to look for transport TLS events 12014,
    12016 and 12018 (0 leaves the events step out); ``max_events`` caps how
    many are returned. Raises ValueError naming the argument and its range.
    """
    if not isinstance(server, str) or not server.strip():
        raise ValueError(f"server must be a non-empty string (an Exchange server name or FQDN), got {server!r}")
    _check_int("event_hours", event_hours, 0, 8760)
    _check_int("max_events", max_events, 1, 10000)
    steps = [
        _step("server", "Get-ExchangeServer", {"Identity": server}, _SERVER_PROPERTIES),
        _step("certificates", "Get-ExchangeCertificate", {"Server": server}, _CERTIFICATE_PROPERTIES),
        _step("receive_connectors", "Get-ReceiveConnector", {"Server": server}, _RECEIVE_PROPERTIES),
        _step("send_connectors", "Get-SendConnector", {}, _SEND_PROPERTIES),
        _step("transport_service", "Get-TransportService", {"Identity": server}, _TRANSPORT_PROPERTIES),
        # Not on Edge (CommandNotFoundException), and the role is unknown until the batch runs.
        _step("hybrid_configuration", "Get-HybridConfiguration", {}, _HYBRID_PROPERTIES, tolerant=True),
    ]
    if event_hours:
        parameters = {"LogName": "Application", "FilterXPath": _events_xpath(event_hours), "MaxEvents": max_events}
        steps.append(_step("events", "Get-WinEvent", parameters, _EVENT_PROPERTIES, tolerant=True))
    return steps


# --------------------------------------------------------------------------
# The steps of the result
# --------------------------------------------------------------------------


def _index_steps(result: object) -> Dict[str, dict]:
    if not isinstance(result, dict) or not isinstance(result.get("steps"), list):
        raise FactsError("the exchange_command result has no 'steps' list; it is not the output of exchange_command")
    steps: Dict[str, dict] = {}
    for step in result["steps"]:
        if isinstance(step, dict) and step.get("id") is not None:
            steps.setdefault(str(step["id"]), step)
    return steps


def _failed(step: Optional[dict]) -> bool:
    return step is not None and step.get("status") != "ok"


def _objects(step: Optional[dict]) -> List[dict]:
    if step is None or _failed(step):
        return []
    return [obj for obj in step.get("objects") or [] if isinstance(obj, dict)]


def _check_required(steps: Dict[str, dict], server: str) -> None:
    for step_id, cmdlet in _REQUIRED:
        step = steps.get(step_id)
        if _failed(step):
            error_id = f" [{step.get('error_id')}]" if step.get("error_id") else ""
            raise FactsError(
                f"cannot read server '{server}': step '{step_id}' ({cmdlet}) failed "
                f"with status {step.get('status')}: {step.get('error') or 'no error message'}{error_id}"
            )
    for step_id, cmdlet in _REQUIRED:
        if step_id not in steps:
            raise FactsError(
                f"cannot read server '{server}': the exchange_command result has no step '{step_id}' ({cmdlet}); "
                "the batch stopped before it or was not built by read_steps()"
            )


def _collected_at(result: dict, now: Optional[dt.datetime]) -> dt.datetime:
    clock = _parse_date(result.get("utc_now"))
    if clock is not None:
        return clock
    return _as_utc(now) if now is not None else dt.datetime.now(dt.timezone.utc)
