# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fuzzing of the TlsCertificateName parser (tls_name) and the X.500 renderer/parser (x500).

The property tests in test_tls_name.py and test_x500.py draw short strings from
small alphabets. These go further: full Unicode without surrogates (controls,
NUL, astral), ``<I>``/``<S>`` markers in any case, inputs of thousands of
characters, every printed RDN key and unknown OIDs with huge arcs, multi-valued
RDNs, ``#hex`` values, and structurally hostile DER. Each test counts the
distinct examples its body saw and reports them to the reliability table.

Bugs found this way are pinned with ``@example`` below: an OID arc longer than
Python's 4300-digit int/str conversion limit made ``parse_name`` (and so every
tls_name parser and ``names_match_loosely``) raise a bare ValueError, and made
``render_name`` raise instead of returning "" for undecodable DER; and
``names_match_loosely`` stripped a trailing U+00A0/U+2002 that Windows prints
unquoted as part of the last value, so a hand-typed spelling of such a name did
not match it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, event, example, given, settings
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
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500 import (
    RDN_NAMES,
    X500Error,
    cryptography_name,
    encode_name,
    exchange_normalize,
    parse_name,
    render_name,
)

AREA = "Fuzzing"
CN = "2.5.4.3"
C = "2.5.4.6"
S = "2.5.4.8"
E = "1.2.840.113549.1.9.1"
DC = "0.9.2342.19200300.100.1.25"


def fuzz_settings(max_examples: int) -> settings:
    # No example database: nothing is written to the work tree, and the "ci"
    # profile (derandomize) from conftest still applies.
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


class Seen:
    """The distinct examples a test body ran on (replays and shrinks count once).

    ``outcome`` tallies which path each example took, so a test can check that
    its generators really reach the path it is about.
    """

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self.outcomes: Counter[str] = Counter()

    def add(self, *args: object) -> None:
        self._keys.add(repr(args))

    def outcome(self, name: str) -> None:
        event(name)
        self.outcomes[name] += 1

    def __len__(self) -> int:
        return len(self._keys)


# --------------------------------------------------------------------------
# Hostile text
# --------------------------------------------------------------------------

# Any code point except surrogates: controls, NUL, noncharacters, astral.
ANY_CHAR = st.characters(exclude_categories=("Cs",))

PIECES = [
    "<I>", "<i>", "<S>", "<s>", "<", ">", "<I", "S>", "CN=", "cn=", "cN=", "CN = ", "CN=,", "OID.2.5.4.3=",
    "2.5.4.3=", "E=", "C=", "ST=", "O=", ",", ", ", ";", "+", " + ", "=", '"', '""', "#", "#0500", "\n", "\r",
    "\t", "\v", "\x00", " ", "*", "*.", ".", "..", "mail.contoso.com", "mail_1.contoso.com", "[192.0.2.1]",
    "[IPv6:2001:db8::1]", "[IPv6:", "]", "\u017f", "\u0130", "\u0131", "\u212a", "\u00df", "\u2002", "\u00a0",
    "\u0085", "\u2028", "\ufeff", "\u202e", "\U0001f600", "\U000e0041", "\uffff",
]
SOUP = st.lists(st.one_of(st.sampled_from(PIECES), ANY_CHAR, st.text(ANY_CHAR, max_size=8)), max_size=30).map(
    "".join
)
MARKER_I = st.sampled_from(["<I>", "<i>", "", " <I>", "<I> "])
MARKER_S = st.sampled_from(["<S>", "<s>", "", "<S> ", "<S>\n"])
NEAR_VALID = st.builds(
    lambda i, issuer, s, subject: i + issuer + s + subject,
    MARKER_I,
    SOUP,
    MARKER_S,
    st.builds(lambda cn, rest: "CN=" + cn + rest, st.sampled_from(["mail.contoso.com", "*", "*.x.com", "", "a b"]),
              SOUP),
)
LONG = st.builds(lambda unit, times: (unit * times)[:20000], SOUP.filter(bool), st.integers(50, 3000))
# A dotted OID key whose arc is longer than Python's int/str limit (4300 digits).
HUGE_OID_KEY = st.builds(
    lambda head, digits, tail: head + "1.2." + "9" * digits + "=x" + tail,
    st.sampled_from(["<S>CN=mail.contoso.com, ", "<I>", "<I>CN=CA, ", "<S>", "<s>cn=a.b+"]),
    st.integers(4200, 5000),
    st.sampled_from(["", "<S>CN=mail.contoso.com", ", O=x", "<s>cn=*"]),
)
# Values Exchange accepts, then damaged by a few random edits (a mutation
# fuzzer): most inputs stay close enough to valid to reach the CN, domain and
# X.500 checks, and some stay valid.
VALID_VALUES = [
    "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com",
    "<I>CN=GeoTrust TLS RSA CA G1, OU=www.digicert.com, O=DigiCert Inc, C=US<S>CN=mail.contoso.com, "
    "OU=IT, O=Contoso, L=Redmond, S=Washington, C=US",
    '<i>CN="Contoso, Issuing CA" + DC=contoso, DC=com<s>cn=*.contoso.com, O="Contoso ""Mail"""',
    "<S>CN=[192.0.2.1], E=postmaster@contoso.com, OID.2.5.4.15=Private Organization",
    "<S>O=Contoso, CN=mail_1.contoso.com",
    "<I>1.3.6.1.4.1.311.60.2.1.3=US; SERIALNUMBER=#0500<S>CN=*",
]


