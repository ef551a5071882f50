# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exchange enums by name, by integer and by integer text: one decoder per enum, the same names out.

The pairs are serialized values from Microsoft's CSS-Exchange HealthChecker test
data (a ToString and its I32; docs/exchange-behaviour.md#enums), not values the lab produced.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.exchange_enums import (
    ALLOWED_SERVICES,
    AUTH_MECHANISMS,
    CERTIFICATE_AUTHORITY_TYPE,
    CERTIFICATE_STATUS,
    PERMISSION_GROUPS,
    SERVER_ROLE,
    TLS_AUTH_LEVEL,
    EnumValueError,
)

# (enum, ToString as serialized, its I32) from the CSS-Exchange samples (docs/exchange-behaviour.md#enums).
OBSERVED_FLAGS = [
    (ALLOWED_SERVICES, "SMTP", 16),
    (ALLOWED_SERVICES, "IMAP, POP, IIS, SMTP", 27),
    (ALLOWED_SERVICES, "IMAP, POP, IIS", 11),
    (ALLOWED_SERVICES, "IIS, SMTP", 24),
    (ALLOWED_SERVICES, "IMAP, IIS, SMTP", 25),
    (ALLOWED_SERVICES, "IMAP, SMTP", 17),
    (AUTH_MECHANISMS, "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer", 31),
    (AUTH_MECHANISMS, "Tls, Integrated, BasicAuth, BasicAuthRequireTLS", 15),
    (PERMISSION_GROUPS, "ExchangeUsers, ExchangeServers, ExchangeLegacyServers", 14),
    (PERMISSION_GROUPS, "ExchangeUsers, ExchangeServers", 6),
    (PERMISSION_GROUPS, "AnonymousUsers, ExchangeServers, ExchangeLegacyServers", 13),
    (PERMISSION_GROUPS, "ExchangeServers", 4),
    (SERVER_ROLE, "Mailbox, ClientAccess", 6),
    (SERVER_ROLE, "Mailbox", 2),
    (SERVER_ROLE, "Edge", 64),
    (SERVER_ROLE, "HubTransport", 32),
    (SERVER_ROLE, "FrontendTransport", 16384),
]
OBSERVED_SINGLE = [
    (CERTIFICATE_STATUS, "Valid", 1),
    (CERTIFICATE_AUTHORITY_TYPE, "None", 0),
    (CERTIFICATE_AUTHORITY_TYPE, "Registry", 3),
    (TLS_AUTH_LEVEL, "CertificateValidation", 2),
]


def names(text: str) -> list:
    return [part.strip() for part in text.split(",")]


@pytest.mark.parametrize("enum, text, number", OBSERVED_FLAGS)
def test_flags_by_name_by_integer_and_by_integer_text_decode_alike(enum, text, number) -> None:
    expected = names(text)
    assert enum.names(text, "P", "x") == expected
    assert enum.names(number, "P", "x") == expected
    assert enum.names(str(number), "P", "x") == expected
    assert enum.names(f" {number} ", "P", "x") == expected


@pytest.mark.parametrize("enum, text, number", OBSERVED_SINGLE)
def test_single_values_by_name_by_integer_and_by_integer_text_decode_alike(enum, text, number) -> None:
    assert enum.name(text, "P", "x") == text
    assert enum.name(number, "P", "x") == text
    assert enum.name(str(number), "P", "x") == text


@pytest.mark.parametrize("value", [0, "0", "None", "none", None, []])
def test_zero_none_and_null_flags_are_no_names(value) -> None:
    assert ALLOWED_SERVICES.names(value, "Services", "x") == []


def test_names_are_matched_ignoring_case_and_spelt_as_exchange_does() -> None:
    assert ALLOWED_SERVICES.names("iis, smtp", "Services", "x") == ["IIS", "SMTP"]
    assert CERTIFICATE_STATUS.name("dateinvalid", "Status", "x") == "DateInvalid"


def test_a_flattened_collection_of_names_or_numbers_is_accepted() -> None:
    assert ALLOWED_SERVICES.names(["IIS", "SMTP"], "Services", "x") == ["IIS", "SMTP"]
    assert ALLOWED_SERVICES.names([8, 16], "Services", "x") == ["IIS", "SMTP"]


def test_unknown_bits_are_kept_visible_beside_the_known_names() -> None:
    # 128 is no AllowedServices member: SMTP is still seen, and so is the rest.
    assert ALLOWED_SERVICES.names(16 + 128, "Services", "x") == ["SMTP", "unknown(128)"]
    assert AUTH_MECHANISMS.names(1 + 64 + 256, "AuthMechanism", "x") == ["Tls", "unknown(320)"]


def test_an_integer_no_single_member_has_is_marked_unknown() -> None:
    assert CERTIFICATE_STATUS.name(9, "Status", "x") == "unknown(9)"
    # TlsAuthLevel has no 3: DomainValidation is 4.
    assert TLS_AUTH_LEVEL.name(3, "TlsAuthLevel", "x") == "unknown(3)"
    assert TLS_AUTH_LEVEL.name(4, "TlsAuthLevel", "x") == "DomainValidation"


def test_a_name_this_table_lacks_is_kept_as_exchange_gave_it() -> None:
    # A newer build may add a member; its name is still a name, not garbage.
    assert ALLOWED_SERVICES.names("IIS, SMTP, Quantum", "Services", "x") == ["IIS", "SMTP", "Quantum"]


def test_null_and_empty_single_values_are_none() -> None:
    assert CERTIFICATE_STATUS.name(None, "Status", "x") is None
    assert CERTIFICATE_STATUS.name("  ", "Status", "x") is None


@pytest.mark.parametrize("value", ["IIS; SMTP", "27abc", "-", {"value": 27}, 2.5, True, "System.Object[]", -16])
def test_garbage_is_an_error_naming_the_property_the_object_and_the_valid_forms(value) -> None:
    with pytest.raises(EnumValueError) as info:
        ALLOWED_SERVICES.names(value, "Services", "certificate ABC")
    text = str(info.value)
    assert text.startswith(f"certificate ABC has Services = {value!r}, which is neither names of AllowedServices")
    assert "'IIS, SMTP' or 24" in text and "integer value" in text


def test_several_names_for_a_single_value_enum_is_an_error() -> None:
    with pytest.raises(EnumValueError, match=r"Status = 'Valid, Revoked', which is neither a name of CertificateStatus"):
        CERTIFICATE_STATUS.name("Valid, Revoked", "Status", "certificate ABC")
