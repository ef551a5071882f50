# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read side of ``exchange_certificate_facts``: one batch in, one facts dict out.

Why this exists:

* **One launch per host is the cost model.** Every ``exchange_command`` call
  starts Windows PowerShell and opens an Exchange session, which costs seconds
  to tens of seconds, while the cmdlets themselves are cheap. So the whole
  transport TLS picture of a server (the server, its certificates, its receive
  connectors, the organisation's send connectors, the internal transport
  certificate, the hybrid configuration and recent transport TLS events) is
  read in ONE batch (:func:`read_steps`) and interpreted on the controller
  (:func:`parse_read`), where it can be unit-tested without Windows.
* **Windows PowerShell 5.1 flattening rules.** ``ConvertTo-Json`` in 5.1 turns
  dates into ``/Date(ms)/``, enums into integers and unrolls one-element
  arrays, so the payload flattens each requested property itself: dates as UTC
  ISO 8601 strings, flags as their names (``"IIS, SMTP"``, ``"None"``),
  collections as lists, byte arrays as base64, other Exchange types
  (``ADObjectId``, ``SmtpX509Identifier``, ``Fqdn``) as their ``ToString()``.
  This module turns those primitives into typed, snake_case facts.
* **Enums by name or by number.** A session that cannot rehydrate Exchange's
  types may hand the payload an enum as its integer; ``exchange_enums``
  decodes both forms to the same names, so findings and decisions do not
  depend on the session.
* **Remote-session caveat.** ``Get-ExchangeCertificate`` does not fully support
  remote PowerShell: depending on how the session was opened, Services,
  Status and the other Exchange-specific fields can be missing, and when
  serialisation-data signing fails only ``RawData`` survives. Missing values
  are reported as the distinct string ``"unknown"`` (never as "no SMTP"), and
  the names of the missing properties are listed in ``unknown_properties``.
  Whatever the DER holds (thumbprint, subject and issuer as Windows renders
  them, dates, DNS names, key, signature algorithm) is read from ``RawData``
  on the controller whenever it arrived, as Microsoft's own scripts rebuild
  the certificate from it (``ConvertTo-ExchangeCertificate.ps1``).
* **A certificate without Exchange's properties is the client's copy.**
  PowerShell serializes an X509Certificate2 as its RawData alone and rebuilds
  it on the client (PowerShell's ``types.ps1xml``: ``PropertySerializationSet``
  RawData, ``DeserializingTypeConverter``), so over a session that did not
  rehydrate the ExchangeCertificate, ``HasPrivateKey`` describes the copy
  (False), not the server's store: it is unknown then.

Pure Python: no Ansible imports. ``cryptography`` is imported only when a
certificate has to be read from ``RawData``.

