# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_facts/replacement.py: which certificate a stale TlsCertificateName should name now.

Policy: candidates have a private key, are valid now, are not Revoked or
Invalid, and (hybrid/cloud) are not self-signed. Ranks: same subject, same
subject CN, names covering the stale CN or the connector FQDN. Within the best
rank: CA-issued first, then newest NotBefore, then latest NotAfter. Different
subjects at the top are ambiguous, never a guess.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import parse_time
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.replacement import (
    AMBIGUOUS,
    FOUND,
    NONE,
    RANK_COVERS_DOMAIN,
    RANK_SAME_COMMON_NAME,
    RANK_SAME_SUBJECT,
    Replacement,
    choose_replacement,
    unusable_because,
)

from ..facts_factories import MAIL, OV_WITH_OU, OV_WITHOUT_OU, R10, R11, R12, SECTIGO_OV, cert
from ..facts_factories import NOW as NOW_TEXT

NOW = parse_time(NOW_TEXT)
STALE_LE = f"<I>{R10}<S>{MAIL}"


def self_signed(**overrides) -> dict:
    """A self-signed certificate for mail.contoso.com, newer than R11's (not Exchange's own CN=EX01)."""
    subject = overrides.pop("subject", MAIL)
    defaults = dict(issuer=subject, subject=subject, root_ca_type="Registry",
                    not_before="2026-11-01T00:00:00Z", not_after="2031-11-01T00:00:00Z")
    defaults.update(overrides)
    return cert(**defaults)


def thumbprints(certificates) -> list:
    return [c["thumbprint"] for c in certificates]


# --------------------------------------------------------------------------
# Ranks
# --------------------------------------------------------------------------


def test_rank_same_subject_when_only_the_issuer_changed() -> None:
    r11 = cert()
    choice = choose_replacement([r11], NOW, stale_name=STALE_LE)
    assert choice.status == FOUND
    assert choice.certificate is r11
    assert choice.rank == RANK_SAME_SUBJECT
    assert choice.name == f"<I>{R11}<S>{MAIL}"
    assert "same subject" in choice.basis


def test_rank_same_subject_compares_case_insensitively() -> None:
    r11 = cert(subject="CN=Mail.Contoso.com")
    assert choose_replacement([r11], NOW, stale_name=STALE_LE).rank == RANK_SAME_SUBJECT


def test_rank_same_common_name_when_the_ca_dropped_ou() -> None:
    renewed = cert(issuer=SECTIGO_OV, subject=OV_WITHOUT_OU, not_before="2026-11-20T00:00:00Z",
                   not_after="2027-11-20T23:59:59Z")
    choice = choose_replacement([renewed], NOW, stale_name=f"<I>{SECTIGO_OV}<S>{OV_WITH_OU}")
    assert (choice.status, choice.rank) == (FOUND, RANK_SAME_COMMON_NAME)
    assert choice.name == f"<I>{SECTIGO_OV}<S>{OV_WITHOUT_OU}"
    assert "same subject CN" in choice.basis


def test_rank_same_common_name_compares_case_insensitively() -> None:
    renewed = cert(subject="CN=MAIL.contoso.com, O=Contoso")
    assert choose_replacement([renewed], NOW, stale_name=STALE_LE).rank == RANK_SAME_COMMON_NAME


def test_rank_covers_domain_by_the_stale_cn_in_the_san() -> None:
    san = cert(subject="CN=contoso.com", domains=["contoso.com", "mail.contoso.com"])
    choice = choose_replacement([san], NOW, stale_name=STALE_LE)
    assert (choice.status, choice.rank, choice.certificate) == (FOUND, RANK_COVERS_DOMAIN, san)
    assert "cover" in choice.basis


def test_rank_covers_domain_by_a_wildcard_one_label_only() -> None:
    wildcard = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"])
    assert choose_replacement([wildcard], NOW, stale_name=STALE_LE).rank == RANK_COVERS_DOMAIN
    deep = f"<I>{R10}<S>CN=smtp.mail.contoso.com"
    assert choose_replacement([wildcard], NOW, stale_name=deep).status == NONE


