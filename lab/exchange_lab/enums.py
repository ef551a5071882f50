"""Exchange enum properties as integers, for servers with ``enum_form: number``.

A session that cannot rehydrate Exchange's types may hand a client an enum
as its bare integer instead of its name (lab/docs/scenario-format.md, Additions;
docs/exchange-behaviour.md#enums: every enum travels as its name in ToString and
its value in an I32). With ``enum_form: number`` the lab returns
every Exchange enum property of its objects as that integer, so the collection
must decode both forms.

The values are the lab's own table, kept apart from the collection's decoder
on purpose: a lab that imported the collection's table could only agree with it.
Sources: the CSS-Exchange serialized samples (verified: AllowedServices IMAP 1,
POP 2, IIS 8, SMTP 16; AuthMechanisms 1 to 16; PermissionGroups 1 to 8;
ServerRole Mailbox 2, ClientAccess 4, HubTransport 32, Edge 64,
FrontendTransport 16384; CertificateStatus Valid 1; CertificateAuthorityType
None 0, Registry 3; TlsAuthLevel CertificateValidation 2). The other members
are secondary (documented names in declaration order): treat them as likely.
"""

from __future__ import annotations

from typing import Any

from .model import AUTH_BITS, SERVICE_BITS

PERMISSION_BITS = {"AnonymousUsers": 1, "ExchangeUsers": 2, "ExchangeServers": 4, "ExchangeLegacyServers": 8,
                   "Partners": 16, "Custom": 32}
SERVER_ROLE_BITS = {"Cafe": 1, "Mailbox": 2, "ClientAccess": 4, "UnifiedMessaging": 16, "HubTransport": 32,
                    "Edge": 64, "FrontendTransport": 16384}
CERTIFICATE_STATUS = {"Unknown": 0, "Valid": 1, "Revoked": 2, "DateInvalid": 3, "Untrusted": 4, "Invalid": 5,
                      "RevocationCheckFailure": 6, "PendingRequest": 7}
CERTIFICATE_AUTHORITY_TYPE = {"None": 0, "ThirdParty": 1, "Enterprise": 2, "Registry": 3, "GroupPolicy": 4,
                              "Unknown": 5}
# 4, not 3: DomainValidation is the third member but has its own value.
TLS_AUTH_LEVEL = {"EncryptionOnly": 1, "CertificateValidation": 2, "DomainValidation": 4}

# The object property -> (its values, whether it is a [Flags] enum). The lab's objects hold
# each as the payload flattens a name: flags joined with ", ", "None" for zero.
ENUM_PROPERTIES: dict[str, tuple[dict[str, int], bool]] = {
    "Services": (SERVICE_BITS, True),
    "AuthMechanism": (AUTH_BITS, True),
    "PermissionGroups": (PERMISSION_BITS, True),
    "ServerRole": (SERVER_ROLE_BITS, True),
    "TransportRole": (SERVER_ROLE_BITS, True),
    "Status": (CERTIFICATE_STATUS, False),
    "RootCAType": (CERTIFICATE_AUTHORITY_TYPE, False),
    "TlsAuthLevel": (TLS_AUTH_LEVEL, False),
}


def to_number(prop: str, value: Any) -> Any:
    """The integer of an enum property's name text ("IIS, SMTP" -> 24); null stays null."""
    if value is None:
        return None
    values, flags = ENUM_PROPERTIES[prop]
    if not flags:
        return values[value]
    return sum(values[name.strip()] for name in str(value).split(",") if name.strip() != "None")


def in_form(objects: list[dict], form: str) -> list[dict]:
    """The cmdlet's output objects with their enum properties in the session's ``enum_form``."""
    if form != "number":
        return objects
    return [{k: to_number(k, v) if k in ENUM_PROPERTIES else v for k, v in obj.items()} for obj in objects]
