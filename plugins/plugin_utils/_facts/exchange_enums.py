# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exchange enum values as they really arrive: by name, or as an integer.

Why this exists: the payload flattens an enum with ``ToString()``, which gives
its name (``"Valid"``) or, for a ``[Flags]`` enum, its names joined in
ascending bit order (``"IMAP, POP, IIS, SMTP"``). When a session cannot
rehydrate Exchange's types, a deserialized enum may reach the payload as its
bare integer (``27``), or as that integer's text (``"27"``). Every decision
must come out the same in both forms, so each property is decoded here, once,
to the names the facts use.

A value's bits that no known member covers are kept as a visible
``"unknown(<bits>)"`` marker (never dropped), so a check such as "is SMTP
enabled" still sees the known bits and a reader sees that something else was
set. A value that is neither names nor an integer raises
:class:`EnumValueError`, naming the property and the valid forms.

Values, with their sources:

* AllowedServices (certificate ``Services``): IMAP 1, POP 2, IIS 8, SMTP 16
  are verified from Microsoft's serialized samples (CSS-Exchange HealthChecker
  test data: ``IMAP, POP, IIS, SMTP`` = 27, ``SMTP`` = 16); UM 4, Federation
  32 and UMCallRouter 64 follow the documented names' bit order (secondary).
* AuthMechanisms (receive ``AuthMechanism``): Tls 1, Integrated 2, BasicAuth 4,
  BasicAuthRequireTLS 8, ExchangeServer 16 verified from the samples
  (31 and 15); ExternalAuthoritative 32 (secondary).
* PermissionGroups: AnonymousUsers 1, ExchangeUsers 2, ExchangeServers 4,
  ExchangeLegacyServers 8 verified from the samples (2, 4, 6, 13, 14);
  Partners 16 and Custom 32 (secondary).
