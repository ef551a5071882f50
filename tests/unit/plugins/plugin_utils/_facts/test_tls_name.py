# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_facts/tls_name.py: Exchange's TlsCertificateName rules."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.tls_name import (
    TlsCertificateName,
    TlsCertificateNameError,
    common_name,
    format_tls_certificate_name,
    is_smtp_domain,
    names_match,
    names_match_loosely,
    normalize_tls_certificate_name,
    parse_tls_certificate_name,
    split_tls_certificate_name,
)
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500 import encode_name, render_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name

LE_ISSUER = "CN=R10, O=Let's Encrypt, C=US"
SUBJECT = "CN=mail.contoso.com, OU=IT, O=Contoso, L=Redmond, S=Washington, C=US"
VALUE = f"<I>{LE_ISSUER}<S>{SUBJECT}"


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def test_parse_issuer_and_subject() -> None:
    assert parse_tls_certificate_name(VALUE) == TlsCertificateName(issuer=LE_ISSUER, subject=SUBJECT)


def test_parse_microsoft_fixture_example() -> None:
    value = "<I>CN=GeoTrust TLS RSA CA G1, OU=www.digicert.com, O=DigiCert Inc, C=US<S>CN=mail.contoso.com"
    name = parse_tls_certificate_name(value)
    assert name.issuer == "CN=GeoTrust TLS RSA CA G1, OU=www.digicert.com, O=DigiCert Inc, C=US"
    assert name.subject == "CN=mail.contoso.com"
    assert name.common_name == "mail.contoso.com"
    assert str(name) == value


@pytest.mark.parametrize(("i", "s"), [("<I>", "<S>"), ("<i>", "<s>"), ("<I>", "<s>"), ("<i>", "<S>")])
def test_markers_in_any_case(i: str, s: str) -> None:
    assert parse_tls_certificate_name(f"{i}{LE_ISSUER}{s}{SUBJECT}") == TlsCertificateName(LE_ISSUER, SUBJECT)


@pytest.mark.parametrize("marker", ["<s>", "<S>"])
def test_subject_only(marker: str) -> None:
    name = parse_tls_certificate_name(f"{marker}CN=mail.contoso.com")
    assert name == TlsCertificateName(issuer=None, subject="CN=mail.contoso.com")
    assert str(name) == "<S>CN=mail.contoso.com"


def test_values_are_not_normalised() -> None:
    name = parse_tls_certificate_name("<I>cn=CA,o=X ; c=US<S>cn=Mail.Contoso.com,O=x")
    assert name == TlsCertificateName(issuer="cn=CA,o=X ; c=US", subject="cn=Mail.Contoso.com,O=x")


def test_subject_containing_s_marker_keeps_it() -> None:
    name = parse_tls_certificate_name("<I>CN=CA<S>CN=mail.contoso.com, O=a<S>b")
    assert name.subject == "CN=mail.contoso.com, O=a<S>b"
    assert name.issuer == "CN=CA"


def test_subject_containing_i_marker_keeps_it() -> None:
    assert parse_tls_certificate_name("<S>CN=mail.contoso.com, O=<I>x").subject == "CN=mail.contoso.com, O=<I>x"


def test_line_feed_in_issuer_is_accepted_like_exchange() -> None:
    # "[^<]+" crosses line feeds; the X.500 parser treats LF as whitespace.
    name = parse_tls_certificate_name("<I>CN=CA,\nO=X<S>CN=mail.contoso.com")
    assert name.issuer == "CN=CA,\nO=X"
    assert normalize_tls_certificate_name("<I>CN=CA,\nO=X<S>CN=mail.contoso.com").issuer == "CN=CA, O=X"


def test_carriage_return_does_not_end_the_subject() -> None:
    # .NET's '.' matches CR; only LF stops it.
    assert parse_tls_certificate_name('<S>CN=mail.contoso.com, O="a\rb"').subject == 'CN=mail.contoso.com, O="a\rb"'


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "it is empty"),
        ("CN=mail.contoso.com", "no <S> marker"),
        ("<I>CN=CA", "no <S> marker after the issuer"),
        ("<I>CN=CA<X>CN=mail.contoso.com", "the issuer contains '<' at position 8"),
        ("<I>CN=a<b<S>CN=mail.contoso.com", "the issuer contains '<' at position 7"),
        ("<I><S>CN=mail.contoso.com", "the issuer after <I> is empty"),
        ("<I>CN=CA<S>", "the subject after <S> is empty"),
        ("<S>", "the subject after <S> is empty"),
        ("<S>\nCN=mail.contoso.com", "the subject starts with a line feed at position 3"),
        (" <I>CN=CA<S>CN=mail.contoso.com", "whitespace before the first marker"),
        ("x<S>CN=mail.contoso.com", "does not start with <I> or <S>"),
        ("<S>CN=mail.contoso.com\n", "line feed at position 22"),
        ("<I>CN=CA<S>CN=mail.contoso.com\nO=X", "Exchange would keep only 'CN=mail.contoso.com'"),
    ],
)
def test_format_errors(value: str, fragment: str) -> None:
    with pytest.raises(TlsCertificateNameError) as info:
        parse_tls_certificate_name(value)
    message = str(info.value)
    assert fragment in message
    assert repr(value) in message
    assert "expected '<I>issuer<S>subject'" in message
    assert info.value.value == value
    assert not info.value.invalid_domain