The code is in modules of this room named for what they do: read_batch (the batch and its steps), fact_values
(flattened values), certificate_facts (certificates and RawData) and connector_facts (connectors, hybrid
configuration); this module builds the facts of a server (``parse_read``), and every name it had stays importable from
here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_facts import (
    EXCHANGE_ONLY_PROPERTIES,
    MISSING_PROPERTIES_REMEDY,
    _certificates,
    key_fields,
    missing_property_reason,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.connector_facts import _hybrid_configuration, _receive_connector, _send_connector
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import (
    FactsError,
    UNKNOWN,
    _bool,
    _first_label,
    _flags,
    _iso,
    _parse_date,
    _text,
    _thumbprint,
    same_server,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.read_batch import (
    TRANSPORT_PROVIDERS,
    TRANSPORT_TLS_EVENT_IDS,
    _REQUIRED,
    _check_required,
    _collected_at,
    _failed,
    _index_steps,
    _objects,
    read_steps,
)

__all__ = [
    "EXCHANGE_ONLY_PROPERTIES",
    "FactsError",
    "MISSING_PROPERTIES_REMEDY",
    "TRANSPORT_PROVIDERS",
    "TRANSPORT_TLS_EVENT_IDS",
    "UNKNOWN",
    "key_fields",
    "missing_property_reason",
    "parse_read",
    "read_steps",
    "same_server",
]

_VERSION = re.compile(r"^Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)$")


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


def _version(value: object) -> Optional[str]:
    text = _text(value)
    if text is None:
        return None
    match = _VERSION.match(text.strip())
    return ".".join(match.groups()) if match else text


def _role(obj: dict, where: str) -> str:
    # Flags: "Mailbox" (2), "Mailbox, ClientAccess" (6) on Exchange 2013, "Edge" (64).
    roles = _flags(exchange_enums.SERVER_ROLE, obj, "ServerRole", where)
    return "Edge" if _bool(obj.get("IsEdgeServer")) or "Edge" in roles else "Mailbox"


def _site(value: object) -> Optional[str]:
    """The site name from Site's ToString(), the canonical path "contoso.com/Configuration/Sites/NAME" (Edge: null)."""
    text = _text(value)
    return None if text is None else text.strip().rstrip("/").rsplit("/", 1)[-1]


def _server_facts(steps: Dict[str, dict], server: str, computer_name: Optional[str]) -> dict:
    objects = _objects(steps["server"])
    if not objects:
        raise FactsError(
            f"Get-ExchangeServer -Identity '{server}' returned no server; check the module's server option"
        )
    obj = objects[0]
    return {
        "name": _text(obj.get("Name")) or server,
        "fqdn": _text(obj.get("Fqdn")),
        "role": _role(obj, f"server {server}"),
        "version": _version(obj.get("AdminDisplayVersion")),
        "edition": _text(obj.get("Edition")),
        "site": _site(obj.get("Site")),
        "computer_name": computer_name,
    }


def _check_computer(facts: dict, server: str) -> None:
    computer = facts["computer_name"]
    if computer is None:
        return
    known = {facts["name"], _first_label(facts["fqdn"]), _first_label(server.strip())}
    if computer.strip().lower() not in {n.lower() for n in known if n}:
        raise FactsError(
            f"the host is computer {computer} but server '{server}' was requested; "
            "set the module's server option to this host's Exchange server name"
        )


# --------------------------------------------------------------------------
# Events and read errors
# --------------------------------------------------------------------------


def _event(obj: dict) -> dict:
    event_id = obj.get("Id")
    try:
        event_id = int(event_id)
    except (TypeError, ValueError):
        pass
    return {
        "id": event_id,
        "provider": _text(obj.get("ProviderName")),
        "level": _text(obj.get("LevelDisplayName")),
        "time_created": _iso(_parse_date(obj.get("TimeCreated"))),
        "message": obj.get("Message"),
    }


def _events(step: Optional[dict]) -> List[dict]:
    providers = {p.lower() for p in TRANSPORT_PROVIDERS}
    events = [_event(obj) for obj in _objects(step) if str(obj.get("ProviderName") or "").lower() in providers]
    # The ISO strings sort chronologically; undated events go last.
    events.sort(key=lambda e: e["time_created"] or "", reverse=True)
    return events


def _expected_failure(step: dict, role: str) -> bool:
    error_id = str(step.get("error_id") or "")
    if step.get("id") == "hybrid_configuration":
        return role == "Edge" and error_id.startswith("CommandNotFoundException")
    # The payload already turns "no events" into an empty step; this covers older payloads.
    return step.get("id") == "events" and error_id.startswith("NoMatchingEventsFound")


def _read_errors(steps: Dict[str, dict], role: str) -> List[dict]:
    errors = []
    required = {step_id for step_id, _cmdlet in _REQUIRED}
    for step_id, step in steps.items():
        if step_id in required or not _failed(step) or _expected_failure(step, role):
            continue
        errors.append(
            {
                "step": step_id,
                "cmdlet": step.get("cmdlet"),
                "error": step.get("error"),
                "error_id": step.get("error_id"),
            }
        )
    return errors


# --------------------------------------------------------------------------
# The facts
# --------------------------------------------------------------------------


def _internal_thumbprint(steps: Dict[str, dict]) -> Optional[str]:
    objects = _objects(steps["transport_service"])
    return _thumbprint(objects[0].get("InternalTransportCertificateThumbprint")) if objects else None


def _domain_controller(steps: Dict[str, dict], role: str) -> Optional[str]:
    # An Edge server's directory is its own AD LDS: no domain controller to name (nor -DomainController).
    objects = _objects(steps["transport_service"])
    return None if role == "Edge" or not objects else _text(objects[0].get("OriginatingServer"))


def parse_read(result: dict, server: str, now: Optional[dt.datetime] = None) -> dict:
    """Turn the exchange_command result of :func:`read_steps` into the facts of ``server``.

    ``now`` is the clock used when the result has no ``utc_now`` (default:
    the controller's UTC now). Raises FactsError when a required step is
    missing or failed, when the server was not found, or when the batch ran
    on another computer than ``server``.
    """
    steps = _index_steps(result)
    _check_required(steps, server)
    server_facts = _server_facts(steps, server, _text(result.get("computer_name")))
    _check_computer(server_facts, server)
    name, fqdn = server_facts["name"], server_facts["fqdn"]
    clock = _collected_at(result, now)
    internal = _internal_thumbprint(steps)
    certificates, skipped = _certificates(_objects(steps["certificates"]), clock, internal)
    receive = [obj for obj in _objects(steps["receive_connectors"]) if same_server(obj.get("Server"), name, fqdn)]
    return {
        "collected_at": _iso(clock),
        "server": server_facts,
        "certificates": certificates,
        "receive_connectors": [_receive_connector(obj) for obj in receive],
        "send_connectors": [_send_connector(obj, name, fqdn) for obj in _objects(steps["send_connectors"])],
        "hybrid_configuration": _hybrid_configuration(steps.get("hybrid_configuration"), name, fqdn),
        "internal_transport_certificate": internal,
        "domain_controller": _domain_controller(steps, server_facts["role"]),
        "events": _events(steps.get("events")),
        "read_errors": _read_errors(steps, server_facts["role"]) + skipped,
    }
