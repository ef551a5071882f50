# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choices a user makes per connector from the playbook: a pinned certificate, or an exemption with a reason.

The modules' options ``certificates`` and ``exempt`` (the role's ``connector_tls_certificates`` and
``connector_tls_exempt``) are dictionaries keyed by connector identity:

* a receive connector by ``SERVER\\Name``, as Exchange prints its Identity;
* a send connector by its name (an organisation object: one key for every source server);
* the hybrid configuration by ``Hybrid Configuration``, the name the reports give it; it can be exempted but not
  pinned, because it follows the connector to Microsoft 365 (pin that connector instead).

Keys compare case-insensitively, ignoring surrounding white space. The planners receive the parsed dictionaries
keyed in lower case (``key()``), so they look an object up the same way.
"""

from __future__ import annotations

from typing import Dict, Iterable, List

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError, parse_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge_action import facts_from

HYBRID_IDENTITY = "Hybrid Configuration"
# How each option is named for a role user, in every message about it.
ROLE_VARIABLES = {"certificates": "connector_tls_certificates", "exempt": "connector_tls_exempt"}


def key(identity: str) -> str:
    return str(identity).strip().lower()


def _named(option: str) -> str:
    role = ROLE_VARIABLES.get(option)
    return f"{option} ({role} in the role)" if role else option


def parse_certificates(value: object, option: str = "certificates") -> Dict[str, str]:
    """identity (lower case) -> thumbprint (Exchange's form); PlanError naming the option and the key."""
    result = {}
    for identity, thumbprint in _mapping(value, option, "a certificate thumbprint").items():
        if key(identity) == key(HYBRID_IDENTITY):
            raise PlanError(
                f"{_named(option)} pins a certificate on {identity!r}, but the hybrid configuration follows the connector"
                " to Microsoft 365: pin that send connector's certificate instead (or exempt the hybrid configuration)")
        try:
            result[key(identity)] = parse_thumbprint(thumbprint)
        except PlanError:
            raise PlanError(f"{_named(option)}[{_quoted(identity)}] must be a certificate thumbprint (40 hexadecimal"
                            f" characters, any case, spaces allowed), got {thumbprint!r}") from None
    return result


def parse_exempt(value: object, option: str = "exempt") -> Dict[str, str]:
    """identity (lower case) -> the reason, a non-empty string; PlanError naming the option and the key."""
    result = {}
    for identity, reason in _mapping(value, option, "the reason it is exempt").items():
        if not isinstance(reason, str) or not reason.strip():
            raise PlanError(f"{_named(option)}[{_quoted(identity)}] must be the reason the connector is exempt (a non-empty"
                            f" string, for the reports), got {reason!r}")
        result[key(identity)] = reason.strip()
    return result


def _mapping(value: object, option: str, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PlanError(f"{_named(option)} must be a dictionary of connector identity (SERVER\\Name for a receive connector,"
                        f" the name for a send connector) to {what}, got a {type(value).__name__}")
    for identity in value:
        if not isinstance(identity, str) or not identity.strip():
            raise PlanError(f"{_named(option)} has the key {identity!r}; a key must be a connector identity"
                            " (SERVER\\Name for a receive connector, the name for a send connector)")
    seen: Dict[str, str] = {}
    for identity in value:
        if key(identity) in seen:
            raise PlanError(f"{_named(option)} names the same connector twice: {seen[key(identity)]!r} and {identity!r}")
        seen[key(identity)] = identity
    return value


def known_identities(fleet: Dict[str, dict]) -> List[str]:
    """Every identity the options may name, from the facts of every host: receive, send, hybrid."""
    found: Dict[str, str] = {}
    for facts in fleet.values():
        for connector in facts.get("receive_connectors") or []:
            found.setdefault(key(connector["identity"]), connector["identity"])
        for connector in facts.get("send_connectors") or []:
            found.setdefault(key(connector["name"]), connector["name"])
        if facts.get("hybrid_configuration"):
            found.setdefault(key(HYBRID_IDENTITY), HYBRID_IDENTITY)
    return sorted(found.values(), key=str.lower)


def unknown_identities(identities: Iterable[str], fleet: Dict[str, dict]) -> List[str]:
    known = {key(i) for i in known_identities(fleet)}
    return [i for i in identities if key(i) not in known]


def _quoted(identity: str) -> str:
    # Not repr(): it doubles the backslash of SERVER\Name, which users would then copy.
    return f"'{identity}'"


def unknown_message(option: str, unknown: List[str], fleet: Dict[str, dict]) -> str:
    listing = ", ".join(_quoted(i) for i in known_identities(fleet)) or "none (no facts were read)"
    return (f"{_named(option)} names {', '.join(_quoted(i) for i in unknown)}, which is no connector read from any server;"
            f" the identities it can name (receive connectors as SERVER\\Name, send connectors by name) are: {listing}")


def check(certificates: object, exempt: object, fleet: Dict[str, dict], option_prefix: str = "") -> tuple:
    """Parsed (certificates, exempt, warnings): an unknown identity in certificates is refused (PlanError) before
    any write, one in exempt is a warning (an exemption for a connector that is gone must not fail an audit, but
    stays visible). ``fleet`` empty: nothing to compare with, so nothing is called unknown."""
    pinned = parse_certificates(certificates, option_prefix + "certificates")
    excused = parse_exempt(exempt, option_prefix + "exempt")
    warnings: List[str] = []
    if fleet:
        originals = {key(i): i for i in (certificates or {})}
        unknown = unknown_identities([originals[k] for k in pinned], fleet)
        if unknown:
            raise PlanError(unknown_message("certificates", unknown, fleet))
        originals = {key(i): i for i in (exempt or {})}
        unknown = unknown_identities([originals[k] for k in excused], fleet)
        if unknown:
            warnings.append(unknown_message("exempt", unknown, fleet) + ". The exemption applies to nothing; remove it"
                            " if the connector is gone")
    return pinned, excused, warnings


def fleet_from_hostvars(task_vars: dict, strict: bool = True) -> Dict[str, dict]:
    """inventory host -> exchange_tls facts, for every host that has them (from this play or an earlier one).

    ``strict`` False skips a host whose facts are not usable: a per-server task must not fail for another host.
    """
    hostvars = task_vars.get("hostvars") or {}
    fleet = {}
    for host in (task_vars.get("groups") or {}).get("all", []):
        variables = hostvars.get(host) or {}
        value = (variables.get("ansible_facts") or {}).get("exchange_tls")
        if value is None:
            continue
        try:
            fleet[host] = facts_from(value, option=f"hostvars[{host!r}].exchange_tls")
        except ValueError as exc:
            if strict:
                raise PlanError(str(exc)) from None
    return fleet


__all__ = ["HYBRID_IDENTITY", "check", "fleet_from_hostvars", "key", "known_identities", "parse_certificates",
           "parse_exempt", "unknown_identities"]