@st.composite
def mutated(draw, base: st.SearchStrategy[str]) -> str:
    value = draw(base)
    for _edit in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(value)))
        edit = draw(st.integers(0, 3))
        if edit == 0:  # insert
            value = value[:at] + draw(st.one_of(st.sampled_from(PIECES), ANY_CHAR)) + value[at:]
        elif edit == 1:  # delete a short run
            value = value[:at] + value[at + draw(st.integers(1, 4)) :]
        elif edit == 2:  # change case
            value = value[:at] + value[at : at + 4].swapcase() + value[at + 4 :]
        else:  # repeat a run
            value = value[:at] + value[at : at + 6] * draw(st.integers(2, 400)) + value[at:]
    return value


MUTATED_VALUES = mutated(st.sampled_from(VALID_VALUES))
HOSTILE_TEXT = st.one_of(st.text(ANY_CHAR), SOUP, NEAR_VALID, LONG, HUGE_OID_KEY, MUTATED_VALUES, MUTATED_VALUES)

HUGE_OID_VALUE = "<S>CN=mail.contoso.com, 1.2." + "9" * 5000 + "=x"
HUGE_OID_ISSUER = "<I>1.3." + "1" * 4400 + "=x<S>CN=mail.contoso.com"

# Exchange's "^(<I>([^<]+))?(<S>(.+))" (IgnoreCase; '.' stops at LF), required
# here to cover the whole value: the collection refuses a value Exchange
# would silently cut at a line feed.
EXCHANGE_PATTERN = re.compile(r"(?:<[Ii]>([^<]+))?<[Ss]>([^\n]+)")
EXCHANGE_CN = re.compile(r"[Cc][Nn]=")
# The documented SMTP domain forms an independent oracle can decide alone.
PLAIN_DOMAIN = re.compile(r"(?:\*|(?:\*\.)?[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*)\Z")
DOMAIN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.*[]:")
FORMAT_PROBLEMS = (
    "it is empty",
    "it has whitespace before the first marker",
    "it has no <S> marker",
    "it does not start with <I> or <S>",
    "the issuer after <I> is empty",
    "it has no <S> marker after the issuer",
    "the issuer contains '<' at position",
    "the subject after <S> is empty",
    "the subject starts with a line feed at position",
    "the subject contains a line feed at position",
)


def exchange_cn(subject: str) -> str | None:
    """Exchange's "CN=(.*?)($|,)": the first CN= in any case, up to the next comma."""
    found = EXCHANGE_CN.search(subject)
    if found is None:
        return None
    end = subject.find(",", found.end())
    return subject[found.end() :] if end < 0 else subject[found.end() : end]


