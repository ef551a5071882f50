# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hand-built facts dicts, in the shape of ansible_facts.exchange_tls, shared by the unit tests.

Why this module exists: the selection, replacement and findings tests all
feed module_utils the facts that exchange_certificate_facts returns
(exchange_certificate_facts RETURN, produced by transport_facts.parse_read),
and each used to carry its own copy of the same factories and constants.
One copy keeps them in step with each other and with parse_read's real
output (test_transport_facts compares parse_read's output with them).

The defaults describe one server, EX01 (ex01.contoso.com), at NOW
(2026-11-27T12:00:00Z), with Let's Encrypt R11's certificate for
mail.contoso.com. A test file whose story needs other defaults wraps a
factory in one line (functools.partial or a small function) so the
difference stays visible there.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import parse_time

NOW = "2026-11-27T12:00:00Z"
R10 = "CN=R10, O=Let's Encrypt, C=US"
R11 = "CN=R11, O=Let's Encrypt, C=US"
R12 = "CN=R12, O=Let's Encrypt, C=US"
MAIL = "CN=mail.contoso.com"
EX01 = "CN=EX01"
SECTIGO_OV = "CN=Sectigo RSA Organization Validation Secure Server CA, O=Sectigo Limited, L=Salford, S=Greater Manchester, C=GB"
OV_WITH_OU = "CN=mail.contoso.com, OU=IT, O=Contoso, L=Redmond, S=Washington, C=US"
OV_WITHOUT_OU = "CN=mail.contoso.com, O=Contoso, L=Redmond, S=Washington, C=US"
FRONTEND = "EX01\\Default Frontend EX01"
OUTBOUND = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"
# AuthMechanism of Default Frontend EX01 (and of the hub connector Default EX01).
HUB_AUTH = ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]


def days_from_now(text: str) -> int:
    """Whole days from NOW to the time text, floored (as days_remaining counts them)."""
    return (parse_time(text) - parse_time(NOW)) // dt.timedelta(days=1)


def cert(**overrides) -> dict:
    """A certificate as ansible_facts.exchange_tls.certificates holds it (defaults: LE R11, mail.contoso.com, SMTP).

    The thumbprint is derived from issuer, subject and validity unless given;
    days_remaining, expired and not_yet_valid follow the dates at NOW.
    """
    issuer = overrides.pop("issuer", R11)
    subject = overrides.pop("subject", MAIL)
    not_before = overrides.pop("not_before", "2026-10-19T00:00:00Z")
    not_after = overrides.pop("not_after", "2027-01-17T00:00:00Z")
    thumbprint = overrides.pop(
        "thumbprint",
        hashlib.sha1(f"{issuer}|{subject}|{not_before}|{not_after}".encode()).hexdigest().upper(),
    )
    facts = {
        "thumbprint": thumbprint,
        "subject": subject,
        "issuer": issuer,
        "tls_certificate_name": f"<I>{issuer}<S>{subject}",
        "friendly_name": None,
        "domains": ["mail.contoso.com", "autodiscover.contoso.com"],
        "not_before": not_before,
        "not_after": not_after,
        "days_remaining": days_from_now(not_after),
        "expired": parse_time(not_after) < parse_time(NOW),
        "not_yet_valid": parse_time(not_before) > parse_time(NOW),
        "services": ["IIS", "SMTP"],
        "status": "Valid",
        "self_signed": issuer == subject,
        "has_private_key": True,
        "root_ca_type": "ThirdParty",
        "is_internal_transport": False,
        "key": "RSA 2048",
        "key_size": 2048,
        "signature_algorithm": "sha256RSA",
        "unknown_properties": [],
        "properties_complete": True,
    }
    facts.update(overrides)
    return facts


def own_certificate(**overrides) -> dict:
    """Exchange's own self-signed certificate, CN=EX01 for EX01 and ex01.contoso.com."""
    defaults = dict(
        issuer=EX01,
        subject=EX01,
        domains=["EX01", "ex01.contoso.com"],
        not_before="2024-03-01T10:00:00Z",
        not_after="2029-03-01T10:00:00Z",
        root_ca_type="Registry",
    )
    defaults.update(overrides)
    return cert(**defaults)


