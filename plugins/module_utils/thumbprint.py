# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A certificate thumbprint as Exchange prints it, from whatever a person pasted: the one rule of the collection.

Exchange identifies a certificate by its SHA-1 thumbprint, 40 upper-case hexadecimal digits
(``Get-ExchangeCertificate -Thumbprint``, ``Enable-ExchangeCertificate -Thumbprint``; Microsoft
Learn, "Get-ExchangeCertificate"). People copy it from places that print it differently: the
Windows certificate dialog (certlm.msc, Details tab) shows pairs separated by spaces and copies an
invisible U+200E LEFT-TO-RIGHT MARK in front; OpenSSL (``openssl x509 -fingerprint -sha1``) and
browsers print pairs separated by colons; PowerShell prints upper case, other tools lower case.
Every one of these is accepted, everywhere a thumbprint is taken: white space, colons and format
characters (Unicode category Cf: U+200E, U+200F, U+FEFF, U+200B...) are dropped, case is ignored.

It ships to hosts (``smtp_tls_probe`` runs there): standard library only.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["EXAMPLE", "ThumbprintError", "is_thumbprint", "parse_thumbprint"]

EXAMPLE = "3B5E4A2C9D8F7E6A1B0C2D3E4F5A6B7C8D9E0F1A"
_HEX40 = re.compile(r"[0-9A-F]{40}\Z")


class ThumbprintError(ValueError):
    """A value given as a thumbprint is not one; the message names the option and a valid example."""


def parse_thumbprint(value: object, option: str, alternative: str = "") -> str:
    """``value`` as 40 upper-case hexadecimal digits, or ThumbprintError naming ``option``.

    ``alternative`` is what else the option accepts, worded for the message (``"'auto'"``); the
    caller handles that value before asking for a thumbprint.
    """
    text = value if isinstance(value, str) else ""
    digits = "".join(c for c in text if not (c.isspace() or c == ":" or unicodedata.category(c) == "Cf")).upper()
    if not _HEX40.match(digits):
        either = f"{alternative} or " if alternative else ""
        raise ThumbprintError(
            f"{option} must be {either}a certificate thumbprint: 40 hexadecimal digits (SHA-1), any case, spaces or "
            f"colons between them allowed, for example {EXAMPLE!r} or {_pairs(EXAMPLE)!r}; got {value!r}"
        )
    return digits


def is_thumbprint(value: object) -> bool:
    """Whether ``value`` already is a thumbprint as the collection writes it (40 hexadecimal digits, no separator)."""
    return isinstance(value, str) and _HEX40.match(value.upper()) is not None


def _pairs(digits: str) -> str:
    return ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))
