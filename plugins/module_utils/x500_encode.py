# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names encoded as ``CertStrToNameW`` encodes them (section 4 of ``docs/x500-names.md``, "Encoding
choices"), to DER or to a ``cryptography`` Name.

Pure standard library; ``cryptography`` is imported only inside :func:`cryptography_name`.
Import the public names from ``x500``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_der import (
    _TAG_BMP,
    _TAG_IA5,
    _TAG_OCTET_STRING,
    _TAG_OID,
    _TAG_PRINTABLE,
    _TAG_SEQUENCE,
    _TAG_SET,
    _TAG_UTF8,
)
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_keys import _OID_C, _OID_DC, _OID_EMAIL, AttributeValue, X500Error
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_parse import _normalize_oid

if TYPE_CHECKING:  # pragma: no cover - typing only
    from cryptography import x509

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
