# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small DER reader for X.500 names and certificates (``x500``'s rendering reads with it).

Pure standard library; import the public names from ``x500``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Tuple

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