def receive_connector(**overrides) -> dict:
    """A plain receive connector on EX01 (the Default Frontend EX01 without hybrid settings)."""
    facts = {
        "identity": FRONTEND,
        "name": "Default Frontend EX01",
        "server": "EX01",
        "transport_role": "FrontendTransport",
        "bindings": ["0.0.0.0:25", "[::]:25"],
        "ports": [25],
        "fqdn": "mail.contoso.com",
        "auth_mechanism": list(HUB_AUTH),
        "permission_groups": ["AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"],
        "tls_certificate_name": None,
        "tls_domain_capabilities": [],
        "require_tls": False,
        "enabled": True,
        "hybrid": False,
        # As a real session returns them (IPv6 first; CSS-Exchange HealthChecker test data GetReceiveConnector.xml).
        "remote_ip_ranges": ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"],
    }
    facts.update(overrides)
    return facts


def send_connector(**overrides) -> dict:
    """The HCW send connector, EX01 a source server, naming no certificate."""
    facts = {
        "identity": OUTBOUND,
        "name": OUTBOUND,
        "address_spaces": ["smtp:contoso.mail.onmicrosoft.com;1"],
        "source_transport_servers": ["EX01", "EX02"],
        "smart_hosts": [],
        "fqdn": "mail.contoso.com",
        "tls_certificate_name": None,
        "tls_auth_level": "DomainValidation",
        "tls_domain": "mail.protection.outlook.com",
        "require_tls": True,
        "cloud_services_mail_enabled": True,
        "enabled": True,
        "cloud": True,
        "this_server_is_source": True,
    }
    facts.update(overrides)
    return facts


# --------------------------------------------------------------------------
# Whole servers (added for the converging modules' tests)
# --------------------------------------------------------------------------


def own_certificate_of(server: str, **overrides) -> dict:
    """Exchange's own self-signed certificate of ``server`` (CN=<server>), its default SMTP certificate."""
    defaults = dict(
        issuer=f"CN={server}",
        subject=f"CN={server}",
        domains=[server, f"{server.lower()}.contoso.com"],
        services=["IMAP", "POP", "IIS", "SMTP"],
        is_internal_transport=True,
    )
    defaults.update(overrides)
    return own_certificate(**defaults)


def server_facts(name: str = "EX01", role: str = "Mailbox", **overrides) -> dict:
    """The facts of one server at NOW: only its own certificate (the default SMTP one), no connectors.

    internal_transport_certificate is the thumbprint of own_certificate_of(name), so a test that
    replaces ``certificates`` keeps the default by listing own_certificate_of(name) again.
    """
    default = own_certificate_of(name)
    facts = {
        "collected_at": NOW,
        "server": {"name": name, "fqdn": f"{name.lower()}.contoso.com", "role": role, "version": "15.2.1544.4",
                   "edition": "Standard", "site": "Default-First-Site-Name", "computer_name": name},
        "certificates": [default],
        "receive_connectors": [],
        "send_connectors": [],
        "hybrid_configuration": None,
        "internal_transport_certificate": default["thumbprint"],
        "events": [],
        "read_errors": [],
    }
    facts.update(overrides)
    return facts


def hybrid_configuration(**overrides) -> dict:
    """Get-HybridConfiguration as the facts hold it, EX01 listed, naming no certificate."""
    facts = {
        "tls_certificate_name": None,
        "receiving_transport_servers": ["EX01"],
        "sending_transport_servers": ["EX01", "EX02"],
        "edge_transport_servers": [],
        "features": ["OnlineArchive", "FreeBusy", "MailTips", "MessageTracking", "OwaRedirection", "SecureMail", "Photos"],
        "this_server_listed": True,
    }
    facts.update(overrides)
    return facts


# Let's Encrypt's certificates for mail.contoso.com around a renewal, with fixed thumbprints so tests can name them.
R10_THUMB = "3C1A7E2B9D0F4A6E8B2C5D7F9A1B3C5D7E9F0A12"
R11_THUMB = "5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"
R12_THUMB = "7D4E1F2A3B4C5D6E7F8091A2B3C4D5E6F7081920"


def r10(**overrides) -> dict:
    """The certificate before renewal, expired at NOW (as KB2989382's old one)."""
    defaults = dict(issuer=R10, thumbprint=R10_THUMB, not_before="2026-07-21T00:00:00Z", not_after="2026-10-19T00:00:00Z")
    defaults.update(overrides)
    return cert(**defaults)


def r11(**overrides) -> dict:
    """The renewal from R11, valid at NOW."""
    return cert(**{"thumbprint": R11_THUMB, **overrides})


def r12(**overrides) -> dict:
    """A later renewal from R12, issued after R11's."""
    defaults = dict(issuer=R12, thumbprint=R12_THUMB, not_before="2026-11-20T00:00:00Z", not_after="2027-02-18T00:00:00Z")
    defaults.update(overrides)
    return cert(**defaults)
