# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils/x500.py against Windows' documented behaviour."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500_der, x500_encode
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500 import (
    RDN_NAMES,
    X500Error,
    certificate_names,
    cryptography_name,
    encode_name,
    exchange_normalize,
    parse_name,
    render_name,
)

# Renderings that Windows itself produced (CertNameToStrW, as X509Certificate2.Subject/.Issuer use it),
# collected from tests that run on Windows: dotnet/runtime's X509 NameTests and PropsTests and Wine's
# crypt32 tests (the file's "about" says so too; docs/exchange-behaviour.md#x500-names explains the rules).
FIXTURE_VECTORS_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "windows-name-vectors.json"

CN = "2.5.4.3"
O = "2.5.4.10"  # noqa: E741 - the X.500 key is literally O
OU = "2.5.4.11"
C = "2.5.4.6"
L = "2.5.4.7"
S = "2.5.4.8"
E = "1.2.840.113549.1.9.1"
DC = "0.9.2342.19200300.100.1.25"
SERIAL = "2.5.4.5"
STREET = "2.5.4.9"


def _load_vectors(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["vectors"]


def _vector_id(vector: dict) -> str:
    return ("rev:" if vector["reversed"] else "der:") + vector["expected"].encode("unicode_escape").decode()[:60]


FIXTURE_VECTORS = _load_vectors(FIXTURE_VECTORS_PATH)


# --------------------------------------------------------------------------
# A DER builder for the tests, independent of the module's encoder, so that
# render/parse are not only checked against encode_name's own output.
# --------------------------------------------------------------------------


def tlv(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def der_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        groups = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            groups.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(groups))
    return tlv(0x06, bytes(out))


def der_name(rdns: list[list[tuple[str, bytes]]]) -> bytes:
    """rdns in DER order; each value is a complete TLV."""
    return tlv(
        0x30,
        b"".join(tlv(0x31, b"".join(tlv(0x30, der_oid(oid) + value) for oid, value in rdn)) for rdn in rdns),
    )


def printable(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


def bmp(text: str) -> bytes:
    return tlv(0x1E, text.encode("utf-16-be", "surrogatepass"))


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


# --------------------------------------------------------------------------
# Test vectors from Windows-run tests (fixtures/windows-name-vectors.json)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("vector", [pytest.param(v, id=_vector_id(v)) for v in FIXTURE_VECTORS])
def test_fixture_vector_renders_like_windows(vector: dict) -> None:
    assert render_name(bytes.fromhex(vector["der_hex"]), reverse=vector["reversed"]) == vector["expected"]


def test_fixture_has_the_documented_vectors() -> None:
    # Guards against an empty or truncated copy making the parametrised
    # tests above vacuous.
    assert len(FIXTURE_VECTORS) >= 27
    assert {v["expected"] for v in FIXTURE_VECTORS} >= {"CN=James + O=Microsoft", "C=¢", "OU=zzzz + OU=aaaa"}


# Windows refuses to re-encode these rendered strings: CertStrToName only
# writes C as a PrintableString, and "¢" is not printable.
NOT_REENCODABLE = {"C=¢"}


@pytest.mark.parametrize(
    "vector",
    [pytest.param(v, id=_vector_id(v)) for v in FIXTURE_VECTORS if v["expected"] not in NOT_REENCODABLE],
)
def test_vector_string_round_trips(vector: dict) -> None:
    text, reverse = vector["expected"], vector["reversed"]
    assert render_name(encode_name(parse_name(text), reverse=reverse), reverse=reverse) == text
    assert exchange_normalize(text) == text


@pytest.mark.parametrize("text", sorted(NOT_REENCODABLE))
def test_vector_windows_cannot_reencode(text: str) -> None:
    with pytest.raises(X500Error, match="PrintableString"):
        exchange_normalize(text)


def _only_printable_or_bmp(vector: dict) -> bool:
    rdns = x500_der._decode_name(bytes.fromhex(vector["der_hex"]))
    return all(tag in (0x13, 0x1E) for rdn in rdns for _oid, tag, _contents, _tlv in rdn)


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=_vector_id(v)) for v in FIXTURE_VECTORS if _only_printable_or_bmp(v)]
)
def test_encoder_matches_windows_bytes(vector: dict) -> None:
    # These DERs were produced on Windows (Printable, else BMP), so the
    # encoder's string-type choice must reproduce them byte for byte.
    der = bytes.fromhex(vector["der_hex"])
    assert encode_name(parse_name(vector["expected"]), reverse=vector["reversed"]) == der


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def test_rdn_order_and_separators() -> None:
    der = der_name([[(C, printable("US"))], [(O, printable("Contoso"))], [(CN, printable("mail.contoso.com"))]])
    assert render_name(der) == "CN=mail.contoso.com, O=Contoso, C=US"
    assert render_name(der, reverse=False) == "C=US, O=Contoso, CN=mail.contoso.com"