* ServerRole (``ServerRole`` and a receive connector's ``TransportRole``):
  Mailbox 2, ClientAccess 4, HubTransport 32, Edge 64, FrontendTransport
  16384 verified from the samples; Cafe 1 and UnifiedMessaging 16 (secondary).
* CertificateStatus: Valid 1 verified; the rest in declaration order of the
  documented names (secondary). Microsoft advises reading names, not numbers.
* CertificateAuthorityType (``RootCAType``): None 0 and Registry 3 verified;
  ThirdParty 1, Enterprise 2, GroupPolicy 4, Unknown 5 (secondary).
* TlsAuthLevel: CertificateValidation 2 verified; EncryptionOnly 1 and
  DomainValidation 4 (secondary; note 4, not 3).

Pure Python: no Ansible imports.
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

__all__ = [
    "ALLOWED_SERVICES", "AUTH_MECHANISMS", "CERTIFICATE_AUTHORITY_TYPE", "CERTIFICATE_STATUS", "EnumValueError",
    "ExchangeEnum", "PERMISSION_GROUPS", "SERVER_ROLE", "TLS_AUTH_LEVEL",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INTEGER = re.compile(r"^[+-]?\d+$")


class EnumValueError(ValueError):
    """A value that is neither the enum's names nor an integer."""


def unknown_marker(bits: int) -> str:
    """The visible stand-in for bits (or a value) no known member names."""
    return f"unknown({bits})"


class ExchangeEnum:
    """One Exchange enum: its .NET type, its members and whether it is a [Flags] enum."""

    def __init__(self, type_name: str, members: Sequence[Tuple[str, int]], flags: bool, example: str):
        self.type_name = type_name
        self.members = tuple(members)
        self.flags = flags
        self.example = example
        self._by_lower = {name.lower(): name for name, _value in self.members}
        self._by_value = {value: name for name, value in self.members}

    # -- integers ---------------------------------------------------------------

    def _from_integer(self, number: int) -> List[str]:
        if not self.flags:
            name = self._by_value.get(number)
            return [name if name is not None else unknown_marker(number)]
        if number == 0:
            return []
        names, left = [], number
        for name, value in sorted(self.members, key=lambda member: member[1]):
            if value and number & value == value and left & value:
                names.append(name)
                left &= ~value
        if left:
            names.append(unknown_marker(left))
        return names

    # -- names ------------------------------------------------------------------

    def _from_names(self, text: str) -> Optional[List[str]]:
        parts = [part.strip() for part in text.split(",")]
        if not all(_NAME.match(part) for part in parts) or (len(parts) > 1 and not self.flags):
            return None
        # A name Exchange knows and this table does not (a newer build) is kept as given.
        names = [self._by_lower.get(part.lower(), part) for part in parts]
        if self.flags:
            zero = self._by_value.get(0, "None")
            names = [name for name in names if name != zero]
        return names

    # -- any form ---------------------------------------------------------------

    def _decode_one(self, value: object) -> Optional[List[str]]:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int):
            return self._from_integer(value) if value >= 0 or not self.flags else None
        if isinstance(value, str):
            text = value.strip()
            if _INTEGER.match(text):
                return self._decode_one(int(text))
            return self._from_names(text) if text else None
        return None

    def _error(self, prop: str, value: object, where: str) -> EnumValueError:
        form = "names" if self.flags else "a name"
        return EnumValueError(
            f"{where} has {prop} = {value!r}, which is neither {form} of {self.type_name} (such as "
            f"{self.example}) nor its integer value; the session or the payload returned something this module "
            "cannot read"
        )

    def names(self, value: object, prop: str, where: str) -> List[str]:
        """The set names of a [Flags] value (a name text, an integer, its text, or a list of those); [] for None/0."""
        if value is None:
            return []
        items = value if isinstance(value, (list, tuple)) else [value]
        names: List[str] = []
        for item in items:
            if item is None:
                continue
            decoded = self._decode_one(item)
            if decoded is None:
                raise self._error(prop, value, where)
            names.extend(name for name in decoded if name not in names)
        return names

    def name(self, value: object, prop: str, where: str) -> Optional[str]:
        """The name of a single value; None for null or empty text; ``unknown(n)`` for an integer no member has."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        decoded = self._decode_one(value)
        if decoded is None or len(decoded) != 1:
            raise self._error(prop, value, where)
        return decoded[0]


ALLOWED_SERVICES = ExchangeEnum(
    "AllowedServices",
    (("None", 0), ("IMAP", 1), ("POP", 2), ("UM", 4), ("IIS", 8), ("SMTP", 16), ("Federation", 32),
     ("UMCallRouter", 64)),
    flags=True, example="'IIS, SMTP' or 24",
)
AUTH_MECHANISMS = ExchangeEnum(
    "AuthMechanisms",
    (("None", 0), ("Tls", 1), ("Integrated", 2), ("BasicAuth", 4), ("BasicAuthRequireTLS", 8),
     ("ExchangeServer", 16), ("ExternalAuthoritative", 32)),
    flags=True, example="'Tls, Integrated' or 3",
)
PERMISSION_GROUPS = ExchangeEnum(
    "PermissionGroups",
    (("None", 0), ("AnonymousUsers", 1), ("ExchangeUsers", 2), ("ExchangeServers", 4),
     ("ExchangeLegacyServers", 8), ("Partners", 16), ("Custom", 32)),
    flags=True, example="'AnonymousUsers, ExchangeServers' or 5",
)
SERVER_ROLE = ExchangeEnum(
    "ServerRole",
    (("None", 0), ("Cafe", 1), ("Mailbox", 2), ("ClientAccess", 4), ("UnifiedMessaging", 16),
     ("HubTransport", 32), ("Edge", 64), ("FrontendTransport", 16384)),
    flags=True, example="'Mailbox' or 2",
)
CERTIFICATE_STATUS = ExchangeEnum(
    "CertificateStatus",
    (("Unknown", 0), ("Valid", 1), ("Revoked", 2), ("DateInvalid", 3), ("Untrusted", 4), ("Invalid", 5),
     ("RevocationCheckFailure", 6), ("PendingRequest", 7)),
    flags=False, example="'Valid' or 1",
)
CERTIFICATE_AUTHORITY_TYPE = ExchangeEnum(
    "CertificateAuthorityType",
    (("None", 0), ("ThirdParty", 1), ("Enterprise", 2), ("Registry", 3), ("GroupPolicy", 4), ("Unknown", 5)),
    flags=False, example="'ThirdParty' or 1",
)
TLS_AUTH_LEVEL = ExchangeEnum(
    "TlsAuthLevel",
    (("EncryptionOnly", 1), ("CertificateValidation", 2), ("DomainValidation", 4)),
    flags=False, example="'DomainValidation' or 4",
)
