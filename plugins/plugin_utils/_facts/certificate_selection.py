# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which certificate Exchange transport uses for a connector, computed from facts.

Microsoft's "Selection of Inbound STARTTLS Certificates" (docs/exchange-behaviour.md#starttls-selection):
no ``Tls`` in AuthMechanism means no STARTTLS; the search key is
the connector's TlsCertificateName, else its FQDN, else the server's FQDN;
only certificates in the store with a private key qualify; among several,
CA-issued before self-signed, then the newest NotBefore. A send connector
resolves its TlsCertificateName against the source server's store the same
way (the 454 4.7.5 failure when nothing matches), or its FQDN when unset.

Certificates are the dicts of ``ansible_facts.exchange_tls.certificates``.
The lab's model implements the same rules independently (it plays Exchange),
so the two can check each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name

KEY_TLS_CERTIFICATE_NAME = "tls_certificate_name"
KEY_FQDN = "fqdn"
KEY_SERVER_FQDN = "server_fqdn"


def parse_time(text: str) -> dt.datetime:
    """A facts timestamp ("2026-11-27T12:00:00Z") as an aware UTC datetime."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def domain_matches(pattern: str, name: str) -> bool:
    """TLS host matching (RFC 6125): exact, or a leading ``*.`` standing for exactly one label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if pattern.startswith("*."):
        head, _dot, tail = name.partition(".")
        return bool(head) and tail == pattern[2:]
    return False


def covers(certificate: dict, fqdn: str) -> bool:
    """Whether the certificate's subject CN or one of its domains is valid for ``fqdn``."""
    cn = tls_name.common_name(certificate["subject"])
    names = list(certificate.get("domains") or []) + ([cn] if cn else [])
    return any(domain_matches(n, fqdn) for n in names)


def matching_certificates(name: str | None, certificates: list[dict]) -> list[dict]:
    """Certificates whose issuer and subject equal the name's, as Exchange and HealthChecker compare.

    A name without an issuer part (``<S>subject``, which Exchange's parser accepts) is matched by subject alone,
    as the lab does; how transport really matches it is not documented, so findings ask for a probe.
    """
    if not name:
        return []
    try:
        wanted = tls_name.split_tls_certificate_name(name)
    except tls_name.TlsCertificateNameError:
        return []
    if not wanted.issuer:
        return [c for c in certificates if c.get("subject") is not None
                and tls_name.names_match("<S>" + wanted.subject, "<S>" + c["subject"])]
    return [c for c in certificates if tls_name.names_match(name, c["tls_certificate_name"])]


def loosely_matching_certificates(name: str | None, certificates: list[dict]) -> list[dict]:
    """Certificates the name would match if it had not been typed by hand (and does not match exactly)."""
    if not name:
        return []
    return [
        c
        for c in certificates
        if not tls_name.names_match(name, c["tls_certificate_name"])
        and tls_name.names_match_loosely(name, c["tls_certificate_name"])
    ]


def selection_order(certificate: dict) -> tuple:
    # CA-issued before self-signed, then newest NotBefore. Sources disagree on the
    # tie-break after that (latest NotAfter per the Exchange blog); the thumbprint
    # only makes the order total so a report never flips between runs.
    return (
        bool(certificate["self_signed"]),
        -parse_time(certificate["not_before"]).timestamp(),
        -parse_time(certificate["not_after"]).timestamp(),
        certificate["thumbprint"],
    )


@dataclass
class Selection:
    """What transport does for one connector today."""

    key: str | None                 # the search key, or None when STARTTLS is off
    key_kind: str | None            # KEY_TLS_CERTIFICATE_NAME | KEY_FQDN | KEY_SERVER_FQDN
    matches: list = field(default_factory=list)   # certificates matching the key, before the private-key rule
    certificate: dict | None = None  # the one transport uses
    reason: str = ""

    @property
    def thumbprint(self) -> str | None:
        return self.certificate["thumbprint"] if self.certificate else None


def comparable(certificates: list[dict]) -> list[dict]:
    """The certificates whose names and dates are known; the rules cannot place the others."""
    return [c for c in certificates if c.get("subject") and c.get("not_before") and c.get("not_after")]


def _select(key: str, key_kind: str, certificates: list[dict]) -> Selection:
    certificates = comparable(certificates)
    if key_kind == KEY_TLS_CERTIFICATE_NAME:
        matches = matching_certificates(key, certificates)
    else:
        matches = [c for c in certificates if covers(c, key)]
    # An unknown private key (remote-session caveat) is not known to be missing.
    eligible = [c for c in matches if c.get("has_private_key") is not False]
    if not matches:
        return Selection(key, key_kind, matches, None, f"no certificate in the store matches {key}")
    if not eligible:
        return Selection(key, key_kind, matches, None, f"the certificates matching {key} have no private key")
    chosen = sorted(eligible, key=selection_order)[0]
    return Selection(key, key_kind, matches, chosen, f"{chosen['thumbprint']} matches {key}")


def _key_of(connector: dict, server_fqdn: str) -> tuple[str, str]:
    if connector.get("tls_certificate_name"):
        return connector["tls_certificate_name"], KEY_TLS_CERTIFICATE_NAME
    if connector.get("fqdn"):
        return connector["fqdn"], KEY_FQDN
    return server_fqdn, KEY_SERVER_FQDN


def presented_for_name(name: str, certificates: list[dict]) -> dict | None:
    """The certificate transport uses for a TlsCertificateName: of those with its issuer and subject, the newest.

    A name cannot pick one of several certificates with the same issuer and subject; naming it names them all.
    """
    return _select(name, KEY_TLS_CERTIFICATE_NAME, certificates).certificate


def select_inbound(connector: dict, certificates: list[dict], server_fqdn: str) -> Selection:
    """The certificate STARTTLS on a receive connector presents, or none (event 12014)."""
    if "Tls" not in (connector.get("auth_mechanism") or []):
        return Selection(None, None, [], None, "Tls is not in AuthMechanism, so STARTTLS is never offered")
    key, kind = _key_of(connector, server_fqdn)
    return _select(key, kind, certificates)


def select_outbound(connector: dict, certificates: list[dict], server_fqdn: str) -> Selection:
    """The certificate a source server uses for a send connector, or none (454 4.7.5)."""
    key, kind = _key_of(connector, server_fqdn)
    return _select(key, kind, certificates)


def annotate(facts: dict) -> dict:
    """Add what transport selects to each connector of the facts, in place; returns the facts.

    Receive connectors get ``selected_certificate`` (thumbprint or None) and
    ``starttls_offered``; send connectors this server is a source of get the
    certificate it would use (``selected_certificate``), others None.
    """
    certificates = facts["certificates"]
    server_fqdn = facts["server"]["fqdn"]
    for connector in facts["receive_connectors"]:
        selection = select_inbound(connector, certificates, server_fqdn)
        connector["selected_certificate"] = selection.thumbprint
        connector["starttls_offered"] = selection.certificate is not None
    for connector in facts["send_connectors"]:
        selected = None
        if connector.get("this_server_is_source"):
            selected = select_outbound(connector, certificates, server_fqdn).thumbprint
        connector["selected_certificate"] = selected
    return facts