def test_multi_valued_rdn_keeps_encoded_order_in_both_directions() -> None:
    der = der_name([[(OU, printable("zzzz")), (OU, printable("aaaa"))], [(CN, printable("x"))]])
    assert render_name(der) == "CN=x, OU=zzzz + OU=aaaa"
    assert render_name(der, reverse=False) == "OU=zzzz + OU=aaaa, CN=x"


@pytest.mark.parametrize(
    ("value_tlv", "expected"),
    [
        (tlv(0x14, b"Hedeby's M\xf8belhandel"), "Hedeby's Møbelhandel"),  # T61, not UTF-8 -> Latin-1
        (tlv(0x14, "Müller".encode("utf-8")), "Müller"),  # T61 that is valid UTF-8
        (tlv(0x14, b"\x80\x9f\xa0"), "\x80\x9f\xa0"),  # every byte to U+00xx, not a code page
        (tlv(0x1C, b"\x00\x00\x00A\x00\x01\xf6\x00"), "A\U0001f600"),  # UniversalString
        (tlv(0x1E, b"\xd8\x00\x00A"), "\ud800A"),  # BMP: lone surrogate passes through
        (tlv(0x1E, b"\xd8\x3d\xde\x00"), "\U0001f600"),  # BMP surrogate pair
        (tlv(0x0C, b"a\xffb"), "a\ufffdb"),  # invalid UTF-8 still prints
        (tlv(0x13, b"a_b@c"), "a_b@c"),  # PrintableString charset not enforced
        (tlv(0x16, b"caf\xe9"), "café"),  # IA5 byte >= 0x80 zero-extended
        (tlv(0x12, b"123 654 7890"), "123 654 7890"),  # NumericString
        (tlv(0x1A, b"visible"), "visible"),  # VisibleString
    ],
)
def test_string_value_decoding(value_tlv: bytes, expected: str) -> None:
    assert render_name(der_name([[(O, value_tlv)]])) == "O=" + expected


@pytest.mark.parametrize(
    ("oid", "value_tlv", "expected"),
    [
        (CN, tlv(0x04, b"\x30\x00"), "CN=#3000"),  # OCTET STRING: contents only
        (CN, tlv(0x04, tlv(0x04, b"\x30\x00")), "CN=#04023000"),  # one level unwrapped
        (CN, tlv(0x04, b""), "CN=#"),
        (S, b"\x05\x00", "S=#0500"),  # NULL: whole TLV
        (S, b"\x01\x01\xff", "S=#0101FF"),  # BOOLEAN
        (CN, b"\x30\x00", "CN=#3000"),  # SEQUENCE
        (CN, b"\x03\x03\x00\x30\x00", "CN=#0303003000"),  # BIT STRING
        ("0.0", b"\x31\x02\x05\x00", "OID.0.0=#31020500"),  # SET
        (SERIAL, b"\x06\x03\x55\x04\x06", "SERIALNUMBER=#0603550406"),  # OID
        (CN, b"\x1f\x81\x00\x01\xaa", "CN=#1F810001AA"),  # high-tag-number form
    ],
)
def test_non_string_values_print_as_unquoted_hex(oid: str, value_tlv: bytes, expected: str) -> None:
    assert render_name(der_name([[(oid, value_tlv)]])) == expected