@pytest.mark.parametrize(
    "cn",
    ["mail.contoso.com", "*.contoso.com", "*", "localhost", "mail_1.contoso.com", "-x.com", "[192.0.2.1]",
     "[IPv6:2001:db8::1]", "[ipv6:2001:db8::1]", "MAIL.CONTOSO.COM"],
)
def test_cn_accepted_as_smtp_domain(cn: str) -> None:
    assert parse_tls_certificate_name(f"<S>CN={cn}, O=Contoso").common_name == cn


@pytest.mark.parametrize(
    "cn",
    ["Contoso Mail", "*.*.contoso.com", "mail.*.com", "mail.contoso.com.", ".contoso.com", "a..b", "",
     '"mail.contoso.com"', "*mail.contoso.com", "**.contoso.com", "mail.contoso.com ", "mäil.contoso.com",
     "[192.0.2.256]", "[IPv6:zz::1]",
     "x" * 64 + ".com", "*."],
)
def test_cn_that_is_not_a_domain(cn: str) -> None:
    with pytest.raises(TlsCertificateNameError) as info:
        parse_tls_certificate_name(f"<S>CN={cn}, O=Contoso")
    assert info.value.invalid_domain
    assert "is not an SMTP domain" in str(info.value)


@pytest.mark.parametrize("subject", ["O=Contoso", "CN = mail.contoso.com", "C N=mail.contoso.com"])
def test_subject_without_cn(subject: str) -> None:
    with pytest.raises(TlsCertificateNameError, match="has no 'CN='") as info:
        parse_tls_certificate_name("<S>" + subject)
    assert not info.value.invalid_domain


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("<S>CN=mail.contoso.com, FOO=bar", "the subject is not a valid X.500 name"),
        ("<I>garbage<S>CN=mail.contoso.com", "the issuer is not a valid X.500 name"),
        ("<I>C=Ü<S>CN=mail.contoso.com", "PrintableString"),
        ("<S>CN=mail.contoso.com, CN=1+2", "the subject is not a valid X.500 name"),
    ],
)
def test_parts_must_be_x500_names(value: str, fragment: str) -> None:
    with pytest.raises(TlsCertificateNameError, match=fragment):
        parse_tls_certificate_name(value)


def test_cn_is_searched_in_the_raw_subject() -> None:
    # Exchange takes the first "CN=" anywhere, even inside another value.
    assert parse_tls_certificate_name("<S>O=Contoso, CN=mail.contoso.com").common_name == "mail.contoso.com"
    assert common_name("OU=xCN=first.example, CN=second.example") == "first.example"


@pytest.mark.parametrize(
    ("subject", "cn"),
    [
        ("CN=mail.contoso.com", "mail.contoso.com"),
        ("cn=mail.contoso.com, O=x", "mail.contoso.com"),
        ("CN=a + O=b, C=US", "a + O=b"),  # up to the next comma, raw
        ('CN="quoted", O=x', '"quoted"'),
        ("CN=", ""),
        ("O=x", None),
        ("CN = x", None),
    ],
)
def test_common_name(subject: str, cn: str | None) -> None:
    assert common_name(subject) == cn


def test_non_string_is_refused() -> None:
    with pytest.raises(TlsCertificateNameError, match="NoneType"):
        parse_tls_certificate_name(None)  # type: ignore[arg-type]


def test_error_accepts_a_ready_made_message() -> None:
    error = TlsCertificateNameError("something else went wrong")
    assert str(error) == "something else went wrong"
    assert isinstance(error, ValueError)


def test_split_skips_cn_and_x500_checks() -> None:
    assert split_tls_certificate_name("<I>anything<S>no cn here") == TlsCertificateName("anything", "no cn here")


# --------------------------------------------------------------------------
# Formatting and normalisation
# --------------------------------------------------------------------------


