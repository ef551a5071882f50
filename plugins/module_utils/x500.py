# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.500 names exactly as Windows/.NET prints and parses them.

Exchange builds ``TlsCertificateName`` from ``X509Certificate2.Issuer`` and
``.Subject`` and later compares those strings, so "the same name" means "the
same Windows string", not "the same DER" or "the same RFC 4514 string".
This module reproduces the two crypt32 calls involved, following
``docs/x500-names.md`` (section numbers below refer to it):

* :func:`render_name` is ``CertNameToStrW(CERT_X500_NAME_STR [| REVERSE])``,
  which is what ``.Subject``, ``.Issuer``, ``X500DistinguishedName.Name``
  (reversed) and ``.Format(false)`` (DER order) return.
* :func:`parse_name` and :func:`encode_name` are ``CertStrToNameW``, which is
  what ``new X500DistinguishedName(string[, flags])`` calls.
* :func:`exchange_normalize` chains them the way Exchange's
  ``SmtpX509Identifier`` normalises an issuer or subject it is given.

Pure standard library; ``cryptography`` is imported only inside
:func:`cryptography_name`, so the rest works on hosts without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, List, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover - typing only
    from cryptography import x509

__all__ = [
    "AttributeValue",
    "RDN_NAMES",
    "X500Error",
    "certificate_names",
    "cryptography_name",
    "encode_name",
    "exchange_normalize",
    "parse_name",
    "render_name",
]

# A parsed attribute value. ``str`` is a character string. ``bytes`` is what a
# ``#hex`` value denotes: the contents of an OCTET STRING (CertStrToName turns
# every ``#hex`` value into CERT_RDN_OCTET_STRING, and CertNameToStr prints an
# OCTET STRING as ``#`` + hex of its contents), so bytes survive a round trip.
# typing.Union/List/Tuple rather than ``str | bytes``/``list[...]``: these
# aliases are evaluated at import, and module_utils must import on Python 3.8/3.9.
AttributeValue = Union[str, bytes]
Rdn = List[Tuple[str, AttributeValue]]