def test_documented_multi_valued_hex_example() -> None:
    der = der_name(
        [
            [(CN, b"\x30\x00"), (S, b"\x31\x00")],
            [
                (SERIAL, printable("0123")),
                (O, b"\x31\x05\x50\x50\x50\x50\x50"),
                (STREET, printable("TACOCAT")),
            ],
        ]
    )
    assert (
        render_name(der, reverse=False)
        == "CN=#3000 + S=#3100, SERIALNUMBER=0123 + O=#31055050505050 + STREET=TACOCAT"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Common Name", '" Common Name"'),
        ("Common Name ", '"Common Name "'),
        ("\tCommon Name", '"\tCommon Name"'),
        ("\rCommon Name", '"\rCommon Name"'),
        ("\vx", '"\vx"'),
        ("x\f", '"x\f"'),
        ("\u2002Common Name", "\u2002Common Name"),  # other Unicode spaces do not quote
        ("\u00a0x\u3000", "\u00a0x\u3000"),
        ("", '""'),
        ("Common,Name", '"Common,Name"'),
        ("Common+Name", '"Common+Name"'),
        ("Common=Name", '"Common=Name"'),
        ("Common\nName", '"Common\nName"'),
        ("Common\rName", "Common\rName"),  # an inner CR does not quote
        ("Common<Name", '"Common<Name"'),
        ("Common>Name", '"Common>Name"'),
        ("Common#Name", '"Common#Name"'),
        ("Common;Name", '"Common;Name"'),
        ('Common"Name', '"Common""Name"'),
        ('"Common Name', '"""Common Name"'),
        ('"1"', '"""1"""'),
        ("'1'", "'1'"),
        ("a\\b \\n", "a\\b \\n"),  # backslash never quotes or escapes
        ("a/b:c*d@e", "a/b:c*d@e"),
        ("two  spaces", "two  spaces"),
        ("#00", '"#00"'),  # a string starting with '#' is quoted, unlike #hex
        (" 1 ", '" 1 "'),
    ],
)
def test_quoting_rules(value: str, expected: str) -> None:
    assert render_name(der_name([[(CN, bmp(value))]])) == "CN=" + expected


@pytest.mark.parametrize(("oid", "key"), sorted(RDN_NAMES.items()))
def test_known_keys(oid: str, key: str) -> None:
    assert render_name(der_name([[(oid, printable("v"))]])) == key + "=v"


@pytest.mark.parametrize(
    "oid",
    [
        "2.5.4.15",  # businessCategory
        "1.3.6.1.4.1.311.60.2.1.3",  # EV jurisdiction country
        "2.5.4.97",  # organizationIdentifier
        "0.9.2342.19200300.100.1.1",  # UID
        "1.2.840.113549.1.9.2",  # unstructuredName
        "2.999.1234567",  # large arcs
    ],
)
def test_unknown_oids_print_with_oid_prefix(oid: str) -> None:
    assert render_name(der_name([[(oid, printable("v"))]])) == f"OID.{oid}=v"


def test_printed_key_table_can_be_extended() -> None:
    der = der_name([[("2.5.4.97", printable("v"))], [(CN, printable("x"))]])
    assert render_name(der, oid_names={"2.5.4.97": "organizationIdentifier"}) == "CN=x, organizationIdentifier=v"
    assert parse_name("organizationIdentifier=v", oid_names={"2.5.4.97": "organizationIdentifier"}) == [
        [("2.5.4.97", "v")]
    ]


def test_empty_name_renders_empty() -> None:
    assert render_name(b"\x30\x00") == ""


@pytest.mark.parametrize(
    "der_hex",
    [
        "",
        "30",
        "3003310130",  # truncated attribute
        "300B3109300706035504031300" + "00",  # trailing byte after the Name
        "310B3009300706035504031300",  # outer SET instead of SEQUENCE
        "300B300930070603550403130000",  # RDN is not a SET (and length mismatch)
        "300931073005060355040313",  # value missing its length
        "3009310730050603550403",  # attribute without a value
        "300E310C300A06035504031300050000",  # three elements in an attribute
        "3080310B3009060355040313024142" + "0000",  # indefinite length
        "30093107300506001300",  # empty OID
        "300B3109300706035504811300",  # OID ending mid-arc
        "300C310A30080603550403" + "1E0141",  # odd BMPString length
        "300D310B30090603550403" + "1C020041",  # UniversalString not a multiple of 4
    ],
)
def test_undecodable_der_renders_empty(der_hex: str) -> None:
    assert render_name(bytes.fromhex(der_hex)) == ""