def assert_documented_error(exc: BaseException, value: object) -> None:
    """Only TlsCertificateNameError, naming the input, the problem and what would be valid."""
    assert type(exc) is TlsCertificateNameError, f"{type(exc).__name__} escaped for {value!r:.300}: {exc}"  # pylint: disable=unidiomatic-typecheck
    message = str(exc)
    assert exc.value == value
    assert repr(value) in message
    assert exc.problem and exc.problem in message
    assert "expected" in message or "must be" in message, message


def assert_refusal_reason(exc: TlsCertificateNameError, name: TlsCertificateName) -> str:
    """A value that splits was refused for the reason an independent reading gives; returns that reason."""
    cn = exchange_cn(name.subject)
    if cn is None:
        assert "has no 'CN='" in exc.problem and not exc.invalid_domain
        return "no CN"
    if exc.invalid_domain:
        assert f"the subject's CN {cn!r} is not an SMTP domain" in exc.problem
        assert not (PLAIN_DOMAIN.match(cn) and len(cn.removeprefix("*.")) <= 255)
        return "domain"
    # Only the X.500 check is left, and the CN passed the domain check.
    assert is_smtp_domain(cn) and set(cn) <= DOMAIN_CHARS
    part = "issuer" if exc.problem.startswith("the issuer is not a valid X.500 name") else "subject"
    assert exc.problem.startswith(f"the {part} is not a valid X.500 name: ")
    with pytest.raises(X500Error):
        exchange_normalize(getattr(name, part))
    return "X.500 " + part


@pytest.mark.reliability(
    AREA, "arbitrary Unicode text (controls, NUL, astral, markers in any case, 20 000 characters) into every "
    "TlsCertificateName parser"
)
def test_arbitrary_text_raises_only_the_documented_error(reliability) -> None:
    seen = Seen()

    @fuzz_settings(400)
    @given(HOSTILE_TEXT)
    @example(HUGE_OID_VALUE)
    @example(HUGE_OID_ISSUER)
    @example("<S>CN=mail.contoso.com\x00, O=\x00")
    @example("<\u0130>x<\u017f>CN=mail.contoso.com")
    def check(value: str) -> None:
        seen.add(value)
        cn = common_name(value)
        assert cn is None or isinstance(cn, str)
        assert is_smtp_domain(value) in (True, False)
        expected = EXCHANGE_PATTERN.fullmatch(value)
        try:
            name = split_tls_certificate_name(value)
        except Exception as exc:  # noqa: BLE001 - the assertion is on the type
            seen.outcome("refused: format")
            assert_documented_error(exc, value)
            assert expected is None, f"Exchange's pattern accepts {value!r:.300}"
            assert exc.problem.startswith(FORMAT_PROBLEMS)
            if "line feed" in exc.problem:
                assert "\n" in value
            for parser in (parse_tls_certificate_name, normalize_tls_certificate_name):
                with pytest.raises(TlsCertificateNameError):
                    parser(value)
            assert names_match(value, value) is False
            return
        assert expected is not None and (name.issuer, name.subject) == expected.groups()
        try:
            parsed = parse_tls_certificate_name(value)
        except Exception as exc:  # noqa: BLE001
            assert_documented_error(exc, value)
            seen.outcome("refused: " + assert_refusal_reason(exc, name))
            with pytest.raises(TlsCertificateNameError):
                normalize_tls_certificate_name(value)
            return
        seen.outcome("accepted")
        assert parsed == name
        assert parsed.common_name == exchange_cn(name.subject) and is_smtp_domain(parsed.common_name)
        assert set(parsed.common_name) <= DOMAIN_CHARS
        stored = normalize_tls_certificate_name(value)
        assert isinstance(stored.subject, str) and "\n" not in stored.subject
        assert names_match(value, value) and names_match(value, parsed) and names_match_loosely(value, value)

    check()
    # The generators reach every stage, not only the marker check.
    outcomes = seen.outcomes
    assert outcomes["accepted"] and outcomes["refused: format"] and outcomes["refused: domain"], outcomes
    assert outcomes["refused: no CN"], outcomes
    assert outcomes["refused: X.500 issuer"] + outcomes["refused: X.500 subject"], outcomes
    reliability(len(seen))