def test_rank_covers_domain_by_the_connector_fqdn() -> None:
    smtp = cert(subject="CN=smtp.contoso.com", domains=["smtp.contoso.com"])
    stale = f"<I>{R10}<S>CN=relay.contoso.com"
    assert choose_replacement([smtp], NOW, stale_name=stale).status == NONE
    choice = choose_replacement([smtp], NOW, stale_name=stale, fqdn="smtp.contoso.com")
    assert (choice.status, choice.rank) == (FOUND, RANK_COVERS_DOMAIN)


def test_rank_covers_domain_by_the_fqdn_alone_when_there_is_no_stale_name() -> None:
    le = cert()
    choice = choose_replacement([le], NOW, fqdn="mail.contoso.com")
    assert (choice.status, choice.rank, choice.certificate) == (FOUND, RANK_COVERS_DOMAIN, le)


def test_nothing_to_rank_by() -> None:
    choice = choose_replacement([cert()], NOW)
    assert choice == Replacement(NONE)
    assert choice.name is None and choice.basis == ""


def test_unrelated_certificates_are_neither_candidates_nor_excluded() -> None:
    other = cert(subject="CN=www.fabrikam.com", domains=["www.fabrikam.com"])
    expired_other = cert(subject="CN=www.fabrikam.com", domains=["www.fabrikam.com"], not_after="2026-01-01T00:00:00Z")
    choice = choose_replacement([other, expired_other], NOW, stale_name=STALE_LE, fqdn="mail.contoso.com")
    assert choice.status == NONE
    assert choice.excluded == []


def test_same_subject_beats_same_cn_beats_covering_even_when_newer() -> None:
    same_subject = cert(not_before="2026-09-01T00:00:00Z", not_after="2026-11-30T00:00:00Z")
    same_cn = cert(subject="CN=mail.contoso.com, O=Contoso", not_before="2026-10-01T00:00:00Z")
    covering = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], not_before="2026-11-01T00:00:00Z",
                    not_after="2027-11-01T00:00:00Z")
    everything = [covering, same_cn, same_subject]
    assert choose_replacement(everything, NOW, stale_name=STALE_LE).certificate is same_subject
    assert choose_replacement([covering, same_cn], NOW, stale_name=STALE_LE).certificate is same_cn
    assert choose_replacement([covering], NOW, stale_name=STALE_LE).certificate is covering


# --------------------------------------------------------------------------
# Exclusions
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, why",
    [
        (dict(has_private_key=False), "no private key"),
        (dict(has_private_key=None), "no private key"),
        (dict(has_private_key="unknown"), "did not say whether it has a private key"),
        (dict(not_before="2026-08-28T00:00:00Z", not_after="2026-11-26T00:00:00Z"), "expired on 2026-11-26T00:00:00Z"),
        (dict(not_before="2026-12-01T00:00:00Z", not_after="2027-03-01T00:00:00Z"), "not valid before 2026-12-01T00:00:00Z"),
        (dict(status="Revoked"), "status is Revoked"),
        (dict(status="Invalid"), "status is Invalid"),
        (dict(status="revoked"), "status is revoked"),
        (dict(status="DateInvalid"), "status is DateInvalid"),
        (dict(status="PendingRequest"), "status is PendingRequest"),
    ],
)
def test_each_exclusion_reason(overrides: dict, why: str) -> None:
    bad = cert(**overrides)
    assert why in unusable_because(bad, NOW, public_only=False)
    choice = choose_replacement([bad], NOW, stale_name=STALE_LE)
    assert choice.status == NONE
    assert choice.certificate is None
    assert len(choice.excluded) == 1
    excluded, reason = choice.excluded[0]
    assert excluded is bad and why in reason


def test_self_signed_excluded_only_when_public_only() -> None:
    own = self_signed()
    assert unusable_because(own, NOW, public_only=False) is None
    assert "self-signed" in unusable_because(own, NOW, public_only=True)
    assert choose_replacement([own], NOW, stale_name=STALE_LE).certificate is own
    hybrid = choose_replacement([own], NOW, stale_name=STALE_LE, public_only=True)
    assert hybrid.status == NONE
    assert [(c["thumbprint"], "self-signed" in why) for c, why in hybrid.excluded] == [(own["thumbprint"], True)]


@pytest.mark.parametrize("status", ["Valid", "unknown", "RevocationCheckFailure", "Untrusted", "", None])
def test_other_statuses_are_not_excluded(status) -> None:
    assert unusable_because(cert(status=status), NOW, public_only=True) is None