def test_embedded_nul_cuts_the_rest_of_the_string() -> None:
    der = der_name([[(O, bmp("Con\x00toso"))], [(CN, printable("x"))]])
    assert render_name(der) == "CN=x, O=Con"
    assert render_name(der, reverse=False) == "O=Con"


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def test_parse_keeps_written_order() -> None:
    assert parse_name("CN=mail.contoso.com, OU=IT, O=Contoso, C=US") == [
        [(CN, "mail.contoso.com")],
        [(OU, "IT")],
        [(O, "Contoso")],
        [(C, "US")],
    ]


def test_parse_separators_and_multi_valued() -> None:
    assert parse_name("CN=a;O=b , OU=c+L=d + S=e") == [[(CN, "a")], [(O, "b")], [(OU, "c"), (L, "d"), (S, "e")]]


def test_parse_whitespace_rules() -> None:
    # Around keys, '=' and unquoted values it is dropped; inside a value kept.
    assert parse_name("  CN  =  two  words  ,\tO=\nx\r ") == [[(CN, "two  words")], [(O, "x")]]


def test_parse_only_ascii_control_spaces_are_trimmed() -> None:
    # U+2002 and U+00A0 are left alone, so an unquoted value CertNameToStr
    # printed with them parses back unchanged.
    assert parse_name("CN=\u2002x\u00a0") == [[(CN, "\u2002x\u00a0")]]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('CN=" a, b + c; d = e # <f> "', " a, b + c; d = e # <f> "),
        ('CN="say ""hi"""', 'say "hi"'),
        ('CN=""', ""),
        ('CN="line\nfeed"', "line\nfeed"),
        ('CN=  "quoted"  ', "quoted"),
        ("CN=a=b", "a=b"),  # '=' and '"' inside an unquoted value are literal
        ('CN=a"b', 'a"b'),
        ("CN=", ""),
        ('CN="#AB"', "#AB"),  # quoted '#' is a string, not hex
    ],
)
def test_parse_values(text: str, value: str) -> None:
    assert parse_name(text) == [[(CN, value)]]


def test_parse_empty_values_between_separators() -> None:
    assert parse_name("CN=,O=x") == [[(CN, "")], [(O, "x")]]
    assert parse_name("OID.2.23.133.2.2=") == [[("2.23.133.2.2", "")]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3 = # AB CD 01", [[("1.2.3", b"\xab\xcd\x01")]]),
        ("CN=#3000+O=#", [[(CN, b"\x30\x00"), (O, b"")]]),
        ("CN=#abcdef", [[(CN, b"\xab\xcd\xef")]]),
    ],
)
def test_parse_hex_values_are_octet_string_bytes(text: str, expected: list) -> None:
    assert parse_name(text) == expected