OTHER_OBJECTS = st.one_of(
    st.none(),
    st.integers(),
    st.binary(max_size=20),
    st.lists(st.text(max_size=3), max_size=2),
    st.builds(TlsCertificateName, st.one_of(st.none(), st.just(""), HOSTILE_TEXT), HOSTILE_TEXT),
)


@pytest.mark.reliability(AREA, "arbitrary text, objects and TlsCertificateName values compared with names_match "
                         "and names_match_loosely")
def test_comparisons_never_raise_and_are_symmetric(reliability) -> None:
    seen = Seen()

    def splits(value: object) -> bool:
        if isinstance(value, TlsCertificateName):
            return True
        try:
            split_tls_certificate_name(value)  # type: ignore[arg-type]
        except TlsCertificateNameError:
            return False
        return True

    @fuzz_settings(300)
    @given(st.one_of(HOSTILE_TEXT, OTHER_OBJECTS), st.one_of(HOSTILE_TEXT, OTHER_OBJECTS))
    @example(HUGE_OID_VALUE, HUGE_OID_VALUE + "x")
    @example(HUGE_OID_ISSUER, HUGE_OID_ISSUER.upper())
    def check(a: object, b: object) -> None:
        seen.add(a, b)
        strict = names_match(a, b)  # type: ignore[arg-type]
        loose = names_match_loosely(a, b)
        assert strict is names_match(b, a)  # type: ignore[arg-type]  # pylint: disable=arguments-out-of-order
        assert loose is names_match_loosely(b, a)  # pylint: disable=arguments-out-of-order
        assert strict is False or loose is True
        for side in (a, b):
            # Reflexive exactly for what a connector can hold.
            assert names_match(side, side) is splits(side)  # type: ignore[arg-type]

    check()
    reliability(len(seen))


# --------------------------------------------------------------------------
# Valid names
# --------------------------------------------------------------------------

# CertStrToName's PrintableString repertoire (docs/x500-names.md section 4).
PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
VALUE_CHAR = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
SPECIALS = list(',+="\n\r\t\v\f <>#;\'\\') + [
    "\u2002", "\u00a0", "\u3000", "\u0085", "\u2028", "\u00e9", "\u65e5", "\U0001f600", "\U00010348",
    "<I>", "<S>", "<s>", "CN=", "cn=x.com", '""', "  ", "#00", "OID.1.2=",
]
VALUES = st.one_of(
    st.lists(st.one_of(st.sampled_from(SPECIALS), VALUE_CHAR), max_size=16).map("".join),
    st.text(VALUE_CHAR, min_size=70, max_size=300),  # long-form DER lengths
    st.just(""),
)
PRINTABLE_VALUES = st.text(st.sampled_from(PRINTABLE), max_size=10)
ASCII_VALUES = st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=10)


@st.composite
def unknown_oids(draw) -> str:
    first = draw(st.integers(0, 2))
    second = draw(st.integers(0, 39) if first < 2 else st.integers(0, 10**30))
    rest = draw(st.lists(st.integers(0, 2**70), max_size=4))
    return ".".join(str(arc) for arc in [first, second, *rest])


OIDS = st.one_of(
    st.sampled_from(sorted(RDN_NAMES)),
    st.sampled_from(["2.5.4.15", "2.5.4.97", "1.3.6.1.4.1.311.60.2.1.3", "0.9.2342.19200300.100.1.1"]),
    unknown_oids(),
)


@st.composite
def attributes(draw) -> tuple[str, str | bytes]:
    oid = draw(OIDS)
    if draw(st.integers(0, 9)) == 0:
        return oid, draw(st.binary(max_size=24))  # a #hex value (OCTET STRING)
    # CertStrToName writes C only as PrintableString and E only as IA5String.
    if oid == C:
        return oid, draw(PRINTABLE_VALUES)
    if oid == E:
        return oid, draw(ASCII_VALUES)
    return oid, draw(VALUES)