def test_a_certificate_valid_until_exactly_now_is_still_usable() -> None:
    assert unusable_because(cert(not_after=NOW_TEXT), NOW, public_only=False) is None
    assert unusable_because(cert(not_before=NOW_TEXT), NOW, public_only=False) is None


def test_an_excluded_better_rank_leaves_the_next_rank_to_win() -> None:
    same_subject_no_key = cert(has_private_key=False, not_before="2026-11-01T00:00:00Z")
    same_cn = cert(subject="CN=mail.contoso.com, O=Contoso")
    choice = choose_replacement([same_subject_no_key, same_cn], NOW, stale_name=STALE_LE)
    assert (choice.status, choice.certificate, choice.rank) == (FOUND, same_cn, RANK_SAME_COMMON_NAME)
    assert [c for c, _why in choice.excluded] == [same_subject_no_key]


def test_excluded_lists_every_ranked_but_unusable_certificate() -> None:
    old = cert(issuer=R10, not_before="2026-07-21T00:00:00Z", not_after="2026-10-19T00:00:00Z")
    keyless = cert(has_private_key=False)
    choice = choose_replacement([old, keyless], NOW, stale_name=STALE_LE)
    assert choice.status == NONE
    assert sorted(thumbprints(c for c, _why in choice.excluded)) == sorted([old["thumbprint"], keyless["thumbprint"]])


# --------------------------------------------------------------------------
# Order within the best rank
# --------------------------------------------------------------------------


def test_newest_not_before_wins_within_a_rank() -> None:
    r11 = cert(issuer=R11, not_before="2026-09-01T00:00:00Z", not_after="2027-03-01T00:00:00Z")
    r12 = cert(issuer=R12, not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z")
    for store in ([r11, r12], [r12, r11]):
        choice = choose_replacement(store, NOW, stale_name=STALE_LE)
        assert (choice.status, choice.certificate) == (FOUND, r12)
        assert choice.candidates == [r12, r11]


def test_same_not_before_then_latest_not_after_wins() -> None:
    short = cert(issuer=R11, not_after="2027-01-17T00:00:00Z")
    long = cert(issuer=R12, not_after="2027-04-17T00:00:00Z")
    for store in ([short, long], [long, short]):
        assert choose_replacement(store, NOW, stale_name=STALE_LE).certificate is long


def test_ca_issued_before_self_signed_within_a_rank() -> None:
    ca = cert(not_before="2026-09-01T00:00:00Z")
    own = self_signed(not_before="2026-11-20T00:00:00Z")  # same subject, newer
    for store in ([own, ca], [ca, own]):
        choice = choose_replacement(store, NOW, stale_name=STALE_LE)
        assert (choice.status, choice.certificate) == (FOUND, ca)
        assert choice.candidates == [ca]


def test_self_signed_in_a_better_rank_beats_ca_in_a_worse_one_when_allowed() -> None:
    own = self_signed()                                                  # same subject
    ca = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"])     # covers only
    assert choose_replacement([ca, own], NOW, stale_name=STALE_LE).certificate is own
    assert choose_replacement([ca, own], NOW, stale_name=STALE_LE, public_only=True).certificate is ca


def test_self_signed_of_another_subject_does_not_make_the_ca_choice_ambiguous() -> None:
    ca = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"])
    own = self_signed(subject="CN=EX01", domains=["EX01", "mail.contoso.com"])
    choice = choose_replacement([own, ca], NOW, stale_name=STALE_LE)
    assert (choice.status, choice.certificate) == (FOUND, ca)


# --------------------------------------------------------------------------
# Ambiguity
# --------------------------------------------------------------------------


def test_two_different_subjects_in_the_best_rank_are_ambiguous() -> None:
    wildcard = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], not_before="2026-11-01T00:00:00Z")
    san = cert(subject="CN=contoso.com", domains=["contoso.com", "mail.contoso.com"])
    older_san = cert(subject="CN=contoso.com", domains=["contoso.com", "mail.contoso.com"],
                     not_before="2026-08-01T00:00:00Z", not_after="2027-08-01T00:00:00Z")
    for store in ([wildcard, san, older_san], [older_san, san, wildcard]):
        choice = choose_replacement(store, NOW, stale_name=STALE_LE)
        assert choice.status == AMBIGUOUS
        assert choice.certificate is None and choice.name is None
        assert choice.rank == RANK_COVERS_DOMAIN
        # One candidate per subject, the newest of each, newest first.
        assert choice.candidates == [wildcard, san]