@pytest.mark.parametrize(
    ("key", "oid"),
    [
        ("CN", CN),
        ("cn", CN),
        ("Cn", CN),
        ("S", S),
        ("ST", S),
        ("st", S),
        ("E", E),
        ("Email", E),
        ("EMAIL", E),
        ("T", "2.5.4.12"),
        ("Title", "2.5.4.12"),
        ("G", "2.5.4.42"),
        ("GivenName", "2.5.4.42"),
        ("GN", "2.5.4.42"),
        ("I", "2.5.4.43"),
        ("Initials", "2.5.4.43"),
        ("SN", "2.5.4.4"),
        ("SERIALNUMBER", SERIAL),
        ("serialNumber", SERIAL),
        ("dnqualifier", "2.5.4.46"),
        ("DC", DC),
        ("OID.2.5.4.15", "2.5.4.15"),
        ("oid.2.5.4.15", "2.5.4.15"),
        ("2.5.4.15", "2.5.4.15"),
        ("OID.2.5.4.3", CN),
        ("1.02.3", "1.2.3"),  # arcs are numbers; leading zeros do not matter
    ],
)
def test_parse_keys(key: str, oid: str) -> None:
    assert parse_name(f"{key}=v") == [[(oid, "v")]]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("foo=1", 0, "unknown attribute key 'foo'"),
        ("CN=a, Common Name=b", 13, "'N' after the key 'Common'"),
        ("CN=1+2", 6, "the end after the key '2'"),  # '+' needs quotes
        ('CN=""1""', 5, "'1' after a closing quote"),
        ('CN="abc', 3, "without its closing quote"),
        ("CN", 2, "the end after the key 'CN'"),
        ("=x", 0, "'=' where an attribute key should start"),
        ("CN=a,,O=b", 5, "',' where an attribute key should start"),
        ("CN=a+", 5, "the end where an attribute key should start"),
        (",CN=a", 0, "',' where an attribute key should start"),
        ("CN=#ABC", 3, "odd number of digits"),
        ("CN=#GG", 4, "'G' in a #hex value"),
        ("OID.3.1=x", 0, "unknown attribute key 'OID.3.1'"),  # first arc > 2
        ("1.40.1=x", 0, "unknown attribute key '1.40.1'"),  # second arc >= 40 under 1
        ("OID.=x", 0, "unknown attribute key 'OID.'"),
        ("1=x", 0, "unknown attribute key '1'"),
        ("\u017fT=x", 0, "unknown attribute key"),  # no Unicode case folding of keys
    ],
)
def test_parse_errors_name_input_position_and_expectation(text: str, position: int, fragment: str) -> None:
    with pytest.raises(X500Error) as info:
        parse_name(text)
    message = str(info.value)
    assert fragment in message
    assert repr(text) in message
    assert f"at position {position}" in message
    assert "expected" in message
    assert info.value.position == position
    assert info.value.text == text
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["", "   ", " \t\r\n", "CN=a,", "CN=a;", "CN=a , "])
def test_parse_accepts_empty_names_and_one_trailing_separator(text: str) -> None:
    assert parse_name(text) == ([] if "CN" not in text else [[(CN, "a")]])


def test_parse_stops_at_nul_like_the_native_call() -> None:
    assert parse_name("CN=a\x00, foo=bar") == [[(CN, "a")]]


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse_name(b"CN=x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Encoding and Exchange normalisation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oid", "value", "value_tlv"),
    [
        (CN, "mail.contoso.com", printable("mail.contoso.com")),
        (CN, "Let's (go) +,-./:=?", printable("Let's (go) +,-./:=?")),
        (CN, "<", bytes.fromhex("1E02003C")),  # the Wine/Windows example
        (CN, "a_b", bmp("a_b")),  # '_' and '@' are not PrintableString
        (CN, "a@b", bmp("a@b")),
        (CN, "Müller", bmp("Müller")),
        (CN, "\U0001f600", bytes.fromhex("1E04D83DDE00")),  # surrogate pair
        (CN, "", printable("")),
        (E, "postmaster@contoso.com", tlv(0x16, b"postmaster@contoso.com")),  # E is IA5 even if printable-free
        (E, "ab", tlv(0x16, b"ab")),
        (C, "US", printable("US")),
        (DC, "contoso", tlv(0x16, b"contoso")),
        (DC, "dü", utf8("dü")),
        (CN, b"\x01\x02", tlv(0x04, b"\x01\x02")),
    ],
)
def test_encoding_choices(oid: str, value: str | bytes, value_tlv: bytes) -> None:
    assert encode_name([[(oid, value)]]) == der_name([[(oid, value_tlv)]])


def test_encode_reverse_puts_first_written_rdn_last() -> None:
    rdns = [[(CN, "x")], [(O, "y")]]
    assert encode_name(rdns) == der_name([[(O, printable("y"))], [(CN, printable("x"))]])
    assert encode_name(rdns, reverse=False) == der_name([[(CN, printable("x"))], [(O, printable("y"))]])


def test_encode_matches_windows_multi_valued_vector() -> None:
    expected = bytes.fromhex("30223120300C060355040313054A616D65733010060355040A13094D6963726F736F6674")
    assert encode_name(parse_name("CN=James + O=Microsoft")) == expected


@pytest.mark.parametrize(
    ("rdns", "fragment"),
    [
        ([[(E, "pöstmaster@contoso.com")]], "IA5String"),
        ([[(C, "Ü")]], "PrintableString"),
        ([[(C, "U_")]], "PrintableString"),
        ([[("3.1", "x")]], "cannot encode OID '3.1'"),
        ([[("cn", "x")]], "cannot encode OID 'cn'"),
        ([[(CN, "x")], []], "RDN #1"),
        ([[(DC, "d\ud800ü")]], "unpaired surrogate"),  # UTF8String cannot carry one
    ],
)
def test_encode_errors(rdns: list, fragment: str) -> None:
    with pytest.raises(X500Error, match=fragment):
        encode_name(rdns)