RDNS = st.lists(st.lists(attributes(), min_size=1, max_size=3), max_size=5)
# Mostly names without '<' and LF (which Exchange's pattern cannot carry in an
# issuer or a subject), so most examples get through; some keep them.
PLAIN_RDNS = RDNS.map(
    lambda rdns: [
        [(oid, v.replace("<", "").replace("\n", "") if isinstance(v, str) else v) for oid, v in rdn] for rdn in rdns
    ]
)
CERTIFICATE_RDNS = st.one_of(PLAIN_RDNS, PLAIN_RDNS, PLAIN_RDNS, RDNS)


def single_valued_strings(rdns) -> bool:
    return all(len(rdn) == 1 and isinstance(rdn[0][1], str) for rdn in rdns)


@pytest.mark.reliability(AREA, "generated X.500 names (every key, unknown OIDs, multi-valued RDNs, special and "
                         "long values, #hex) encoded, rendered and parsed back")
def test_generated_names_render_and_parse_back(reliability) -> None:
    seen = Seen()

    @fuzz_settings(300)
    @given(RDNS, st.booleans())
    @example([[(CN, " x"), ("2.5.4.3", "")], [("1.2." + "7" * 40, '"\r\n')]], True)
    def check(rdns, reverse: bool) -> None:
        seen.add(rdns, reverse)
        der = encode_name(rdns, reverse=reverse)
        text = render_name(der, reverse=reverse)
        # parse(render(x)) gives back every key and value, in written order.
        assert parse_name(text) == rdns
        assert parse_name(render_name(der, reverse=not reverse)) == rdns[::-1]
        # Render is stable: re-encoding what was printed prints it again,
        # and it is what Exchange stores for it.
        assert render_name(encode_name(parse_name(text), reverse=reverse), reverse=reverse) == text
        assert exchange_normalize(text) == text
        # cryptography (the lab's certificate minter) encodes the same bytes
        # where it can carry the name (no #hex, no multi-valued RDN to sort).
        if single_valued_strings(rdns):
            assert cryptography_name(rdns, reverse=reverse).public_bytes() == der

    check()
    reliability(len(seen))


RENDERED_NAMES = st.builds(lambda rdns, reverse: render_name(encode_name(rdns, reverse=reverse), reverse=reverse),
                           RDNS, st.booleans())
DN_TEXT = st.one_of(
    st.text(ANY_CHAR), SOUP, LONG, mutated(RENDERED_NAMES), mutated(RENDERED_NAMES),
    HUGE_OID_KEY.map(lambda value: value.split(">", 1)[-1]),
)


@pytest.mark.reliability(AREA, "arbitrary and damaged Windows name strings (full Unicode, long, huge OIDs) into the "
                         "X.500 parser and Exchange's normalisation")
def test_dn_parser_raises_only_x500error(reliability) -> None:
    seen = Seen()

    @fuzz_settings(300)
    @given(DN_TEXT)
    @example("CN=x, 1.2." + "9" * 5000 + "=y")
    @example("OID.2." + "1" * 4301 + "=y")
    def check(text: str) -> None:
        seen.add(text)
        try:
            rdns = parse_name(text)
        except Exception as exc:  # noqa: BLE001 - the assertion is on the type
            assert type(exc) is X500Error, f"{type(exc).__name__} escaped for {text!r:.300}: {exc}"  # pylint: disable=unidiomatic-typecheck
            # It names the input, where, and what would be valid.
            parsed_text = text.split("\x00", 1)[0]
            assert exc.text == parsed_text and repr(parsed_text) in str(exc)
            assert 0 <= exc.position <= len(parsed_text) and f"at position {exc.position}" in str(exc)
            assert "expected" in str(exc)
            seen.outcome("refused by the parser")
            return
        assert all(rdn and all(isinstance(value, (str, bytes)) for _oid, value in rdn) for rdn in rdns)
        try:
            stored = exchange_normalize(text)
        except Exception as exc:  # noqa: BLE001
            # Parsed but not encodable (C, E, unpaired surrogates): names the value.
            assert type(exc) is X500Error, f"{type(exc).__name__} escaped for {text!r:.300}: {exc}"  # pylint: disable=unidiomatic-typecheck
            assert repr(exc.text) in str(exc)
            seen.outcome("refused by the encoder")
            return
        seen.outcome("accepted")
        # What Exchange stores keeps every key and value, and is a fixed point.
        assert parse_name(stored) == rdns
        assert exchange_normalize(stored) == stored

    check()
    assert seen.outcomes["accepted"] and seen.outcomes["refused by the parser"], seen.outcomes
    reliability(len(seen))


