# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pieces every part of ``x500`` shares: the RDN key table (section 2.2 of
``docs/x500-names.md``), the value types and ``X500Error``.

Pure standard library; import the public names from ``x500``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import List, Tuple, Union

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