def test_encode_bmp_keeps_lone_surrogates() -> None:
    # A lone surrogate read from a BMPString must survive re-encoding.
    assert encode_name([[(CN, "\ud800")]]) == der_name([[(CN, bytes.fromhex("1E02D800"))]])


@pytest.mark.parametrize(
    ("part", "stored"),
    [
        ("CN=a,O=b", "CN=a, O=b"),
        ("  cn = mail.contoso.com ;st=WA ", "CN=mail.contoso.com, S=WA"),
        ('CN="abc"', "CN=abc"),
        ("OID.2.5.4.3=x", "CN=x"),
        ("2.5.4.15=Private Organization", "OID.2.5.4.15=Private Organization"),
        ("Email=a@b.c", "E=a@b.c"),
        ("1.2.3=#0500", "OID.1.2.3=#0500"),
        ("O=a+CN=b", "O=a + CN=b"),
        ("CN=a<b", 'CN="a<b"'),
        ("C=US, O=x, CN=y", "C=US, O=x, CN=y"),  # written order is kept
        ("", ""),
        ("CN=" + "x" * 100, "CN=" + "x" * 100),
    ],
)
def test_exchange_normalize(part: str, stored: str) -> None:
    assert exchange_normalize(part) == stored


@pytest.mark.parametrize("part", ["foo=bar", "C=Ü", "E=ü@x", "CN=1+2", "CN"])
def test_exchange_normalize_raises_where_windows_throws(part: str) -> None:
    with pytest.raises(X500Error):
        exchange_normalize(part)


# --------------------------------------------------------------------------
# Certificates: reading names, and minting with cryptography
# --------------------------------------------------------------------------


def _fake_certificate(issuer: bytes, subject: bytes, *, version: bool = True) -> bytes:
    # Only the structure certificate_names walks; nothing is signed.
    algorithm = tlv(0x30, der_oid("1.2.840.10045.4.3.2"))
    tbs = tlv(
        0x30,
        (tlv(0xA0, tlv(0x02, b"\x02")) if version else b"")
        + tlv(0x02, b"\x01")
        + algorithm
        + issuer
        + tlv(0x30, b"")
        + subject
        + tlv(0x30, b""),
    )
    return tlv(0x30, tbs + algorithm + tlv(0x03, b"\x00"))


@pytest.mark.parametrize("version", [True, False], ids=["v3", "v1-no-version"])
def test_certificate_names_reads_names_cryptography_refuses(version: bool) -> None:
    # T61 that is not UTF-8, '_' in a PrintableString and an unsorted SET:
    # cryptography raises on each, Windows prints them.
    issuer = der_name([[(CN, tlv(0x14, b"Hedeby's M\xf8belhandel"))]])
    subject = der_name([[(OU, printable("zz")), (OU, printable("aa"))], [(CN, printable("mail_1.contoso.com"))]])
    got_issuer, got_subject = certificate_names(_fake_certificate(issuer, subject, version=version))
    assert (got_issuer, got_subject) == (issuer, subject)
    assert render_name(got_issuer) == "CN=Hedeby's Møbelhandel"
    assert render_name(got_subject) == "CN=mail_1.contoso.com, OU=zz + OU=aa"


@pytest.mark.parametrize(
    "der",
    [b"", b"\x30\x00", b"\x02\x01\x00", b"\x30\x03\x30\x01\x02", b"\x30\x05\x30\x03\x02\x01\x01"],
)
def test_certificate_names_rejects_non_certificates(der: bytes) -> None:
    with pytest.raises(X500Error, match="cannot read issuer and subject"):
        certificate_names(der)