SEPARATORS = st.lists(st.sampled_from([";", " ; ", ",", " ,\t"]), min_size=1, max_size=3)
LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"), min_size=1,
                max_size=63)
DOMAINS = st.one_of(
    st.just("*"),
    st.builds(lambda wildcard, labels: wildcard + ".".join(labels), st.sampled_from(["", "*."]),
              st.lists(LABEL, min_size=1, max_size=5)).filter(lambda d: len(d.removeprefix("*.")) <= 255),
    st.builds(lambda octets: "[" + ".".join(map(str, octets)) + "]",
              st.lists(st.integers(0, 255), min_size=4, max_size=4)),
    st.ip_addresses(v=6).map(lambda address: "[IPv6:" + str(address) + "]"),
)


def simple_upper(text: str) -> str:
    """Upper case as OrdinalIgnoreCase folds it: one-to-one, BMP only."""
    return "".join(
        c.upper() if ord(c) <= 0xFFFF and len(c.upper()) == 1 else c for c in text
    )


def typed_key(oid: str, how: int) -> str:
    """A spelling of the key for ``oid`` that CertStrToName accepts."""
    aliases = {S: "st", E: "Email", "2.5.4.12": "Title", "2.5.4.42": "GivenName", "2.5.4.43": "Initials"}
    if how == 0 and oid in RDN_NAMES:
        return RDN_NAMES[oid].lower()
    if how == 1 and oid in aliases:
        return aliases[oid]
    if how == 2:
        return "oid." + oid
    return RDN_NAMES.get(oid, oid)


def typed_value(value: str | bytes, how: int) -> str:
    if isinstance(value, bytes):
        return "#" + (value.hex() if how % 2 else value.hex().upper())
    return '"' + value.replace('"', '""') + '"'  # quotes that may be needless


def typed_part(rdns, how: int, separators: list[str]) -> str:
    pieces = [
        " + ".join(f"{typed_key(oid, how)} = {typed_value(value, how)}" for oid, value in rdn) for rdn in rdns
    ]
    return "".join(piece + (separators[i % len(separators)] if i < len(pieces) - 1 else "")
                   for i, piece in enumerate(pieces))


@pytest.mark.reliability(AREA, "generated certificate issuer/subject pairs formatted, parsed, normalised, retyped "
                         "by hand and compared as Exchange does")
