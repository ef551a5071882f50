# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``CertNameToStrW``: a DER Name as Windows prints it (section 2 of ``docs/x500-names.md``).

Pure standard library; import the public names from ``x500``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_der import (
    _EIGHT_BIT_TAGS,
    _TAG_BMP,
    _TAG_OCTET_STRING,
    _TAG_SEQUENCE,
    _TAG_T61,
    _TAG_UNIVERSAL,
    _TAG_UTF8,
    _children,
    _decode_name,
    _DerError,
    _read_tlv,
)
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_keys import X500Error, _names_for

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