REALISTIC_SUBJECTS = [
    "CN=mail.contoso.com, OU=IT, O=Contoso, L=Redmond, S=Washington, C=US",
    "CN=R10, O=Let's Encrypt, C=US",
    "CN=GeoTrust TLS RSA CA G1, OU=www.digicert.com, O=DigiCert Inc, C=US",
    'CN="Smith, John", O="Contoso ""Mail""", OU="a+b", L="x=y"',
    'CN=" leading", O="trailing ", OU="#1", L="semi;colon", S="<angle>"',
    "CN=Müller GmbH",
    "CN=日本語, O=Müller & Söhne, C=JP",
    "CN=\U0001f600 emoji",
    "CN=\u2002en space",
    'CN=""',
    "CN=" + "long" * 20,
    "CN=mail.contoso.com, E=postmaster@contoso.com, DC=contoso, DC=com",
    "CN=www.microsoft.com, SERIALNUMBER=600413485, OID.2.5.4.15=Private Organization, "
    "OID.1.3.6.1.4.1.311.60.2.1.3=US",
    "CN=James + O=Microsoft, C=US",  # multi-valued, already in DER-sorted order
]


@pytest.fixture(scope="module")
def ec_key():
    ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize("subject", REALISTIC_SUBJECTS)
def test_cryptography_minted_certificate_renders_back_exactly(subject: str, ec_key) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    name = cryptography_name(parse_name(subject))
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=90))
        .sign(ec_key, hashes.SHA256())
    )
    issuer_der, subject_der = certificate_names(certificate.public_bytes(serialization.Encoding.DER))
    assert render_name(subject_der) == subject
    assert render_name(issuer_der) == subject
    # Same ASN.1 string types as encode_name, not merely the same text.
    assert subject_der == encode_name(parse_name(subject))


def test_cryptography_name_sorts_multi_valued_rdns() -> None:
    pytest.importorskip("cryptography")
    der = cryptography_name(parse_name("O=Microsoft + CN=James")).public_bytes()
    assert render_name(der) == "CN=James + O=Microsoft"


def test_cryptography_name_respects_reverse_flag() -> None:
    pytest.importorskip("cryptography")
    rdns = parse_name("CN=x, O=y")
    assert render_name(cryptography_name(rdns).public_bytes()) == "CN=x, O=y"
    assert render_name(cryptography_name(rdns, reverse=False).public_bytes(), reverse=False) == "CN=x, O=y"


@pytest.mark.parametrize(
    ("rdns", "fragment"),
    [
        ([[(CN, b"\x00")]], "#hex"),
        ([[(CN, "x"), (CN, "x")]], "cannot build a cryptography RDN"),
        ([[(C, "Ü")]], "PrintableString"),
        ([[("x.y", "v")]], "cannot encode OID"),
    ],
)
def test_cryptography_name_errors(rdns: list, fragment: str) -> None:
    pytest.importorskip("cryptography")
    with pytest.raises(X500Error, match=fragment):
        cryptography_name(rdns)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

# Characters that exercise quoting and separators, mixed with any other
# non-NUL, non-surrogate character (NUL truncates by design).
_SPECIAL = list(',+="\n\r\t\v\f <>#;\'\\`=\u2002\u00a0é€日\U0001f600')
_any_char = st.one_of(st.sampled_from(_SPECIAL), st.characters(codec="utf-8", exclude_characters="\x00"))
_values = st.text(alphabet=_any_char, max_size=12)
_printable_values = st.text(alphabet=st.sampled_from(sorted(x500_encode._PRINTABLE)), max_size=8)
_ascii_values = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"), max_size=8)
_oids = st.sampled_from(
    sorted(RDN_NAMES)
    + ["2.5.4.15", "2.5.4.97", "1.3.6.1.4.1.311.60.2.1.3", "0.9.2342.19200300.100.1.1", "1.2.3.4.5", "2.999.7"]
)


@st.composite
def _string_attribute(draw) -> tuple[str, str]:
    oid = draw(_oids)
    # C and E only take values Windows can encode for them.
    if oid == C:
        return oid, draw(_printable_values)
    if oid == E:
        return oid, draw(_ascii_values)
    return oid, draw(_values)


_string_rdns = st.lists(st.lists(_string_attribute(), min_size=1, max_size=3), max_size=4)