def test_certificate_names_round_trip_through_exchange(reliability) -> None:
    seen = Seen()

    @fuzz_settings(200)
    @given(CERTIFICATE_RDNS.filter(bool), DOMAINS, CERTIFICATE_RDNS, st.integers(0, 3), SEPARATORS)
    @example([[(CN, "R10")], [("2.5.4.10", "Let's Encrypt")], [(C, "US")]], "mail.contoso.com",
             [[("2.5.4.11", "IT")], [(S, "Washington")]], 1, [";"])
    # names_match_loosely used str.strip(), which ate the trailing U+00A0 of
    # "O=Contoso\u00a0" (printed unquoted by Windows) from one side only.
    @example([[(DC, b"")]], "*", [[(DC, "\u2002")]], 0, [";"])
    @example([[(CN, "CA")]], "mail.contoso.com", [[("2.5.4.10", "Contoso\u00a0")]], 0, [","])
    def check(issuer_rdns, domain: str, other_rdns, how: int, separators: list[str]) -> None:
        seen.add(issuer_rdns, domain, other_rdns, how, separators)
        subject_rdns = [[(CN, domain)], *other_rdns]
        # $cert.Issuer and $cert.Subject: reversed DER, so in written order.
        issuer = render_name(encode_name(issuer_rdns))
        subject = render_name(encode_name(subject_rdns))
        value = format_tls_certificate_name(issuer, subject)
        if "<" in issuer:
            # Documented limit: Exchange's pattern cannot carry '<' in an issuer.
            seen.outcome("issuer with '<'")
            with pytest.raises(TlsCertificateNameError) as info:
                parse_tls_certificate_name(value)
            assert_documented_error(info.value, value)
            return
        if "\n" in subject:
            # Exchange's '.+' would cut the subject at the line feed.
            seen.outcome("subject with a line feed")
            with pytest.raises(TlsCertificateNameError, match="line feed") as info:
                parse_tls_certificate_name(value)
            assert_documented_error(info.value, value)
            return
        seen.outcome("accepted")
        name = TlsCertificateName(issuer, subject)
        assert split_tls_certificate_name(value) == name
        assert parse_tls_certificate_name(value) == name
        assert name.common_name == domain
        # What Exchange stores is what was formatted, and stays so.
        stored = normalize_tls_certificate_name(value)
        assert stored == name and str(stored) == value
        assert normalize_tls_certificate_name(str(stored)) == stored
        # names_match: reflexive, symmetric, case-insensitive (simple mapping).
        for other in (value, stored, str(stored), simple_upper(value), value.swapcase() if value.isascii() else value):
            assert names_match(value, other) and names_match(other, value)
        # The same certificate typed by hand: aliases, quotes, ';', spacing.
        typed_issuer = typed_part(issuer_rdns, how, separators)
        typed_rest = typed_part(other_rdns, how, separators)
        typed = (
            ("<i> " if how % 2 else "<I>") + typed_issuer + (" <s>" if how % 2 else "<S>")
            + "cn=" + domain + ("," + typed_rest if typed_rest else "")
        )
        assert normalize_tls_certificate_name(typed) == stored
        assert names_match_loosely(typed, value) and names_match_loosely(value, typed)
        if len(typed) != len(value):
            assert not names_match(typed, value)

    check()
    assert seen.outcomes["accepted"] * 2 > sum(seen.outcomes.values()), seen.outcomes
    reliability(len(seen))


# --------------------------------------------------------------------------
# Hostile DER
# --------------------------------------------------------------------------