class X500Error(ValueError):
    """A string is not a name Windows would accept, or a name cannot be encoded.

    ``text`` is the offending input (a name string, or a value for encoding
    errors) and ``position`` the 0-based index into it when one applies.
    """

    def __init__(self, message: str, text: str | None = None, position: int | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


# --------------------------------------------------------------------------
# The RDN key table (section 2.2)
# --------------------------------------------------------------------------

# OID -> the key CertNameToStr prints (CryptFindOIDInfo's first name for the
# OID in the RDN group). Any other OID prints as "OID.<dotted>".
RDN_NAMES: Mapping[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "SERIALNUMBER",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "S",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "T",
    "2.5.4.13": "Description",
    "2.5.4.17": "PostalCode",
    "2.5.4.18": "POBox",
    "2.5.4.20": "Phone",
    "2.5.4.24": "X21Address",
    "2.5.4.42": "G",
    "2.5.4.43": "I",
    "2.5.4.46": "dnQualifier",
    "1.2.840.113549.1.9.1": "E",
    "0.9.2342.19200300.100.1.25": "DC",
    # Present on current Windows 10/11 and Server builds; older builds may
    # print OID.2.23.133.2.x instead (section 2.2, [U]).
    "2.23.133.2.1": "TPMManufacturer",
    "2.23.133.2.2": "TPMModel",
    "2.23.133.2.3": "TPMVersion",
}

# Extra spellings CertStrToName accepts but CertNameToStr never prints.
_PARSE_ALIASES: Mapping[str, str] = {
    "ST": "2.5.4.8",
    "TITLE": "2.5.4.12",
    "GIVENNAME": "2.5.4.42",
    "GN": "2.5.4.42",
    "INITIALS": "2.5.4.43",
    "EMAIL": "1.2.840.113549.1.9.1",
}

_OID_CN = "2.5.4.3"
_OID_C = "2.5.4.6"
_OID_EMAIL = "1.2.840.113549.1.9.1"
_OID_DC = "0.9.2342.19200300.100.1.25"


def _names_for(oid_names: Mapping[str, str] | None) -> Mapping[str, str]:
    # Windows reads extra RDN names from the registry (national crypto
    # providers register some), so callers may extend or override the table.
    if not oid_names:
        return RDN_NAMES
    merged = dict(RDN_NAMES)
    merged.update(oid_names)
    return merged


def _ascii_upper(text: str) -> str:
    # Keys are matched ASCII-case-insensitively only: Python's Unicode upper()
    # would let e.g. "\u017f" (long s) pass for "S", which Windows never does.
    return text.translate(_ASCII_UPPER)


_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def _keys_for(oid_names: Mapping[str, str] | None) -> Mapping[str, str]:
    if not oid_names:
        return _DEFAULT_KEYS
    keys = {_ascii_upper(name): oid for oid, name in _names_for(oid_names).items()}
    keys.update(_PARSE_ALIASES)
    return keys


_DEFAULT_KEYS: Mapping[str, str] = {
    **{_ascii_upper(name): oid for oid, name in RDN_NAMES.items()},
    **_PARSE_ALIASES,
}


# --------------------------------------------------------------------------
# A small DER reader
# --------------------------------------------------------------------------
# Hand-written rather than cryptography's x509.Name because Windows prints
# names cryptography refuses to load (section 7): non-UTF-8 T61, '_' in a
# PrintableString, unsorted SETs, SEQUENCE or NULL values, and so on.


class _DerError(Exception):
    """Malformed DER; callers turn it into "" (render) or X500Error."""


_TAG_SEQUENCE = 0x30
_TAG_SET = 0x31
_TAG_OID = 0x06
_TAG_OCTET_STRING = 0x04
_TAG_UTF8 = 0x0C
_TAG_NUMERIC = 0x12
_TAG_PRINTABLE = 0x13
_TAG_T61 = 0x14
_TAG_VIDEOTEX = 0x15
_TAG_IA5 = 0x16
_TAG_GRAPHIC = 0x19
_TAG_VISIBLE = 0x1A
_TAG_GENERAL = 0x1B
_TAG_UNIVERSAL = 0x1C
_TAG_BMP = 0x1E

# One-byte-per-character string types. Windows does not check their
# character sets when decoding ('_' in a PrintableString still prints) [I].
_EIGHT_BIT_TAGS = frozenset(
    {_TAG_PRINTABLE, _TAG_IA5, _TAG_NUMERIC, _TAG_VISIBLE, _TAG_GRAPHIC, _TAG_GENERAL, _TAG_VIDEOTEX}
)


def _read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Return (identifier, contents start, contents end) of the TLV at ``pos``."""
    if pos >= end:
        raise _DerError("truncated identifier")
    ident = data[pos]
    pos += 1
    if ident & 0x1F == 0x1F:
        # High-tag-number form: only ever shown as #hex, but it must be
        # skipped correctly to find the end of the value.
        while True:
            if pos >= end:
                raise _DerError("truncated tag")
            octet = data[pos]
            pos += 1
            ident = (ident << 8) | octet
            if not octet & 0x80:
                break
    if pos >= end:
        raise _DerError("truncated length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise _DerError("indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > end:
            raise _DerError("bad long-form length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise _DerError("value runs past its container")
    return ident, pos, pos + length


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (identifier, TLV start, contents start, contents end) for each child."""
    pos = start
    while pos < end:
        ident, cstart, cend = _read_tlv(data, pos, end)
        yield ident, pos, cstart, cend
        pos = cend


def _decode_oid(contents: bytes) -> str:
    if not contents or contents[-1] & 0x80:
        raise _DerError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for octet in contents:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    # The first subidentifier packs two arcs: 40 * X + Y, with X <= 2.
    if first < 40:
        head = [0, first]
    elif first < 80:
        head = [1, first - 40]
    else:
        head = [2, first - 80]
    try:
        return ".".join(str(arc) for arc in head + arcs[1:])
    except ValueError:
        # An arc of more than 4300 decimal digits exceeds Python's int-to-str
        # limit; no such OID is printable, so the name is undecodable.
        raise _DerError("OBJECT IDENTIFIER arc too large") from None


# (oid, identifier, contents, whole TLV) for one attribute, in encoded order.
_Attribute = Tuple[str, int, bytes, bytes]


def _decode_name(der: bytes) -> list[list[_Attribute]]:
    ident, start, end = _read_tlv(der, 0, len(der))
    # Trailing bytes after the Name make it undecodable, like any other
    # structural error [U: Windows' tolerance for trailing data is untested].
    if ident != _TAG_SEQUENCE or end != len(der):
        raise _DerError("not a single SEQUENCE")
    rdns: list[list[_Attribute]] = []
    for rdn_ident, _rdn_pos, rdn_start, rdn_end in _children(der, start, end):
        if rdn_ident != _TAG_SET:
            raise _DerError("RDN is not a SET")
        attributes: list[_Attribute] = []
        # Encoded order is kept: Windows prints an unsorted SET as it is.
        for atv_ident, _atv_pos, atv_start, atv_end in _children(der, rdn_start, rdn_end):
            if atv_ident != _TAG_SEQUENCE:
                raise _DerError("attribute is not a SEQUENCE")
            parts = list(_children(der, atv_start, atv_end))
            if len(parts) != 2 or parts[0][0] != _TAG_OID:
                raise _DerError("attribute is not (OID, value)")
            oid = _decode_oid(der[parts[0][2] : parts[0][3]])
            value_ident, value_tlv_start, value_start, value_end = parts[1]
            attributes.append(
                (oid, value_ident, der[value_start:value_end], der[value_tlv_start:value_end])
            )
        # An empty SET stays an empty RDN and prints as an empty piece
        # between separators, as Wine's copy of CertNameToStr does [U].
        rdns.append(attributes)
    return rdns


# --------------------------------------------------------------------------
# Rendering (section 2)
# --------------------------------------------------------------------------

# Leading or trailing characters that force quotes (U+0020, U+0009-U+000D).
# Other Unicode spaces (U+00A0, U+2002, U+3000) do not.
_EDGE_SPACE = " \t\n\v\f\r"
# Characters that force quotes anywhere in the value. CR is deliberately
# absent: Windows prints an inner CR unquoted.
_QUOTE_TRIGGERS = frozenset(',+="\n<>#;')


def _needs_quotes(text: str) -> bool:
    return (
        not text
        or text[0] in _EDGE_SPACE
        or text[-1] in _EDGE_SPACE
        or any(c in _QUOTE_TRIGGERS for c in text)
    )


def _decode_ucs4(contents: bytes) -> str:
    if len(contents) % 4:
        raise _DerError("UniversalString length is not a multiple of 4")
    chars = []
    for i in range(0, len(contents), 4):
        code = int.from_bytes(contents[i : i + 4], "big")
        # Beyond Unicode there is nothing to convert to; U+FFFD is what a
        # lenient converter produces [I].
        chars.append(chr(code) if code <= 0x10FFFF else "\ufffd")
    return "".join(chars)


def _value_text(ident: int, contents: bytes, tlv: bytes) -> tuple[str, bool]:
    """Return (text, is_string) for an attribute value (section 2.3)."""
    if ident == _TAG_UTF8:
        # Invalid UTF-8 still prints; U+FFFD per bad sequence is what the
        # Windows UTF-8 converter does without MB_ERR_INVALID_CHARS [I].
        return contents.decode("utf-8", "replace"), True
    if ident == _TAG_BMP:
        if len(contents) % 2:
            # Half a code unit is malformed; treated as undecodable [U].
            raise _DerError("BMPString length is odd")
        # UTF-16 code units pass through, lone surrogates included.
        return contents.decode("utf-16-be", "surrogatepass"), True
    if ident == _TAG_UNIVERSAL:
        return _decode_ucs4(contents), True
    if ident == _TAG_T61:
        # CertNameToStr tries T61 as UTF-8 first ("IE4 UTF-8"); only bytes
        # that are not valid UTF-8 fall back to one byte per character.
        try:
            return contents.decode("utf-8"), True
        except UnicodeDecodeError:
            return contents.decode("latin-1"), True
    if ident in _EIGHT_BIT_TAGS:
        # Bytes >= 0x80 are assumed to zero-extend to U+00xx [U, section 8.1].
        return contents.decode("latin-1"), True
    if ident == _TAG_OCTET_STRING:
        # One level is unwrapped: the hex is of the contents, not the TLV.
        return "#" + contents.hex().upper(), False
    # BOOLEAN, NULL, SEQUENCE, SET, OID, BIT STRING, INTEGER, tagged...: the
    # whole TLV in hex.
    return "#" + tlv.hex().upper(), False


def _format_value(ident: int, contents: bytes, tlv: bytes) -> str:
    text, is_string = _value_text(ident, contents, tlv)
    # #hex forms are never quoted, which is how a reader tells them from a
    # string that merely starts with '#' (that one is always quoted).
    if is_string and _needs_quotes(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def render_name(der: bytes, reverse: bool = True, *, oid_names: Mapping[str, str] | None = None) -> str:
    """Return the Windows string for a DER-encoded Name.

    ``reverse=True`` gives ``X509Certificate2.Subject``/``.Issuer`` and
    ``X500DistinguishedName.Name`` (last DER RDN first); ``reverse=False``
    gives ``Decode(None)`` and ``Format(false)`` (DER order). An empty Name
    gives ``""``, and so does undecodable DER, as on Windows. ``oid_names``
    adds or overrides printed keys (OID -> key) for hosts with registered
    RDN names.
    """
    names = _names_for(oid_names)
    try:
        rdns = _decode_name(bytes(der))
        if reverse:
            rdns.reverse()
        pieces = [
            " + ".join(
                names.get(oid, "OID." + oid) + "=" + _format_value(ident, contents, tlv)
                for oid, ident, contents, tlv in rdn
            )
            for rdn in rdns
        ]
    except _DerError:
        return ""
    text = ", ".join(pieces)
    # .NET Framework copies the native buffer with PtrToStringUni, which
    # stops at the first U+0000: everything after an embedded NUL is lost [I].
    return text.split("\x00", 1)[0]


def certificate_names(cert_der: bytes) -> tuple[bytes, bytes]:
    """Return the raw DER of (issuer, subject) from a DER certificate.

    Read with this module's DER reader so that names ``cryptography`` refuses
    (section 7) can still be rendered. Raises X500Error if the certificate's
    outer structure cannot be read.
    """
    data = bytes(cert_der)
    try:
        ident, start, end = _read_tlv(data, 0, len(data))
        if ident != _TAG_SEQUENCE:
            raise _DerError("certificate is not a SEQUENCE")
        tbs_ident, _tbs_pos, tbs_start, tbs_end = next(_children(data, start, end))
        if tbs_ident != _TAG_SEQUENCE:
            raise _DerError("TBSCertificate is not a SEQUENCE")
        fields = list(_children(data, tbs_start, tbs_end))
        # version is [0] EXPLICIT and optional (absent in v1 certificates);
        # then serialNumber, signature, issuer, validity, subject.
        offset = 1 if fields and fields[0][0] == 0xA0 else 0
        if len(fields) < offset + 5:
            raise _DerError("TBSCertificate is too short")
        issuer = fields[offset + 2]
        subject = fields[offset + 4]
    except (_DerError, StopIteration) as exc:
        detail = str(exc) or "it ends too early"
        raise X500Error(f"cannot read issuer and subject from the certificate: {detail}") from None
    return data[issuer[1] : issuer[3]], data[subject[1] : subject[3]]


# --------------------------------------------------------------------------
# Parsing (section 4, CertStrToName)
# --------------------------------------------------------------------------

# Whitespace that is skipped around keys, '=' and unquoted values. It is the
# same set whose presence at a value's edge makes CertNameToStr quote it, so
# every value CertNameToStr leaves unquoted (e.g. one starting with U+2002)
# parses back unchanged, which is the round trip section 4 promises.
_SPACE = frozenset(_EDGE_SPACE)
_VALUE_END = frozenset(",;+")
_KEY_END = frozenset("=") | _SPACE | _VALUE_END
_DOTTED_OID = re.compile(r"[0-9]+(?:\.[0-9]+)+\Z")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

_VALID_KEYS_HINT = (
    "a key such as CN, OU, O, L, S/ST, C, E/Email, STREET, T/Title, G/GivenName, "
    "I/Initials, SN, SERIALNUMBER, DC, or OID.<dotted OID> / a dotted OID"
)


def _fail(text: str, pos: int, problem: str, expected: str) -> X500Error:
    return X500Error(
        f"invalid X.500 name {text!r} at position {pos}: {problem}; expected {expected}",
        text=text,
        position=pos,
    )


def _normalize_oid(dotted: str) -> str | None:
    """Return the canonical dotted form, or None if it cannot be encoded."""
    if not _DOTTED_OID.match(dotted):
        return None
    try:
        arcs = [int(arc) for arc in dotted.split(".")]
    except ValueError:
        # An arc of more than 4300 digits exceeds Python's str-to-int limit;
        # nothing can encode it, so it is as unusable as a malformed OID.
        return None
    # X.660: the first arc is 0, 1 or 2, and under 0 and 1 the second is < 40;
    # otherwise the first subidentifier (40 * X + Y) is ambiguous.
    if arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        return None
    return ".".join(str(arc) for arc in arcs)


def _resolve_key(key: str, keys: Mapping[str, str]) -> str | None:
    upper = _ascii_upper(key)
    if upper in keys:
        return keys[upper]
    if upper.startswith("OID.") and len(key) > 4:
        return _normalize_oid(key[4:])
    return _normalize_oid(key)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _parse_hex(text: str, start: int, end: int) -> bytes:
    # text[start] is '#'. Embedded whitespace is ignored ("# AB CD 01").
    digits = []
    for pos in range(start + 1, end):
        char = text[pos]
        if char in _SPACE:
            continue
        if char not in _HEX_DIGITS:
            raise _fail(text, pos, f"{char!r} in a #hex value", "hex digits 0-9 A-F after '#'")
        digits.append(char)
    if len(digits) % 2:
        raise _fail(text, start, "a #hex value with an odd number of digits", "whole bytes (two hex digits each)")
    return bytes.fromhex("".join(digits))


def _parse_value(text: str, pos: int) -> tuple[AttributeValue, int]:
    """Parse the value starting at ``pos`` (after '=' and spaces); return (value, end)."""
    if pos < len(text) and text[pos] == '"':
        chars = []
        opening = pos
        pos += 1
        while True:
            if pos >= len(text):
                raise _fail(text, opening, "a quoted value without its closing quote", 'a closing \'"\'')
            char = text[pos]
            if char == '"':
                if pos + 1 < len(text) and text[pos + 1] == '"':
                    chars.append('"')  # "" stands for one quote
                    pos += 2
                    continue
                pos += 1
                break
            chars.append(char)
            pos += 1
        after = _skip_space(text, pos)
        if after < len(text) and text[after] not in _VALUE_END:
            raise _fail(
                text,
                after,
                f"{text[after]!r} after a closing quote",
                "',', ';', '+' or the end (write a quote inside quotes as \"\")",
            )
        return "".join(chars), after
    start = pos
    while pos < len(text) and text[pos] not in _VALUE_END:
        pos += 1
    end = pos
    # Spaces before the separator are not part of the value; inner ones are.
    while end > start and text[end - 1] in _SPACE:
        end -= 1
    if end > start and text[start] == "#":
        return _parse_hex(text, start, end), pos
    return text[start:end], pos


def parse_name(text: str, *, oid_names: Mapping[str, str] | None = None) -> list[Rdn]:
    """Parse a Windows X.500 string the way CertStrToNameW does.

    Returns the RDNs in the order written, each a list of
    ``(dotted_oid, value)`` pairs in the order written. A value is ``str``,
    or ``bytes`` for a ``#hex`` value (the contents of an OCTET STRING).
    Raises X500Error for anything CertStrToName rejects.
    """
    if not isinstance(text, str):
        raise TypeError(f"an X.500 name must be a str, not {type(text).__name__}")
    # CertStrToNameW reads a NUL-terminated string, so .NET passing a string
    # with an embedded U+0000 hands Windows only the part before it [I].
    text = text.split("\x00", 1)[0]
    keys = _keys_for(oid_names)
    rdns: list[Rdn] = []
    current: Rdn = []
    pos = _skip_space(text, 0)
    if pos == len(text):
        return rdns  # "" and all-space strings are the empty name
    while True:
        key_start = pos
        while pos < len(text) and text[pos] not in _KEY_END:
            pos += 1
        key = text[key_start:pos]
        if not key:
            found = repr(text[pos]) if pos < len(text) else "the end"
            raise _fail(text, pos, f"{found} where an attribute key should start", _VALID_KEYS_HINT)
        pos = _skip_space(text, pos)
        if pos >= len(text) or text[pos] != "=":
            found = repr(text[pos]) if pos < len(text) else "the end"
            raise _fail(text, pos, f"{found} after the key {key!r}", "'=' between key and value")
        oid = _resolve_key(key, keys)
        if oid is None:
            raise _fail(text, key_start, f"unknown attribute key {key!r}", _VALID_KEYS_HINT)
        value, pos = _parse_value(text, _skip_space(text, pos + 1))
        current.append((oid, value))
        if pos >= len(text):
            rdns.append(current)
            return rdns
        separator = text[pos]
        pos = _skip_space(text, pos + 1)
        if separator == "+":
            continue  # the next attribute joins the same RDN
        rdns.append(current)
        current = []
        if pos >= len(text):
            return rdns  # one trailing ',' or ';' is accepted


# --------------------------------------------------------------------------
# Encoding (section 4, "Encoding choices")
# --------------------------------------------------------------------------

# The PrintableString repertoire from the CertStrToName docs.
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def _is_printable(text: str) -> bool:
    return all(c in _PRINTABLE for c in text)


def _string_tag(oid: str, value: str) -> int:
    """The ASN.1 string type CertStrToName picks for ``value`` under ``oid``."""
    if oid == _OID_EMAIL:
        if not value.isascii():
            raise X500Error(
                f"cannot encode E (email) value {value!r}: it must be IA5String (ASCII only)",
                text=value,
            )
        return _TAG_IA5
    if oid == _OID_C:
        if not _is_printable(value):
            raise X500Error(
                f"cannot encode C (country) value {value!r}: it must be a PrintableString "
                "(A-Z a-z 0-9 space ' ( ) + , - . / : = ?)",
                text=value,
            )
        return _TAG_PRINTABLE
    if oid == _OID_DC:
        # IA5String for DNS labels; UTF8String is the only other type the
        # table allows, used for anything non-ASCII.
        return _TAG_IA5 if value.isascii() else _TAG_UTF8
    # Windows' default order is PrintableString, then "Unicode" = BMPString.
    return _TAG_PRINTABLE if _is_printable(value) else _TAG_BMP


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, contents: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(contents)) + contents


def _encode_oid(oid: str) -> bytes:
    canonical = _normalize_oid(oid)
    if canonical is None:
        raise X500Error(f"cannot encode OID {oid!r}: expected a dotted OID such as 2.5.4.3", text=oid)
    arcs = [int(arc) for arc in canonical.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return _tlv(_TAG_OID, bytes(out))


def _encode_value(oid: str, value: AttributeValue) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return _tlv(_TAG_OCTET_STRING, bytes(value))
    tag = _string_tag(oid, value)
    try:
        if tag == _TAG_BMP:
            # Characters beyond U+FFFF become surrogate pairs, as in .NET's
            # UTF-16 strings; lone surrogates pass through unchanged.
            return _tlv(tag, value.encode("utf-16-be", "surrogatepass"))
        if tag == _TAG_UTF8:
            return _tlv(tag, value.encode("utf-8"))
        return _tlv(tag, value.encode("ascii"))
    except UnicodeEncodeError:
        raise X500Error(f"cannot encode value {value!r}: it contains an unpaired surrogate", text=value) from None


def encode_name(rdns: Sequence[Sequence[tuple[str, AttributeValue]]], reverse: bool = True) -> bytes:
    """Encode RDNs (as returned by :func:`parse_name`) to a DER Name.

    ``reverse=True`` is ``new X500DistinguishedName(s)``: the first written RDN
    becomes the last RDN in the DER, so ``render_name(..., reverse=True)``
    prints it first again. ``reverse=False`` keeps the written order
    (``X500DistinguishedNameFlags.None``). Attributes inside an RDN keep their
    order; whether Windows re-sorts a multi-valued RDN is unverified (section
    8.5). Raises X500Error for values Windows cannot encode (non-ASCII E,
    non-printable C, bad OIDs, empty RDNs).
    """
    sets = []
    for index, rdn in enumerate(rdns):
        if not rdn:
            raise X500Error(f"cannot encode RDN #{index}: it has no attributes")
        attributes = b"".join(
            _tlv(_TAG_SEQUENCE, _encode_oid(oid) + _encode_value(oid, value)) for oid, value in rdn
        )
        sets.append(_tlv(_TAG_SET, attributes))
    if reverse:
        sets.reverse()
    return _tlv(_TAG_SEQUENCE, b"".join(sets))


def exchange_normalize(part: str, *, oid_names: Mapping[str, str] | None = None) -> str:
    """Return what Exchange stores for an issuer or subject part.

    Exchange's SmtpX509Identifier keeps
    ``new X500DistinguishedName(part, X500DistinguishedNameFlags.None).Format(false)``:
    parsed, encoded in the written order, printed in DER order - the
    canonical Windows spelling in the order written. A string copied from
    ``$cert.Subject`` comes back unchanged. Raises X500Error when Windows
    would throw (unparseable, or not encodable).
    """
    der = encode_name(parse_name(part, oid_names=oid_names), reverse=False)
    return render_name(der, reverse=False, oid_names=oid_names)


# --------------------------------------------------------------------------
# cryptography bridge
# --------------------------------------------------------------------------


def cryptography_name(rdns: Sequence[Sequence[tuple[str, AttributeValue]]], reverse: bool = True) -> x509.Name:
    """Build a ``cryptography.x509.Name`` that encodes like :func:`encode_name`.

    Each attribute gets the ASN.1 string type Windows would choose, so a
    certificate minted with it renders back to the parsed string, e.g.
    ``cryptography_name(parse_name(s))`` as a subject prints as ``s``.
    ``reverse`` has the meaning it has in :func:`encode_name`. Two limits of
    cryptography apply: it DER-sorts the attributes of a multi-valued RDN
    (write them in that order to get them back verbatim), and it cannot
    carry ``#hex`` (bytes) values, which raise X500Error.
    """
    import warnings

    from cryptography import x509
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import ObjectIdentifier

    types = {
        _TAG_PRINTABLE: _ASN1Type.PrintableString,
        _TAG_IA5: _ASN1Type.IA5String,
        _TAG_UTF8: _ASN1Type.UTF8String,
        _TAG_BMP: _ASN1Type.BMPString,
    }
    ordered = list(reversed(rdns)) if reverse else list(rdns)
    result = []
    for rdn in ordered:
        attributes = []
        for oid, value in rdn:
            if isinstance(value, (bytes, bytearray)):
                raise X500Error(
                    f"cannot build a cryptography Name with the #hex value "
                    f"#{bytes(value).hex().upper()} under {oid}: use encode_name for OCTET STRING values"
                )
            canonical = _normalize_oid(oid)
            if canonical is None:
                raise X500Error(f"cannot encode OID {oid!r}: expected a dotted OID such as 2.5.4.3", text=oid)
            with warnings.catch_warnings():
                # cryptography warns about lengths RFC 5280 dislikes (CN over
                # 64, C not 2 characters); Windows imposes neither, and the
                # lab must mint exactly the names it is given.
                warnings.simplefilter("ignore")
                attributes.append(
                    x509.NameAttribute(
                        ObjectIdentifier(canonical), value, types[_string_tag(canonical, value)], _validate=False
                    )
                )
        try:
            result.append(x509.RelativeDistinguishedName(attributes))
        except ValueError as exc:  # empty or duplicate attributes
            raise X500Error(f"cannot build a cryptography RDN from {rdn!r}: {exc}") from None
    return x509.Name(result)
