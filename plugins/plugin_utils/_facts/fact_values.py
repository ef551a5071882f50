# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the read batch's flattened values become typed facts (see transport_facts.py): text, lists, enums by name
or number, booleans, ISO 8601 dates, thumbprints, and whether an ADObjectId names a server (``same_server``).
Pure Python: no Ansible imports.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums

UNKNOWN = "unknown"
_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$", re.I
)
_DN_FIRST_CN = re.compile(r"^\s*CN\s*=\s*(?P<name>[^,]*?)\s*(?:,|$)", re.I)


class FactsError(ValueError):
    """The batch result cannot describe the requested server; the message says what to do."""


# --------------------------------------------------------------------------
# Value helpers
# --------------------------------------------------------------------------


def _text(value: object) -> Optional[str]:
    """A string, or None for null and empty."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _as_list(value: object) -> List[Any]:
    """A flattened collection: a list, a lone scalar as one element, null as []."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [item for item in value if item is not None]
    return [value]


def _flags(enum: exchange_enums.ExchangeEnum, obj: dict, prop: str, where: str) -> List[str]:
    """A [Flags] property as names ("Tls, Integrated", 3 or "3" -> ["Tls", "Integrated"]); "None", 0, null -> []."""
    try:
        return enum.names(obj.get(prop), prop, where)
    except exchange_enums.EnumValueError as exc:
        raise FactsError(str(exc)) from None


def _enum_name(enum: exchange_enums.ExchangeEnum, obj: dict, prop: str, where: str) -> Optional[str]:
    """A single-valued enum property as its name ("Valid", 1 or "1" -> "Valid"); None when null."""
    try:
        return enum.name(obj.get(prop), prop, where)
    except exchange_enums.EnumValueError as exc:
        raise FactsError(str(exc)) from None


def _bool(value: object, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _parse_date(value: object) -> Optional[dt.datetime]:
    """An aware UTC datetime from the payload's ISO 8601 text (no zone means UTC), or None."""
    match = _ISO_DATE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None
    offset = dt.timedelta(0)
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if zone[0] == "-" else offset
    return (stamp - offset).replace(tzinfo=dt.timezone.utc)


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return None if value is None else _as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _thumbprint(value: object) -> Optional[str]:
    text = _text(value)
    return None if text is None else re.sub(r"\s+", "", text).upper()


def _first_label(name: Optional[str]) -> Optional[str]:
    return name.split(".", 1)[0] if name else None


def same_server(reference: object, name: Optional[str], fqdn: Optional[str]) -> bool:
    """Whether an ADObjectId's ToString() (``reference``) names the server ``name``/``fqdn``.

    Matches the name or the FQDN ignoring case, or a distinguished name whose
    first RDN is ``CN=<name>`` (``CN=EX01,CN=Servers,...``).
    """
    ref = _text(reference)
    if ref is None:
        return False
    ref = ref.strip().lower()
    candidates = {n.strip().lower() for n in (name, fqdn) if n}
    if ref in candidates:
        return True
    match = _DN_FIRST_CN.match(ref)
    return bool(match and name and match.group("name") == name.strip().lower())