def der_length(length: int, mode: int) -> bytes:
    """Length octets: 0 minimal DER, 1 non-minimal long form, 2 indefinite, 3 five length octets."""
    if mode == 2:
        return b"\x80"
    if mode == 3:
        return b"\x85" + length.to_bytes(5, "big")
    if mode == 0 and length < 0x80:
        return bytes([length])
    body = length.to_bytes(max(1, (length.bit_length() + 7) // 8) + (mode == 1), "big")
    return bytes([0x80 | len(body)]) + body


def der_tlv(tag: bytes, contents: bytes, mode: int = 0, skew: int = 0) -> bytes:
    return tag + der_length(max(0, len(contents) + skew), mode) + contents


TAGS = st.one_of(
    st.sampled_from([b"\x0c", b"\x13", b"\x14", b"\x16", b"\x12", b"\x1a", b"\x19", b"\x1b", b"\x15", b"\x1c",
                     b"\x1e", b"\x04", b"\x05", b"\x01", b"\x02", b"\x03", b"\x06", b"\x30", b"\x31", b"\xa0"]),
    st.binary(min_size=1, max_size=1),
    st.builds(lambda more: b"\x1f" + more + b"\x01", st.binary(max_size=3).map(lambda b: bytes(x | 0x80 for x in b))),
)
# Mostly well-formed lengths, so that the reader gets deep into the structure.
LENGTH_MODE = st.sampled_from([0, 0, 0, 0, 1, 2, 3])
SKEW = st.sampled_from([0, 0, 0, 0, 0, 1, -1, 3])
OID_CONTENTS = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([bytes.fromhex(h) for h in ("550403", "550406", "2A864886F70D010901", "0992268993F22C640119")]),
    st.integers(2000, 2200).map(lambda n: b"\xff" * n + b"\x7f"),  # one arc beyond 4300 digits
)
VALUE_CONTENTS = st.one_of(
    st.binary(max_size=40),
    st.text(ANY_CHAR, max_size=12).map(lambda t: t.encode("utf-16-be", "surrogatepass")),
    st.text(ANY_CHAR, max_size=12).map(lambda t: t.encode("utf-8")),
    st.lists(st.integers(0, 0xFFFFFFFF), max_size=4).map(lambda cs: b"".join(c.to_bytes(4, "big") for c in cs)),
)


@st.composite
def hostile_names(draw) -> bytes:
    """Name-shaped DER: SEQUENCE OF SET OF SEQUENCE {OID, value}, with anything going wrong anywhere."""
    def tlv(tag: bytes, contents: bytes) -> bytes:
        return der_tlv(tag, contents, draw(LENGTH_MODE), draw(SKEW))

    def sometimes(tag: bytes) -> bytes:
        return tag if draw(st.integers(0, 9)) else draw(TAGS)

    rdns = []
    for _rdn in range(draw(st.integers(0, 4))):
        attributes = []
        for _attribute in range(draw(st.integers(0, 3))):
            parts = [tlv(sometimes(b"\x06"), draw(OID_CONTENTS)), tlv(draw(TAGS), draw(VALUE_CONTENTS))]
            if draw(st.integers(0, 9)) == 0:
                parts = draw(st.permutations(parts + [tlv(draw(TAGS), draw(VALUE_CONTENTS))]))
            attributes.append(tlv(sometimes(b"\x30"), b"".join(parts)))
        rdns.append(tlv(sometimes(b"\x31"), b"".join(attributes)))
    return tlv(sometimes(b"\x30"), b"".join(rdns)) + (draw(st.binary(max_size=3)) if draw(st.booleans()) else b"")


def tlv_nodes(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(lambda tag, kids, mode, skew: der_tlv(tag, b"".join(kids), mode, skew),
                     TAGS, st.lists(children, max_size=4), LENGTH_MODE, SKEW)


TLV_TREES = st.recursive(st.builds(der_tlv, TAGS, st.binary(max_size=20), LENGTH_MODE, SKEW), tlv_nodes, max_leaves=12)
HUGE_ARC = b"\xff" * 2100 + b"\x7f"
HUGE_ARC_NAME = der_tlv(b"\x30", der_tlv(b"\x31", der_tlv(b"\x30", der_tlv(b"\x06", HUGE_ARC) + b"\x13\x01x")))


@pytest.mark.reliability(AREA, "arbitrary, name-shaped and corrupted DER (bad lengths, tags, OIDs, strings) into "
                         "the Windows name renderer")
def test_renderer_never_raises_on_hostile_der(reliability) -> None:
    seen = Seen()

    @fuzz_settings(500)
    @given(st.one_of(st.binary(max_size=300), TLV_TREES, hostile_names()))
    @example(HUGE_ARC_NAME)
    def check(der: bytes) -> None:
        seen.add(der)
        for reverse in (True, False):
            text = render_name(der, reverse=reverse)
            # .NET cuts at the first NUL, so none is ever returned.
            assert isinstance(text, str) and "\x00" not in text

    check()
    reliability(len(seen))


@pytest.mark.reliability(AREA, "valid DER names truncated, extended or with one byte changed, into the Windows "
                         "name renderer")
def test_damaged_names_render_empty_or_a_string(reliability) -> None:
    seen = Seen()

    @fuzz_settings(300)
    @given(RDNS.filter(bool), st.data())
    @example([[(CN, "x")]], None)
    def check(rdns, data) -> None:
        der = encode_name(rdns)
        if data is None:  # the explicit example: every prefix of a small name
            cuts, extra, flip = list(range(len(der))), b"\x00", (0, 0x31)
        else:
            cuts = [data.draw(st.integers(0, len(der) - 1), label="cut")]
            extra = data.draw(st.binary(min_size=1, max_size=8), label="extra")
            flip = (data.draw(st.integers(0, len(der) - 1), label="at"), data.draw(st.integers(0, 255), label="to"))
        seen.add(der, cuts, extra, flip)
        assert render_name(der) != ""
        # Undecodable DER renders as "", as on Windows: a truncated name and
        # trailing bytes after the Name both make it undecodable.
        for cut in cuts:
            assert render_name(der[:cut]) == ""
        assert render_name(der + extra) == ""
        changed = bytearray(der)
        changed[flip[0]] = flip[1]
        assert isinstance(render_name(bytes(changed)), str)

    check()
    reliability(len(seen))