@st.composite
def _encoded_attribute(draw) -> tuple[str, bytes, str | bytes]:
    """(oid, value TLV in some Windows-readable encoding, what parse should return)."""
    oid = draw(_oids)
    kind = draw(st.sampled_from(["utf8", "bmp", "printable", "ia5", "t61", "octet", "other"]))
    if kind == "utf8":
        text = draw(_values)
        return oid, utf8(text), text
    if kind == "bmp":
        text = draw(_values)
        return oid, bmp(text), text
    if kind == "printable":
        text = draw(_printable_values)
        return oid, printable(text), text
    if kind == "ia5":
        text = draw(_ascii_values)
        return oid, tlv(0x16, text.encode("ascii")), text
    if kind == "t61":
        text = draw(_values)
        return oid, tlv(0x14, text.encode("utf-8")), text
    if kind == "octet":
        data = draw(st.binary(max_size=6))
        return oid, tlv(0x04, data), data
    whole = draw(st.sampled_from([b"\x05\x00", b"\x01\x01\xff", b"\x30\x00", b"\x03\x03\x00\x30\x00"]))
    return oid, whole, whole


def _windows_can_encode(rdns) -> bool:
    # CertStrToName writes C only as PrintableString and E only as IA5String.
    return all(
        isinstance(value, bytes)
        or (oid != C or x500_encode._is_printable(value)) and (oid != E or value.isascii())
        for rdn in rdns
        for oid, value in rdn
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_encoded_attribute(), min_size=1, max_size=3), max_size=4), st.booleans())
def test_parse_inverts_render_for_any_encoded_name(rdns, reverse: bool) -> None:
    der = der_name([[(oid, value_tlv) for oid, value_tlv, _expected in rdn] for rdn in rdns])
    text = render_name(der, reverse=reverse)
    written = [[(oid, expected) for oid, _value_tlv, expected in rdn] for rdn in rdns]
    if reverse:
        written.reverse()
    assert parse_name(text) == written
    # Re-encoding may change string types (T61 -> BMP, SEQUENCE -> OCTET
    # STRING) but never the Windows string - unless Windows refuses it.
    if _windows_can_encode(written):
        assert render_name(encode_name(written, reverse=reverse), reverse=reverse) == text
    else:
        with pytest.raises(X500Error):
            encode_name(written, reverse=reverse)


@settings(max_examples=200, deadline=None)
@given(_string_rdns, st.booleans())
def test_encode_render_parse_round_trip(rdns, reverse: bool) -> None:
    der = encode_name(rdns, reverse=reverse)
    text = render_name(der, reverse=reverse)
    assert parse_name(text) == rdns
    assert encode_name(parse_name(text), reverse=reverse) == der
    assert exchange_normalize(text) == text


_random_text = st.text(
    alphabet=st.one_of(st.sampled_from(list('CNOUSTEmail=,;+"# \t\n.0123456789abAB<>\x00é')), st.characters())
)
# Near-valid names, so that inputs also get past the key and into values.
_near_valid_text = st.lists(
    st.tuples(
        st.sampled_from(["CN", " o ", "ST", "e", "OID.1.2.3", "2.5.4.3", "oid.", "foo", "C", ""]),
        st.sampled_from(["=", " = ", "", "=="]),
        st.one_of(_values, _values.map(lambda v: '"' + v.replace('"', '""') + '"'), st.just("#a b"), st.just('"x')),
        st.sampled_from([",", ";", "+", ", ", " + ", ",,", ""]),
    ),
    max_size=4,
).map(lambda parts: "".join(key + eq + value + sep for key, eq, value, sep in parts))
_name_like_text = st.one_of(_random_text, _near_valid_text)


@settings(max_examples=200, deadline=None)
@given(_name_like_text)
def test_parse_raises_only_x500error(text: str) -> None:
    try:
        rdns = parse_name(text)
    except X500Error:
        return
    assert all(rdn and all(isinstance(v, (str, bytes)) for _oid, v in rdn) for rdn in rdns)
    try:
        stored = exchange_normalize(text)
    except X500Error:
        return
    # What Exchange stores is already in its canonical form.
    assert exchange_normalize(stored) == stored


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_render_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    assert isinstance(render_name(data), str)


@settings(max_examples=200, deadline=None)
@given(_string_rdns.filter(bool), st.data())
def test_render_never_raises_on_corrupted_names(rdns, data) -> None:
    der = bytearray(encode_name(rdns))
    index = data.draw(st.integers(0, len(der) - 1))
    der[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(der)))
    assert isinstance(render_name(bytes(der[:cut])), str)