def test_format_is_microsofts_recipe_verbatim() -> None:
    assert format_tls_certificate_name(LE_ISSUER, SUBJECT) == VALUE
    assert format_tls_certificate_name(" a ", "b,c") == "<I> a <S>b,c"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (TlsCertificateName("CN=CA", "CN=x.com"), "<I>CN=CA<S>CN=x.com"),
        (TlsCertificateName(None, "CN=x.com"), "<S>CN=x.com"),
        (TlsCertificateName("", "CN=x.com"), "<S>CN=x.com"),  # ToString drops an empty issuer
    ],
)
def test_str(name: TlsCertificateName, text: str) -> None:
    assert str(name) == text


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (VALUE, VALUE),
        ("<i>cn=CA,o=X;c=US<s>cn=mail.contoso.com", "<I>CN=CA, O=X, C=US<S>CN=mail.contoso.com"),
        ("<I>   <S>CN=mail.contoso.com", "<S>CN=mail.contoso.com"),
        ("<S>CN=mail.contoso.com, O=a<S>b", '<S>CN=mail.contoso.com, O="a<S>b"'),
        ('<S>CN=mail.contoso.com,O=" Contoso"', '<S>CN=mail.contoso.com, O=" Contoso"'),
    ],
)
def test_normalize_is_what_exchange_stores(value: str, stored: str) -> None:
    assert str(normalize_tls_certificate_name(value)) == stored


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------


def test_names_match_ignores_case_only() -> None:
    assert names_match(VALUE, VALUE.upper().replace("<I>", "<i>"))
    assert names_match(VALUE, parse_tls_certificate_name(VALUE))
    assert not names_match(VALUE, VALUE.replace(", ", ","))
    assert not names_match(VALUE, VALUE.replace("CN=R10", "CN=R11"))


def test_names_match_issuer_presence_counts() -> None:
    assert not names_match("<S>CN=mail.contoso.com", "<I>CN=CA<S>CN=mail.contoso.com")
    assert names_match("<S>CN=mail.contoso.com", "<s>cn=MAIL.contoso.com")
    assert names_match(TlsCertificateName("", "CN=x.com"), "<S>CN=x.com")


def test_names_match_uses_simple_case_mapping() -> None:
    # OrdinalIgnoreCase maps one character to one: ß is not SS.
    assert names_match("<S>CN=mail.contoso.com, O=Straße", "<S>CN=mail.contoso.com, O=STRAßE")
    assert not names_match("<S>CN=mail.contoso.com, O=Straße", "<S>CN=mail.contoso.com, O=STRASSE")
    assert names_match("<S>CN=mail.contoso.com, O=émile", "<S>CN=mail.contoso.com, O=ÉMILE")


@pytest.mark.parametrize("bad", ["", "garbage", "<I>a<b<S>CN=x.com", "<S>CN=x.com\nO=y", None, 42])
def test_names_match_unparseable_side_is_never_equal(bad) -> None:
    assert not names_match(bad, bad)
    assert not names_match(bad, VALUE)
    assert not names_match(VALUE, bad)


@pytest.mark.parametrize(
    "typed",
    [
        "<I>CN=R10,O=Let's Encrypt,C=US<S>CN=mail.contoso.com,OU=IT,O=Contoso,L=Redmond,S=Washington,C=US",
        "<i> cn = r10 ; o = let's encrypt ; c = us <s> CN=MAIL.CONTOSO.COM, OU=IT, O=Contoso, L=Redmond, "
        "ST=Washington, C=US",
        ' <I>CN="R10", O="Let\'s Encrypt", C=US<S>' + SUBJECT + "  ",
        VALUE,
    ],
)
def test_names_match_loosely_accepts_hand_typing(typed: str) -> None:
    assert not names_match(typed, VALUE) or typed == VALUE
    assert names_match_loosely(typed, VALUE)
    assert names_match_loosely(VALUE, typed)


def test_names_match_loosely_ignores_order_inside_a_multi_valued_rdn() -> None:
    assert names_match_loosely("<S>CN=x.com + O=a", "<S>O=A+CN=x.com")


@pytest.mark.parametrize(
    "other",
    [
        VALUE.replace("CN=R10", "CN=R11"),
        f"<I>C=US, O=Let's Encrypt, CN=R10<S>{SUBJECT}",  # RDN order is part of the name
        f"<S>{SUBJECT}",  # a missing issuer is a different value
        f"<I>{LE_ISSUER}<S>CN=mail.contoso.com",
        f"<I>{LE_ISSUER}<S>{SUBJECT.replace('Contoso,', 'Contoso Ltd,')}",
        f"<I>{LE_ISSUER}, OU=x<S>{SUBJECT}",
        f'<I>{LE_ISSUER}<S>CN=mail.contoso.com, OU=IT, O=" Contoso", L=Redmond, S=Washington, C=US',
    ],
)
def test_names_match_loosely_still_distinguishes_names(other: str) -> None:
    assert not names_match_loosely(other, VALUE)