def test_two_different_subjects_with_the_same_cn_are_ambiguous() -> None:
    stale = f"<I>{SECTIGO_OV}<S>{OV_WITH_OU}"
    a = cert(issuer=SECTIGO_OV, subject=OV_WITHOUT_OU)
    b = cert(issuer=SECTIGO_OV, subject="CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US")
    choice = choose_replacement([a, b], NOW, stale_name=stale)
    assert (choice.status, choice.rank) == (AMBIGUOUS, RANK_SAME_COMMON_NAME)
    assert sorted(thumbprints(choice.candidates)) == sorted([a["thumbprint"], b["thumbprint"]])


def test_two_renewals_of_the_same_subject_are_not_ambiguous() -> None:
    r11 = cert(issuer=R11, not_before="2026-08-20T00:00:00Z", not_after="2026-12-18T00:00:00Z")
    r12 = cert(issuer=R12, not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z")
    choice = choose_replacement([r11, r12], NOW, stale_name=STALE_LE)
    assert (choice.status, choice.certificate) == (FOUND, r12)


def test_renewals_whose_subjects_differ_only_in_case_are_not_ambiguous() -> None:
    a = cert(subject="CN=mail.contoso.com, O=Contoso", not_before="2026-09-01T00:00:00Z")
    b = cert(subject="CN=Mail.Contoso.com, O=Contoso")
    assert choose_replacement([a, b], NOW, stale_name=STALE_LE).certificate is b


def test_a_different_subject_in_a_worse_rank_is_not_ambiguous() -> None:
    r11 = cert()
    wildcard = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], not_before="2026-11-20T00:00:00Z")
    choice = choose_replacement([wildcard, r11], NOW, stale_name=STALE_LE)
    assert (choice.status, choice.certificate, choice.rank) == (FOUND, r11, RANK_SAME_SUBJECT)


def test_an_excluded_certificate_does_not_make_the_choice_ambiguous() -> None:
    r11 = cert(subject="CN=mail.contoso.com, O=Contoso")
    expired = cert(subject="CN=mail.contoso.com, O=Contoso Ltd", not_after="2026-11-01T00:00:00Z",
                   not_before="2026-08-01T00:00:00Z")
    choice = choose_replacement([expired, r11], NOW, stale_name=STALE_LE)
    assert (choice.status, choice.certificate) == (FOUND, r11)


# --------------------------------------------------------------------------
# The stale name itself
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stale",
    [
        "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com,  O=Contoso",   # two spaces
        "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com ,O=Contoso",    # space before the comma
        "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com,O=Contoso",     # no space
        "<I>CN=R10, O=Let's Encrypt, C=US<S>cn=MAIL.contoso.com, o=contoso",    # case
    ],
)
def test_hand_typed_stale_name_still_ranks_its_certificate_first(stale: str) -> None:
    exact = cert(subject="CN=mail.contoso.com, O=Contoso", not_before="2026-09-01T00:00:00Z")
    newer_same_cn = cert(subject="CN=mail.contoso.com, O=Contoso Ltd")
    newer_covering = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], not_before="2026-11-20T00:00:00Z")
    choice = choose_replacement([newer_covering, newer_same_cn, exact], NOW, stale_name=stale)
    assert (choice.status, choice.rank, choice.certificate) == (FOUND, RANK_SAME_SUBJECT, exact)


@pytest.mark.parametrize(
    "stale",
    [
        "CN=mail.contoso.com",                          # no markers at all
        " <I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com",  # whitespace before the first marker
        "<I>CN=R10, O=Let's Encrypt, C=US",             # no <S>
        "<I><S>CN=mail.contoso.com",                   # empty issuer
    ],
)
def test_unparsable_stale_name_falls_back_to_the_fqdn(stale: str) -> None:
    smtp = cert(subject="CN=smtp.contoso.com", domains=["smtp.contoso.com"])
    same_subject_as_text = cert()  # would rank first if the value were read as naming CN=mail.contoso.com
    choice = choose_replacement([same_subject_as_text, smtp], NOW, stale_name=stale, fqdn="smtp.contoso.com")
    assert (choice.status, choice.rank, choice.certificate) == (FOUND, RANK_COVERS_DOMAIN, smtp)
    assert choose_replacement([smtp], NOW, stale_name=stale).status == NONE


