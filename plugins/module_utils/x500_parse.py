# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``CertStrToNameW``: a Windows X.500 string parsed as Windows parses it (section 4 of ``docs/x500-names.md``).

Pure standard library; import the public names from ``x500``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_keys import AttributeValue, Rdn, X500Error, _ascii_upper, _keys_for
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_render import _EDGE_SPACE

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