@pytest.mark.parametrize("bad", ["", "garbage", "<S>CN=x, FOO=1", "<I>a<b<S>CN=x.com", None, 42, b"<S>CN=x.com"])
def test_names_match_loosely_never_raises(bad) -> None:
    assert not names_match_loosely(bad, VALUE)
    assert not names_match_loosely(VALUE, bad)


def test_is_smtp_domain_length_limits() -> None:
    assert is_smtp_domain("a" * 63 + ".com")
    assert not is_smtp_domain("a" * 64 + ".com")
    assert is_smtp_domain(".".join(["a" * 63] * 4))  # 255 characters
    assert not is_smtp_domain(".".join(["a" * 63] * 4) + "a")


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_structure = list("<>IiSs=CNcn,;+\" \t\n\r.*-_abcxyz0123456789é")
_tls_text = st.text(alphabet=st.one_of(st.sampled_from(_structure), st.characters()), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.one_of(_tls_text, st.builds(lambda i, s: f"<I>{i}<S>CN={s}", _tls_text, _tls_text)))
def test_parse_raises_only_tls_certificate_name_error(value: str) -> None:
    try:
        name = parse_tls_certificate_name(value)
    except TlsCertificateNameError as exc:
        assert repr(value) in str(exc)
        return
    assert parse_tls_certificate_name(str(name)) == name
    assert names_match(value, value)
    assert names_match_loosely(value, value)


@settings(max_examples=200, deadline=None)
@given(_tls_text, _tls_text)
def test_comparisons_never_raise(a: str, b: str) -> None:
    assert names_match(a, b) in (True, False)
    assert names_match_loosely(a, b) in (True, False)
    if names_match(a, b):
        assert names_match_loosely(a, b)


_ASCII_SWAP = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
_domain = st.lists(_label, min_size=1, max_size=4).map(".".join)
_value = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(',+="\r<>#; é\U0001f600')),
        st.characters(codec="utf-8", exclude_characters="\x00\n<"),
    ),
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(_domain, _value, _value)
def test_certificate_strings_round_trip_through_exchange(domain: str, org: str, issuer_cn: str) -> None:
    # Strings as Windows prints them for a certificate parse unchanged, are
    # what Exchange stores, and match themselves - the property the
    # collection relies on when it writes format_tls_certificate_name(...).
    issuer = render_name(encode_name([[("2.5.4.3", issuer_cn)], [("2.5.4.10", "CA")]]))
    subject = render_name(encode_name([[("2.5.4.3", domain)], [("2.5.4.10", org)]]))
    assume("<" not in issuer and issuer)
    value = format_tls_certificate_name(issuer, subject)
    assert parse_tls_certificate_name(value) == TlsCertificateName(issuer, subject)
    assert str(normalize_tls_certificate_name(value)) == value
    # ASCII only: Python's swapcase uses full case mappings (ß -> SS) that
    # OrdinalIgnoreCase does not.
    assert names_match(value, value.translate(_ASCII_SWAP))


def test_a_long_name_is_parsed_once_however_often_it_is_compared():
    # A 10,000-character stale name compared with every certificate of 40 connectors made the audit 4x
    # slower when each comparison parsed it again (docs/performance.md).
    stale = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com, O=" + "A" * 10_000
    renewals = [f"<I>CN=R1{i}, O=Let's Encrypt, C=US<S>CN=mail.contoso.com, O=" + "B" * 9_990 for i in range(6)]
    tls_name._split.cache_clear()
    tls_name._rdn_keys.cache_clear()
    for _connector in range(40):
        for renewal in renewals:
            assert not tls_name.names_match(stale, renewal)
            assert not tls_name.names_match_loosely(stale, renewal)
    assert tls_name._split.cache_info().misses == 1 + len(renewals)
    assert tls_name._rdn_keys.cache_info().misses <= 2 * (1 + len(renewals))


def test_an_invalid_name_fails_every_time_it_is_parsed():
    # Failures are not cached: each caller gets its own error naming the value.
    for _attempt in range(3):
        with pytest.raises(tls_name.TlsCertificateNameError, match="mail.contoso.com"):
            tls_name.split_tls_certificate_name("CN=mail.contoso.com")