def test_stale_name_without_a_cn_ranks_only_by_subject_and_fqdn() -> None:
    stale = f"<I>{R10}<S>O=Contoso, C=US"
    same_subject = cert(subject="O=Contoso, C=US", domains=[])
    assert choose_replacement([same_subject], NOW, stale_name=stale).rank == RANK_SAME_SUBJECT
    assert choose_replacement([cert()], NOW, stale_name=stale).status == NONE
    assert choose_replacement([cert()], NOW, stale_name=stale, fqdn="mail.contoso.com").rank == RANK_COVERS_DOMAIN


# --------------------------------------------------------------------------
# Property: the store's order does not matter
# --------------------------------------------------------------------------

_POOL = [
    cert(),
    cert(issuer=R12, not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z", thumbprint="0" * 40),
    cert(issuer=R10, not_before="2026-07-21T00:00:00Z", not_after="2026-10-19T00:00:00Z"),  # expired
    cert(has_private_key=False, not_before="2026-11-01T00:00:00Z"),
    cert(subject="CN=mail.contoso.com, O=Contoso", not_before="2026-11-02T00:00:00Z"),
    cert(subject="CN=mail.contoso.com, O=Contoso Ltd", not_before="2026-11-02T00:00:00Z"),
    cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], not_before="2026-11-03T00:00:00Z"),
    cert(subject="CN=contoso.com", domains=["contoso.com", "mail.contoso.com", "smtp.contoso.com"]),
    self_signed(),
    self_signed(subject="CN=EX01", domains=["EX01", "ex01.contoso.com", "smtp.contoso.com"]),
    cert(status="Revoked", not_before="2026-11-10T00:00:00Z"),
    cert(not_before="2026-12-10T00:00:00Z", not_after="2027-03-10T00:00:00Z"),  # not yet valid
]


def _summary(choice: Replacement) -> tuple:
    return (
        choice.status,
        choice.certificate["thumbprint"] if choice.certificate else None,
        choice.rank,
        thumbprints(choice.candidates),
        sorted((c["thumbprint"], why) for c, why in choice.excluded),
    )


@given(
    subset=st.lists(st.sampled_from(range(len(_POOL))), unique=True),
    data=st.data(),
    stale=st.sampled_from([None, STALE_LE, f"<I>{R10}<S>CN=mail.contoso.com, O=Contoso", "not a name",
                           f"<I>{R10}<S>CN=smtp.contoso.com"]),
    fqdn=st.sampled_from([None, "mail.contoso.com", "smtp.contoso.com", "ex01.contoso.com"]),
    public_only=st.booleans(),
)
def test_choice_is_independent_of_the_order_of_the_certificates(subset, data, stale, fqdn, public_only) -> None:
    store = [_POOL[i] for i in subset]
    shuffled = data.draw(st.permutations(store))
    expected = _summary(choose_replacement(store, NOW, stale_name=stale, fqdn=fqdn, public_only=public_only))
    assert _summary(choose_replacement(shuffled, NOW, stale_name=stale, fqdn=fqdn, public_only=public_only)) == expected


# --------------------------------------------------------------------------
# Twins: a name cannot choose between certificates with the same issuer and subject
# --------------------------------------------------------------------------


def test_a_candidate_whose_name_presents_a_newer_revoked_twin_is_excluded_naming_the_twin() -> None:
    usable = cert()
    revoked_twin = cert(not_before="2026-11-20T00:00:00Z", not_after="2027-02-18T00:00:00Z", status="Revoked")
    choice = choose_replacement([usable, revoked_twin], NOW, stale_name=STALE_LE)
    assert choice.status == NONE
    reasons = dict((c["thumbprint"], why) for c, why in choice.excluded)
    assert reasons[revoked_twin["thumbprint"]] == "its status is Revoked"
    assert f"transport present {revoked_twin['thumbprint']}" in reasons[usable["thumbprint"]]


def test_a_newer_usable_twin_is_itself_the_choice() -> None:
    older, newer = cert(), cert(not_before="2026-11-20T00:00:00Z", not_after="2027-02-18T00:00:00Z")
    choice = choose_replacement([older, newer], NOW, stale_name=STALE_LE)
    assert choice.status == FOUND and choice.certificate["thumbprint"] == newer["thumbprint"]
