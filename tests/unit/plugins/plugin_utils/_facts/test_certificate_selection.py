# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_facts/certificate_selection.py: the certificate transport picks for a connector.

The rules are Microsoft's "Selection of Inbound STARTTLS Certificates"
(docs/exchange-behaviour.md#starttls-selection): no Tls in AuthMechanism means no STARTTLS;
the key is TlsCertificateName, else the connector FQDN, else the server FQDN;
only certificates with a private key; CA-issued before self-signed, then the
newest NotBefore; expired and SMTP-less certificates are still selected.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import (
    KEY_FQDN,
    KEY_SERVER_FQDN,
    KEY_TLS_CERTIFICATE_NAME,
    annotate,
    covers,
    domain_matches,
    loosely_matching_certificates,
    matching_certificates,
    parse_time,
    select_inbound,
    select_outbound,
)

from ..facts_factories import MAIL, NOW, R10, cert, own_certificate, receive_connector, send_connector

SERVER_FQDN = "ex01.contoso.com"
self_signed = own_certificate  # Exchange's own CN=EX01 certificate


def name_of(certificate: dict) -> str:
    return certificate["tls_certificate_name"]


# --------------------------------------------------------------------------
# Step 1: AuthMechanism
# --------------------------------------------------------------------------


def test_no_tls_in_auth_mechanism_selects_nothing_even_with_a_matching_certificate() -> None:
    le = cert()
    rc = receive_connector(auth_mechanism=["Integrated", "BasicAuth"], tls_certificate_name=name_of(le))
    selection = select_inbound(rc, [le], SERVER_FQDN)
    assert selection.certificate is None
    assert selection.thumbprint is None
    assert selection.key is None and selection.key_kind is None
    assert selection.matches == []
    assert "AuthMechanism" in selection.reason


def test_empty_auth_mechanism_selects_nothing() -> None:
    assert select_inbound(receive_connector(auth_mechanism=[]), [cert()], SERVER_FQDN).certificate is None
    assert select_inbound(receive_connector(auth_mechanism=None), [cert()], SERVER_FQDN).certificate is None


# --------------------------------------------------------------------------
# Step 2: the search key
# --------------------------------------------------------------------------


def test_key_is_tls_certificate_name_when_set_even_if_the_fqdn_is_covered_by_another() -> None:
    le, own = cert(), self_signed()
    # The FQDN is the server's, which only the self-signed certificate covers.
    rc = receive_connector(fqdn=SERVER_FQDN, tls_certificate_name=name_of(le))
    selection = select_inbound(rc, [own, le], SERVER_FQDN)
    assert selection.key == name_of(le)
    assert selection.key_kind == KEY_TLS_CERTIFICATE_NAME
    assert selection.thumbprint == le["thumbprint"]


def test_a_stale_name_selects_nothing_and_does_not_fall_back_to_the_fqdn() -> None:
    le = cert()
    rc = receive_connector(tls_certificate_name=f"<I>{R10}<S>{MAIL}")  # FQDN mail.contoso.com is covered by le
    selection = select_inbound(rc, [le], SERVER_FQDN)
    assert selection.key_kind == KEY_TLS_CERTIFICATE_NAME
    assert selection.certificate is None
    assert selection.matches == []
    assert "no certificate" in selection.reason


def test_name_compares_issuer_and_subject_case_insensitively() -> None:
    le = cert()
    rc = receive_connector(tls_certificate_name="<i>cn=r11, o=LET'S ENCRYPT, c=us<s>cn=MAIL.CONTOSO.COM")
    assert select_inbound(rc, [le], SERVER_FQDN).thumbprint == le["thumbprint"]


@pytest.mark.parametrize(
    "value",
    [
        "<I>CN=R11,O=Let's Encrypt,C=US<S>CN=mail.contoso.com",       # no spaces after the commas
        "<I>CN=R11,  O=Let's Encrypt, C=US<S>CN=mail.contoso.com",    # an extra space
        "<I>C=US, O=Let's Encrypt, CN=R11<S>CN=mail.contoso.com",     # RDNs reversed
        "<S>CN=mail.contoso.com, O=Contoso",                          # no issuer, and another subject
    ],
)
def test_name_compares_exactly_without_normalisation(value: str) -> None:
    le = cert()
    selection = select_inbound(receive_connector(tls_certificate_name=value), [le], SERVER_FQDN)
    assert selection.certificate is None
    assert matching_certificates(value, [le]) == []


def test_subject_only_name_matches_by_subject_as_the_lab_does() -> None:
    # Exchange's parser accepts "<S>subject"; how transport matches it is not documented. The lab and the
    # controller agree on subject alone (and findings ask for a probe), so neither reports a stale name.
    le = cert()
    other = cert(subject="CN=other.contoso.com", thumbprint="AB" * 20)
    selection = select_inbound(receive_connector(tls_certificate_name="<S>cn=MAIL.contoso.com"), [le, other], SERVER_FQDN)
    assert selection.thumbprint == le["thumbprint"]


def test_loosely_matching_reports_a_hand_typed_value_but_not_an_exact_one() -> None:
    le = cert()
    typed = "<I>CN=R11,  O=Let's Encrypt,  C=US<S>CN=mail.contoso.com"
    assert loosely_matching_certificates(typed, [le]) == [le]
    assert loosely_matching_certificates(name_of(le), [le]) == []
    assert loosely_matching_certificates(None, [le]) == []
    assert matching_certificates(None, [le]) == []


def test_key_is_connector_fqdn_when_no_name() -> None:
    le, own = cert(), self_signed()
    rc = receive_connector(fqdn="mail.contoso.com")
    selection = select_inbound(rc, [own, le], SERVER_FQDN)
    assert (selection.key, selection.key_kind) == ("mail.contoso.com", KEY_FQDN)
    assert selection.thumbprint == le["thumbprint"]


@pytest.mark.parametrize("fqdn", [None, ""])
def test_key_is_server_fqdn_when_neither_name_nor_connector_fqdn(fqdn) -> None:
    le, own = cert(), self_signed()
    rc = receive_connector(fqdn=fqdn)
    selection = select_inbound(rc, [le, own], SERVER_FQDN)
    assert (selection.key, selection.key_kind) == (SERVER_FQDN, KEY_SERVER_FQDN)
    assert selection.thumbprint == own["thumbprint"]


def test_empty_name_counts_as_unset() -> None:
    le = cert()
    selection = select_inbound(receive_connector(tls_certificate_name=""), [le], SERVER_FQDN)
    assert selection.key_kind == KEY_FQDN
    assert selection.thumbprint == le["thumbprint"]


def test_fqdn_key_with_no_covering_certificate_selects_nothing() -> None:
    rc = receive_connector(fqdn="smtp.fabrikam.com")
    selection = select_inbound(rc, [cert(), self_signed()], SERVER_FQDN)
    assert selection.certificate is None and selection.matches == []


# --------------------------------------------------------------------------
# Step 4: the private key
# --------------------------------------------------------------------------


def test_certificate_without_private_key_is_never_selected() -> None:
    newer_without_key = cert(not_before="2026-11-01T00:00:00Z", not_after="2027-01-30T00:00:00Z", has_private_key=False)
    older_with_key = cert()
    rc = receive_connector(tls_certificate_name=name_of(older_with_key))
    selection = select_inbound(rc, [newer_without_key, older_with_key], SERVER_FQDN)
    assert selection.thumbprint == older_with_key["thumbprint"]
    assert {c["thumbprint"] for c in selection.matches} == {newer_without_key["thumbprint"], older_with_key["thumbprint"]}


def test_only_keyless_matches_select_nothing_but_are_reported_as_matches() -> None:
    le = cert(has_private_key=False)
    selection = select_inbound(receive_connector(tls_certificate_name=name_of(le)), [le], SERVER_FQDN)
    assert selection.certificate is None
    assert selection.matches == [le]
    assert "private key" in selection.reason


def test_unknown_private_key_is_treated_as_eligible() -> None:
    le = cert(has_private_key="unknown", services="unknown", status="unknown", properties_complete=False)
    selection = select_inbound(receive_connector(tls_certificate_name=name_of(le)), [le], SERVER_FQDN)
    assert selection.thumbprint == le["thumbprint"]


# --------------------------------------------------------------------------
# Step 6: the order among eligible certificates
# --------------------------------------------------------------------------


def test_ca_issued_before_self_signed_even_when_the_self_signed_one_is_newer() -> None:
    ca = cert(subject="CN=ex01.contoso.com", issuer="CN=Contoso Issuing CA, DC=contoso, DC=com",
              domains=["ex01.contoso.com"], not_before="2025-01-10T00:00:00Z", not_after="2027-01-10T00:00:00Z")
    own = self_signed(not_before="2026-06-01T00:00:00Z", not_after="2031-06-01T00:00:00Z")
    selection = select_inbound(receive_connector(fqdn=SERVER_FQDN), [own, ca], SERVER_FQDN)
    assert selection.thumbprint == ca["thumbprint"]


def test_self_signed_selected_when_no_ca_issued_certificate_matches() -> None:
    own = self_signed()
    assert select_inbound(receive_connector(fqdn=SERVER_FQDN), [cert(), own], SERVER_FQDN).thumbprint == own["thumbprint"]


def test_newest_not_before_wins_among_ca_issued() -> None:
    older = cert(not_before="2026-07-21T00:00:00Z", not_after="2027-06-19T00:00:00Z")  # later NotAfter, older NotBefore
    newer = cert(not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z")
    rc = receive_connector(tls_certificate_name=name_of(newer))
    assert select_inbound(rc, [older, newer], SERVER_FQDN).thumbprint == newer["thumbprint"]
    assert select_inbound(rc, [newer, older], SERVER_FQDN).thumbprint == newer["thumbprint"]


def test_same_not_before_breaks_the_tie_by_latest_not_after() -> None:
    short = cert(not_after="2027-01-17T00:00:00Z")
    long = cert(not_after="2027-10-19T00:00:00Z")
    rc = receive_connector(tls_certificate_name=name_of(short))
    assert select_inbound(rc, [short, long], SERVER_FQDN).thumbprint == long["thumbprint"]


def test_expired_certificate_is_still_selected() -> None:
    expired = cert(not_before="2026-07-21T00:00:00Z", not_after="2026-10-19T00:00:00Z")
    assert expired["expired"]
    selection = select_inbound(receive_connector(tls_certificate_name=name_of(expired)), [expired], SERVER_FQDN)
    assert selection.thumbprint == expired["thumbprint"]


def test_renewed_twin_wins_over_the_expired_one_with_the_same_issuer_and_subject() -> None:
    expired = cert(not_before="2026-07-21T00:00:00Z", not_after="2026-10-19T00:00:00Z")
    renewed = cert(not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z")
    assert name_of(expired) == name_of(renewed)
    rc = receive_connector(tls_certificate_name=name_of(expired))
    assert select_inbound(rc, [expired, renewed], SERVER_FQDN).thumbprint == renewed["thumbprint"]


def test_certificate_without_smtp_is_still_selected() -> None:
    le = cert(services=["IIS"])
    assert select_inbound(receive_connector(tls_certificate_name=name_of(le)), [le], SERVER_FQDN).thumbprint == le["thumbprint"]


def test_status_is_not_a_selection_criterion() -> None:
    revoked = cert(status="Revoked")
    assert select_inbound(receive_connector(tls_certificate_name=name_of(revoked)), [revoked], SERVER_FQDN).certificate is revoked


@given(st.permutations(list(range(6))))
def test_selection_does_not_depend_on_the_order_of_the_store(order) -> None:
    pool = [
        cert(not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z"),
        cert(not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z", thumbprint="0" * 40),
        cert(not_before="2026-07-21T00:00:00Z", not_after="2027-06-19T00:00:00Z"),
        cert(not_before="2026-11-01T00:00:00Z", not_after="2027-01-30T00:00:00Z", has_private_key=False),
        self_signed(domains=["mail.contoso.com"], not_before="2026-11-20T00:00:00Z"),
        cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], not_before="2026-09-01T00:00:00Z"),
    ]
    rc = receive_connector(fqdn="mail.contoso.com")
    expected = select_inbound(rc, pool, SERVER_FQDN).thumbprint
    assert expected == "0" * 40  # equal dates: the thumbprint makes the order total
    assert select_inbound(rc, [pool[i] for i in order], SERVER_FQDN).thumbprint == expected


# --------------------------------------------------------------------------
# Send connectors
# --------------------------------------------------------------------------


def test_outbound_uses_the_name_and_ignores_auth_mechanism() -> None:
    le = cert()
    sc = send_connector(tls_certificate_name=name_of(le))
    selection = select_outbound(sc, [self_signed(), le], SERVER_FQDN)
    assert selection.key_kind == KEY_TLS_CERTIFICATE_NAME
    assert selection.thumbprint == le["thumbprint"]


def test_outbound_stale_name_selects_nothing() -> None:
    sc = send_connector(tls_certificate_name=f"<I>{R10}<S>{MAIL}")
    assert select_outbound(sc, [cert()], SERVER_FQDN).certificate is None


def test_outbound_without_name_uses_the_connector_fqdn_then_the_server_fqdn() -> None:
    le, own = cert(), self_signed()
    with_fqdn = select_outbound(send_connector(fqdn="mail.contoso.com"), [own, le], SERVER_FQDN)
    assert (with_fqdn.key_kind, with_fqdn.thumbprint) == (KEY_FQDN, le["thumbprint"])
    without = select_outbound(send_connector(fqdn=None), [own, le], SERVER_FQDN)
    assert (without.key, without.key_kind, without.thumbprint) == (SERVER_FQDN, KEY_SERVER_FQDN, own["thumbprint"])


# --------------------------------------------------------------------------
# Domain matching
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, name, expected",
    [
        ("mail.contoso.com", "mail.contoso.com", True),
        ("mail.contoso.com", "smtp.contoso.com", False),
        ("Mail.Contoso.COM", "mail.contoso.com", True),
        ("mail.contoso.com", "MAIL.CONTOSO.COM", True),
        ("mail.contoso.com.", "mail.contoso.com", True),
        ("mail.contoso.com", "mail.contoso.com.", True),
        ("*.contoso.com", "mail.contoso.com", True),
        ("*.Contoso.Com", "MAIL.contoso.com", True),
        ("*.contoso.com.", "mail.contoso.com", True),
        ("*.contoso.com", "mail.contoso.com.", True),
        ("*.contoso.com", "a.mail.contoso.com", False),   # one label only
        ("*.contoso.com", "contoso.com", False),          # the bare domain is not covered
        ("*.contoso.com", ".contoso.com", False),         # an empty label is not a label
        ("*.contoso.com", "mail.fabrikam.com", False),
        ("*.contoso.com", "mailcontoso.com", False),
        ("mail.*.com", "mail.contoso.com", False),        # only a leading wildcard
        ("m*.contoso.com", "mail.contoso.com", False),    # no partial-label wildcard
        ("contoso.com", "mail.contoso.com", False),       # no suffix matching
        ("*", "mail.contoso.com", False),
    ],
)
def test_domain_matches(pattern: str, name: str, expected: bool) -> None:
    assert domain_matches(pattern, name) is expected


def test_covers_by_subject_cn_when_domains_are_empty() -> None:
    c = cert(domains=[])
    assert covers(c, "mail.contoso.com")
    assert covers(c, "MAIL.contoso.com.")
    assert not covers(c, "autodiscover.contoso.com")


def test_covers_by_cn_when_domains_is_none() -> None:
    assert covers(cert(domains=None), "mail.contoso.com")


def test_covers_by_domains_when_the_cn_differs() -> None:
    c = cert(subject="CN=contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US",
             domains=["contoso.com", "mail.contoso.com", "autodiscover.contoso.com"])
    assert covers(c, "mail.contoso.com")
    assert covers(c, "contoso.com")
    assert not covers(c, "smtp.contoso.com")


def test_covers_with_a_wildcard_cn_and_a_wildcard_domain() -> None:
    by_cn = cert(subject="CN=*.contoso.com", domains=[])
    by_domain = cert(subject="CN=contoso.com", domains=["contoso.com", "*.contoso.com"])
    for c in (by_cn, by_domain):
        assert covers(c, "mail.contoso.com")
        assert not covers(c, "a.mail.contoso.com")
    assert not covers(by_cn, "contoso.com")
    assert covers(by_domain, "contoso.com")


def test_covers_uses_the_cn_of_a_longer_subject() -> None:
    c = cert(subject="CN=mail.contoso.com, OU=IT, O=Contoso, L=Redmond, S=Washington, C=US", domains=[])
    assert covers(c, "mail.contoso.com")
    assert not covers(c, "IT")


def test_parse_time_is_aware_utc() -> None:
    assert parse_time(NOW) == dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------
# annotate()
# --------------------------------------------------------------------------


def test_annotate_adds_the_selection_to_every_connector() -> None:
    le, own = cert(), self_signed()
    old = f"<I>{R10}<S>{MAIL}"
    facts = {
        "collected_at": NOW,
        "server": {"name": "EX01", "fqdn": SERVER_FQDN},
        "certificates": [own, le],
        "receive_connectors": [
            receive_connector(tls_certificate_name=name_of(le), hybrid=True,
                              tls_domain_capabilities=["mail.protection.outlook.com:AcceptCloudServicesMail"]),
            receive_connector(identity="EX01\\Default EX01", name="Default EX01", transport_role="HubTransport",
                              bindings=["0.0.0.0:2525", "[::]:2525"], ports=[2525], fqdn=None),
            receive_connector(identity="EX01\\Client Frontend EX01", name="Client Frontend EX01",
                              bindings=["0.0.0.0:587"], ports=[587], auth_mechanism=["BasicAuth", "Integrated"]),
            receive_connector(identity="EX01\\Partner EX01", name="Partner EX01", tls_certificate_name=old),
        ],
        "send_connectors": [
            send_connector(tls_certificate_name=name_of(le)),
            send_connector(name="Outbound EX02 only", identity="Outbound EX02 only", tls_certificate_name=name_of(le),
                           source_transport_servers=["EX02"], this_server_is_source=False),
            send_connector(name="Internet", identity="Internet", tls_certificate_name=None, fqdn=None, cloud=False),
        ],
        "hybrid_configuration": None,
        "internal_transport_certificate": own["thumbprint"],
        "events": [],
        "read_errors": [],
    }
    assert annotate(facts) is facts
    frontend, hub, client, partner = facts["receive_connectors"]
    assert (frontend["selected_certificate"], frontend["starttls_offered"]) == (le["thumbprint"], True)
    assert (hub["selected_certificate"], hub["starttls_offered"]) == (own["thumbprint"], True)
    assert (client["selected_certificate"], client["starttls_offered"]) == (None, False)
    assert (partner["selected_certificate"], partner["starttls_offered"]) == (None, False)
    hybrid, other_source, internet = facts["send_connectors"]
    assert hybrid["selected_certificate"] == le["thumbprint"]
    assert other_source["selected_certificate"] is None
    assert "selected_certificate" in other_source
    assert internet["selected_certificate"] == own["thumbprint"]
    assert all("starttls_offered" not in sc for sc in facts["send_connectors"])


def test_annotate_on_empty_facts() -> None:
    facts = {"server": {"name": "EX01", "fqdn": SERVER_FQDN}, "certificates": [], "receive_connectors": [],
             "send_connectors": []}
    assert annotate(facts) == facts
