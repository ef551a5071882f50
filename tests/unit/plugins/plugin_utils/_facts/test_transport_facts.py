# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_facts/transport_facts.py: the read batch and the facts built from it.

The exchange_command results below are written by hand in the shape the
payload returns them (and exchange_lab's cmdlets produce them): dates as UTC
ISO 8601 strings, flags as "IIS, SMTP", collections as lists, ADObjectIds as
their ToString(), RawData as base64.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.transport_facts import (
    FactsError,
    parse_read,
    read_steps,
    same_server,
)

from ..facts_factories import NOW
from ..facts_factories import receive_connector as receive_connector_facts
from ..facts_factories import send_connector as send_connector_facts

LE_ISSUER = "CN=R10, O=Let's Encrypt, C=US"
CONTOSO_SUBJECT = "CN=mail.contoso.com, O=Contoso"
CONTOSO_NAME = f"<I>{LE_ISSUER}<S>{CONTOSO_SUBJECT}"
CA_ISSUER = "CN=Contoso Issuing CA, O=Contoso, C=US"
THIRD_PARTY = "0F1E2D3C4B5A69788796A5B4C3D2E1F00112233A"
SELF_SIGNED = "9F8E7D6C5B4A39281706F5E4D3C2B1A098765432"
OLD = "11223344556677889900AABBCCDDEEFF00112233"
SERVERS_DN = "CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso"


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


def make_der(subject, issuer, sans=(), not_before=None, not_after=None):
    """A real DER certificate whose .Subject/.Issuer print on Windows as given."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x500.cryptography_name(x500.parse_name(subject)))
        .issuer_name(x500.cryptography_name(x500.parse_name(issuer)))
        .public_key(key.public_key())
        .serial_number(0x5A17C0FFEE)
        .not_valid_before(not_before or dt.datetime(2026, 9, 1, 8, 30, tzinfo=dt.timezone.utc))
        .not_valid_after(not_after or dt.datetime(2026, 11, 30, 8, 29, 59, tzinfo=dt.timezone.utc))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def contoso_der():
    return make_der(CONTOSO_SUBJECT, CA_ISSUER, sans=("mail.contoso.com", "autodiscover.contoso.com"))


def b64(der):
    return base64.b64encode(der).decode("ascii")


def step(index, step_id, cmdlet, objects=(), status="ok", error=None, error_id=None):
    return {
        "index": index,
        "id": step_id,
        "cmdlet": cmdlet,
        "status": status,
        "objects": list(objects),
        "warnings": [],
        "error": error,
        "error_id": error_id,
    }


def certificate(**overrides):
    obj = {
        "Thumbprint": THIRD_PARTY,
        "Subject": CONTOSO_SUBJECT,
        "Issuer": LE_ISSUER,
        "NotBefore": "2026-09-01T08:30:00Z",
        "NotAfter": "2026-11-30T08:29:59Z",
        "Services": "IIS, SMTP",
        "Status": "Valid",
        "HasPrivateKey": True,
        "IsSelfSigned": False,
        "RootCAType": "ThirdParty",
        "CertificateDomains": ["mail.contoso.com", "autodiscover.contoso.com"],
        "FriendlyName": "Contoso 2026",
        "RawData": None,
    }
    obj.update(overrides)
    return obj


def receive_connector(name, server="EX01", **overrides):
    obj = {
        "Identity": f"{server}\\{name}",
        "Name": name,
        "Server": server,
        "TransportRole": "FrontendTransport",
        "Bindings": ["[::]:25", "0.0.0.0:25"],
        "Fqdn": "mail.contoso.com",
        "AuthMechanism": "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer",
        "PermissionGroups": "AnonymousUsers, ExchangeServers, ExchangeLegacyServers",
        "TlsCertificateName": CONTOSO_NAME,
        "TlsDomainCapabilities": ["mail.protection.outlook.com:AcceptCloudServicesMail"],
        "RequireTLS": False,
        "Enabled": True,
        "RemoteIPRanges": ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"],
    }
    obj.update(overrides)
    return obj


def send_connector(name, **overrides):
    obj = {
        "Identity": name,
        "Name": name,
        "AddressSpaces": ["smtp:contoso.mail.onmicrosoft.com;1"],
        "SourceTransportServers": ["EX01", "EX02"],
        "SmartHosts": [],
        "Fqdn": "mail.contoso.com",
        "TlsCertificateName": CONTOSO_NAME,
        "TlsAuthLevel": "DomainValidation",
        "TlsDomain": "mail.protection.outlook.com",
        "RequireTLS": True,
        "CloudServicesMailEnabled": True,
        "Enabled": True,
    }
    obj.update(overrides)
    return obj


def event(event_id, provider, time_created, level="Error", message="..."):
    return {
        "Id": event_id,
        "ProviderName": provider,
        "LevelDisplayName": level,
        "TimeCreated": time_created,
        "Message": message,
    }


STALE_12014 = (
    "Microsoft Exchange could not find a certificate that contains the domain name "
    f"{CONTOSO_NAME} in the personal store on the local computer. Therefore, it is unable to support the STARTTLS "
    "SMTP verb for the connector Default Frontend EX01 with a FQDN parameter of " + CONTOSO_NAME + "."
)

BASE_RESULT = {
    "changed": False,
    "session": "remote",
    "computer_name": "EX01",
    "utc_now": NOW,
    "stop": None,
    "steps": [
        step(
            0,
            "server",
            "Get-ExchangeServer",
            [
                {
                    "Name": "EX01",
                    "Fqdn": "EX01.contoso.com",
                    "ServerRole": "Mailbox",
                    "IsEdgeServer": False,
                    "AdminDisplayVersion": "Version 15.2 (Build 1544.4)",
                    "Edition": "Standard",
                }
            ],
        ),
        step(
            1,
            "certificates",
            "Get-ExchangeCertificate",
            [
                certificate(),
                certificate(
                    Thumbprint="9f 8e 7d 6c 5b 4a 39 28 17 06 f5 e4 d3 c2 b1 a0 98 76 54 32",
                    Subject="CN=EX01",
                    Issuer="CN=EX01",
                    NotBefore="2024-03-01T10:00:00Z",
                    NotAfter="2029-03-01T10:00:00Z",
                    Services="IMAP, POP, IIS, SMTP",
                    IsSelfSigned=True,
                    RootCAType="Registry",
                    CertificateDomains=["EX01", "EX01.contoso.com"],
                    FriendlyName="Microsoft Exchange",
                ),
                certificate(
                    Thumbprint=OLD,
                    NotBefore="2025-11-01T00:00:00Z",
                    NotAfter="2026-11-01T00:00:00Z",
                    Services="None",
                    Status="DateInvalid",
                    FriendlyName="",
                ),
            ],
        ),
        step(
            2,
            "receive_connectors",
            "Get-ReceiveConnector",
            [
                receive_connector("Default Frontend EX01"),
                receive_connector(
                    "Client Frontend EX01",
                    Bindings=["[::]:587", "0.0.0.0:587"],
                    Fqdn="",
                    AuthMechanism="Tls, Integrated, BasicAuth, BasicAuthRequireTLS",
                    PermissionGroups="ExchangeUsers",
                    TlsCertificateName=None,
                    TlsDomainCapabilities=[],
                    Enabled=None,
                ),
                receive_connector(
                    "Default EX01",
                    TransportRole="HubTransport",
                    Bindings=["0.0.0.0:2525", "[::]:2525"],
                    AuthMechanism="None",
                    PermissionGroups="None",
                    TlsCertificateName=None,
                    TlsDomainCapabilities=[],
                ),
                receive_connector("Default Frontend EX02", server="EX02"),
            ],
        ),
        step(
            3,
            "send_connectors",
            "Get-SendConnector",
            [
                send_connector("Outbound to Office 365 - 6f1c2a4e-91a3-4c0b-b8a4-3b1f2e6c9d10"),
                send_connector(
                    "Internet",
                    AddressSpaces=["SMTP:*;1"],
                    SourceTransportServers=["EX02"],
                    TlsCertificateName=None,
                    TlsAuthLevel=None,
                    TlsDomain=None,
                    RequireTLS=False,
                    CloudServicesMailEnabled=False,
                ),
            ],
        ),
        step(
            4,
            "transport_service",
            "Get-TransportService",
            [{"Name": "EX01", "InternalTransportCertificateThumbprint": SELF_SIGNED}],
        ),
        step(
            5,
            "hybrid_configuration",
            "Get-HybridConfiguration",
            [
                {
                    "TlsCertificateName": CONTOSO_NAME,
                    "ReceivingTransportServers": ["EX01"],
                    "SendingTransportServers": ["EX01"],
                    "EdgeTransportServers": [],
                    "Features": ["OnlineArchive", "FreeBusy", "MailTips", "MessageTracking", "SecureMail", "Photos"],
                }
            ],
        ),
        step(
            6,
            "events",
            "Get-WinEvent",
            [
                event(12014, "MSExchangeFrontEndTransport", "2026-11-27T09:00:00Z", message=STALE_12014),
                event(12018, "MSExchangeTransport", "2026-11-27T11:15:00Z", level="Warning"),
                event(12014, "Contoso.SmtpRelay", "2026-11-27T11:30:00Z"),
                event(12016, "MSExchangeTransport", "2026-11-26T20:00:00Z"),
            ],
        ),
    ],
}


def make_result(**step_changes):
    """A fresh copy of BASE_RESULT; step_changes maps a step id to fields to replace (None drops the step)."""
    result = copy.deepcopy(BASE_RESULT)
    steps = []
    for entry in result["steps"]:
        change = step_changes.get(entry["id"], {})
        if change is None:
            continue
        entry.update(change)
        steps.append(entry)
    result["steps"] = steps
    return result


def with_objects(step_id, *objects):
    return make_result(**{step_id: {"objects": list(objects)}})


def facts_of(result=None, server="EX01", **kwargs):
    return parse_read(result if result is not None else make_result(), server, **kwargs)


def by_thumbprint(facts):
    return {c["thumbprint"]: c for c in facts["certificates"]}


# --------------------------------------------------------------------------
# read_steps
# --------------------------------------------------------------------------


def test_read_steps_is_one_batch_in_order() -> None:
    steps = read_steps("EX01")
    assert [(s["id"], s["cmdlet"], s["parameters"]) for s in steps[:6]] == [
        ("server", "Get-ExchangeServer", {"Identity": "EX01"}),
        ("certificates", "Get-ExchangeCertificate", {"Server": "EX01"}),
        ("receive_connectors", "Get-ReceiveConnector", {"Server": "EX01"}),
        ("send_connectors", "Get-SendConnector", {}),
        ("transport_service", "Get-TransportService", {"Identity": "EX01"}),
        ("hybrid_configuration", "Get-HybridConfiguration", {}),
    ]
    assert steps[6]["id"] == "events" and steps[6]["cmdlet"] == "Get-WinEvent"
    assert len(steps) == 7


def test_read_steps_properties() -> None:
    props = {s["id"]: s["properties"] for s in read_steps("EX01")}
    assert props["server"] == ["Name", "Fqdn", "ServerRole", "IsEdgeServer", "AdminDisplayVersion", "Edition", "Site"]
    assert props["certificates"] == [
        "Thumbprint", "Subject", "Issuer", "NotBefore", "NotAfter", "Services", "Status", "HasPrivateKey",
        "IsSelfSigned", "RootCAType", "CertificateDomains", "FriendlyName", "PublicKeySize", "RawData",
    ]
    assert props["receive_connectors"] == [
        "Identity", "Name", "Server", "TransportRole", "Bindings", "Fqdn", "AuthMechanism", "PermissionGroups",
        "TlsCertificateName", "TlsDomainCapabilities", "RequireTLS", "Enabled", "RemoteIPRanges",
    ]
    assert props["send_connectors"] == [
        "Identity", "Name", "AddressSpaces", "SourceTransportServers", "SmartHosts", "Fqdn", "TlsCertificateName",
        "TlsAuthLevel", "TlsDomain", "RequireTLS", "CloudServicesMailEnabled", "Enabled",
    ]
    assert props["transport_service"] == ["Name", "InternalTransportCertificateThumbprint", "OriginatingServer"]
    assert props["hybrid_configuration"] == [
        "TlsCertificateName", "ReceivingTransportServers", "SendingTransportServers", "EdgeTransportServers",
        "Features",
    ]
    assert props["events"] == ["Id", "ProviderName", "LevelDisplayName", "TimeCreated", "Message"]


@pytest.mark.parametrize("raw, expected", [
    (["10.0.0.0/8", "192.0.2.25", "2001:db8::1-2001:db8::ff"], ["10.0.0.0/8", "192.0.2.25", "2001:db8::1-2001:db8::ff"]),
    ("40.92.0.0/15", ["40.92.0.0/15"]),  # one item, unrolled by ConvertTo-Json
    (None, None),
    ([], None),
])
def test_remote_ip_ranges_are_read_as_exchange_prints_them(raw, expected) -> None:
    result = make_result()
    result["steps"][2]["objects"][0]["RemoteIPRanges"] = raw
    assert parse_read(result, "EX01")["receive_connectors"][0]["remote_ip_ranges"] == expected


def test_only_hybrid_and_events_continue_on_error() -> None:
    tolerant = {s["id"] for s in read_steps("EX01") if s.get("continue_on_error")}
    assert tolerant == {"hybrid_configuration", "events"}
    assert all(s.get("continue_on_error", True) is True for s in read_steps("EX01"))


def test_events_step_xpath_and_limits() -> None:
    events = read_steps("EX01", event_hours=48, max_events=50)[-1]
    assert events["parameters"] == {
        "LogName": "Application",
        "FilterXPath": "*[System[(EventID=12014 or EventID=12016 or EventID=12018) and "
        "TimeCreated[timediff(@SystemTime) <= 172800000]]]",
        "MaxEvents": 50,
    }


def test_default_events_window_is_24_hours_and_200_events() -> None:
    events = read_steps("EX01")[-1]["parameters"]
    assert "<= 86400000]" in events["FilterXPath"]
    assert events["MaxEvents"] == 200


def test_event_hours_zero_leaves_out_the_events_step() -> None:
    steps = read_steps("EX01", event_hours=0)
    assert [s["id"] for s in steps] == [
        "server", "certificates", "receive_connectors", "send_connectors", "transport_service",
        "hybrid_configuration",
    ]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"server": ""}, ["server", "non-empty"]),
        ({"server": "   "}, ["server", "non-empty"]),
        ({"server": None}, ["server", "non-empty"]),
        ({"server": 1}, ["server", "non-empty"]),
        ({"server": "EX01", "event_hours": -1}, ["event_hours", "0 to 8760"]),
        ({"server": "EX01", "event_hours": 8761}, ["event_hours", "0 to 8760"]),
        ({"server": "EX01", "event_hours": 1.5}, ["event_hours", "0 to 8760"]),
        ({"server": "EX01", "event_hours": "24"}, ["event_hours", "0 to 8760"]),
        ({"server": "EX01", "event_hours": True}, ["event_hours", "0 to 8760"]),
        ({"server": "EX01", "max_events": 0}, ["max_events", "1 to 10000"]),
        ({"server": "EX01", "max_events": 10001}, ["max_events", "1 to 10000"]),
    ],
)
def test_read_steps_validation(kwargs, words) -> None:
    with pytest.raises(ValueError) as info:
        read_steps(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_read_steps_range_limits_are_accepted() -> None:
    assert read_steps("EX01", event_hours=8760, max_events=10000)[-1]["parameters"]["MaxEvents"] == 10000
    assert read_steps("EX01", event_hours=1, max_events=1)[-1]["parameters"]["MaxEvents"] == 1


# --------------------------------------------------------------------------
# Clock and server
# --------------------------------------------------------------------------


def test_collected_at_is_the_servers_clock() -> None:
    later = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert facts_of(now=later)["collected_at"] == NOW


def test_collected_at_falls_back_to_now() -> None:
    result = make_result()
    del result["utc_now"]
    now = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.timezone.utc)
    facts = parse_read(result, "EX01", now=now)
    assert facts["collected_at"] == "2026-11-29T12:00:00Z"
    # Two days later the third-party certificate has expired.
    assert by_thumbprint(facts)[THIRD_PARTY]["days_remaining"] == 0
    facts = parse_read(result, "EX01", now=dt.datetime(2026, 12, 1))  # naive means UTC
    assert facts["collected_at"] == "2026-12-01T00:00:00Z"
    assert by_thumbprint(facts)[THIRD_PARTY]["expired"] is True


def test_collected_at_defaults_to_the_controllers_clock() -> None:
    result = make_result()
    del result["utc_now"]
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    collected = dt.datetime.strptime(parse_read(result, "EX01")["collected_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert collected.replace(tzinfo=dt.timezone.utc) >= before


def test_server_facts() -> None:
    assert facts_of()["server"] == {
        "name": "EX01",
        "fqdn": "EX01.contoso.com",
        "role": "Mailbox",
        "version": "15.2.1544.4",
        "edition": "Standard",
        "site": None,
        "computer_name": "EX01",
    }


@pytest.mark.parametrize(
    "shown, version",
    [
        ("Version 15.2 (Build 1544.4)", "15.2.1544.4"),
        ("Version 15.1 (Build 2507.6)", "15.1.2507.6"),
        ("15.2.1544.4", "15.2.1544.4"),
        ("Version 15.2", "Version 15.2"),
        (None, None),
    ],
)
def test_server_version(shown, version) -> None:
    result = make_result()
    result["steps"][0]["objects"][0]["AdminDisplayVersion"] = shown
    assert parse_read(result, "EX01")["server"]["version"] == version


@pytest.mark.parametrize(
    "server_role, is_edge, role",
    [
        ("Mailbox", False, "Mailbox"),
        ("Mailbox, ClientAccess", None, "Mailbox"),
        ("Edge", None, "Edge"),
        ("Mailbox", True, "Edge"),
        (None, True, "Edge"),
    ],
)
def test_server_role(server_role, is_edge, role) -> None:
    result = make_result()
    result["steps"][0]["objects"][0].update(ServerRole=server_role, IsEdgeServer=is_edge)
    assert parse_read(result, "EX01")["server"]["role"] == role


def test_computer_name_absent_is_null() -> None:
    result = make_result()
    del result["computer_name"]
    assert parse_read(result, "EX01")["server"]["computer_name"] is None


@pytest.mark.parametrize("computer, requested", [("ex01", "EX01"), ("EX01", "ex01.contoso.com"), ("EX01", "EX01")])
def test_computer_name_matches_name_or_fqdn_label(computer, requested) -> None:
    result = make_result()
    result["computer_name"] = computer
    assert parse_read(result, requested)["server"]["name"] == "EX01"


def test_computer_name_mismatch_is_an_error() -> None:
    result = make_result()
    result["computer_name"] = "EX02"
    with pytest.raises(FactsError) as info:
        parse_read(result, "EX01")
    assert str(info.value) == (
        "the host is computer EX02 but server 'EX01' was requested; "
        "set the module's server option to this host's Exchange server name"
    )


# --------------------------------------------------------------------------
# Required steps
# --------------------------------------------------------------------------


def test_failed_required_step_names_the_step_and_exchanges_error() -> None:
    error = "The operation couldn't be performed because object 'EX09' couldn't be found on 'DC01.contoso.com'."
    result = make_result(
        server={
            "status": "error",
            "objects": [],
            "error": error,
            "error_id": "ManagementObjectNotFoundException,GetExchangeServer",
        },
        certificates=None, receive_connectors=None, send_connectors=None, transport_service=None,
        hybrid_configuration=None, events=None,
    )
    with pytest.raises(FactsError) as info:
        parse_read(result, "EX09")
    message = str(info.value)
    assert "'server'" in message and "Get-ExchangeServer" in message
    assert error in message
    assert "ManagementObjectNotFoundException" in message


@pytest.mark.parametrize("step_id", ["certificates", "receive_connectors", "send_connectors", "transport_service"])
def test_each_required_step_failing_is_an_error(step_id) -> None:
    result = make_result(**{step_id: {"status": "error", "objects": [], "error": "Access is denied.", "error_id": "X"}})
    with pytest.raises(FactsError, match=f"'{step_id}'.*Access is denied"):
        parse_read(result, "EX01")


def test_missing_required_step_is_an_error() -> None:
    with pytest.raises(FactsError, match="no step 'transport_service' \\(Get-TransportService\\)"):
        parse_read(make_result(transport_service=None), "EX01")


def test_server_without_object_is_an_error() -> None:
    with pytest.raises(FactsError, match="returned no server"):
        parse_read(with_objects("server"), "EX01")


def test_result_without_steps_is_an_error() -> None:
    with pytest.raises(FactsError):
        parse_read({"failed": True, "msg": "boom"}, "EX01")


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------


def test_third_party_certificate() -> None:
    assert by_thumbprint(facts_of())[THIRD_PARTY] == {
        "thumbprint": THIRD_PARTY,
        "subject": CONTOSO_SUBJECT,
        "issuer": LE_ISSUER,
        "tls_certificate_name": CONTOSO_NAME,
        "friendly_name": "Contoso 2026",
        "domains": ["mail.contoso.com", "autodiscover.contoso.com"],
        "not_before": "2026-09-01T08:30:00Z",
        "not_after": "2026-11-30T08:29:59Z",
        "days_remaining": 2,
        "expired": False,
        "not_yet_valid": False,
        "services": ["IIS", "SMTP"],
        "services_value": "IIS, SMTP",
        "status": "Valid",
        "self_signed": False,
        "has_private_key": True,
        "root_ca_type": "ThirdParty",
        "is_internal_transport": False,
        "key": None,
        "key_size": None,
        "signature_algorithm": None,
        "unknown_properties": [],
        "properties_complete": True,
    }


def test_thumbprint_is_upper_hex_without_spaces_and_marks_internal_transport() -> None:
    facts = facts_of()
    cert = by_thumbprint(facts)[SELF_SIGNED]
    assert cert["is_internal_transport"] is True
    assert cert["services"] == ["IMAP", "POP", "IIS", "SMTP"]
    assert cert["self_signed"] is True
    assert cert["tls_certificate_name"] == "<I>CN=EX01<S>CN=EX01"
    assert facts["internal_transport_certificate"] == SELF_SIGNED


def test_expired_certificate() -> None:
    cert = by_thumbprint(facts_of())[OLD]
    assert cert["expired"] is True
    assert cert["days_remaining"] == -27  # 26.5 days ago, floored
    assert cert["services"] == []
    assert cert["status"] == "DateInvalid"
    assert cert["friendly_name"] is None


def test_not_yet_valid_certificate() -> None:
    facts = facts_of(with_objects("certificates", certificate(NotBefore="2026-11-28T00:00:00Z")))
    cert = facts["certificates"][0]
    assert cert["not_yet_valid"] is True and cert["expired"] is False


def test_days_remaining_on_the_last_day() -> None:
    facts = facts_of(with_objects("certificates", certificate(NotAfter="2026-11-27T12:00:00Z")))
    assert facts["certificates"][0]["days_remaining"] == 0
    assert facts["certificates"][0]["expired"] is False  # not after the very second
    facts = facts_of(with_objects("certificates", certificate(NotAfter="2026-11-27T11:59:59Z")))
    assert facts["certificates"][0]["days_remaining"] == -1
    assert facts["certificates"][0]["expired"] is True


def test_properties_missing_over_a_plain_remote_session_are_unknown() -> None:
    cert = facts_of(
        with_objects(
            "certificates", certificate(Services=None, Status=None, HasPrivateKey=None, RootCAType=None)
        )
    )["certificates"][0]
    assert cert["services"] == "unknown"
    assert cert["status"] == "unknown"
    assert cert["has_private_key"] == "unknown"
    assert cert["root_ca_type"] == "unknown"
    assert cert["properties_complete"] is False


@pytest.mark.parametrize(
    "field, value, key",
    [
        ("Services", None, "services"),
        ("Status", "", "status"),
        ("HasPrivateKey", None, "has_private_key"),
        ("RootCAType", "", "root_ca_type"),
    ],
)
def test_one_unknown_property_makes_the_certificate_incomplete(field, value, key) -> None:
    cert = facts_of(with_objects("certificates", certificate(**{field: value})))["certificates"][0]
    assert cert[key] == "unknown"
    assert cert["properties_complete"] is False


def test_exchanges_own_unknown_status_is_not_missing() -> None:
    cert = facts_of(with_objects("certificates", certificate(Status="Unknown")))["certificates"][0]
    assert cert["status"] == "Unknown"
    assert cert["properties_complete"] is True


def test_no_private_key_is_false_not_unknown() -> None:
    cert = facts_of(with_objects("certificates", certificate(HasPrivateKey=False)))["certificates"][0]
    assert cert["has_private_key"] is False and cert["properties_complete"] is True


def test_certificate_rebuilt_from_raw_data(contoso_der) -> None:
    degraded = {key: None for key in certificate()}
    degraded["RawData"] = b64(contoso_der)
    cert = facts_of(with_objects("certificates", degraded))["certificates"][0]
    assert cert["thumbprint"] == hashlib.sha1(contoso_der).hexdigest().upper()
    assert cert["subject"] == "CN=mail.contoso.com, O=Contoso"
    assert cert["issuer"] == CA_ISSUER
    assert cert["tls_certificate_name"] == f"<I>{CA_ISSUER}<S>CN=mail.contoso.com, O=Contoso"
    assert cert["not_before"] == "2026-09-01T08:30:00Z"
    assert cert["not_after"] == "2026-11-30T08:29:59Z"
    assert cert["days_remaining"] == 2
    assert cert["domains"] == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert cert["self_signed"] is False
    assert cert["services"] == "unknown" and cert["status"] == "unknown"
    assert cert["has_private_key"] == "unknown"
    assert cert["properties_complete"] is False


def test_raw_data_fills_missing_subject_but_keeps_exchanges_thumbprint(contoso_der) -> None:
    cert = facts_of(
        with_objects("certificates", certificate(Subject=None, Issuer=None, RawData=b64(contoso_der)))
    )["certificates"][0]
    assert cert["thumbprint"] == THIRD_PARTY
    assert cert["subject"] == CONTOSO_SUBJECT and cert["issuer"] == CA_ISSUER


def test_raw_data_fills_certificate_domains_alone(contoso_der) -> None:
    cert = facts_of(
        with_objects("certificates", certificate(CertificateDomains=None, RawData=b64(contoso_der)))
    )["certificates"][0]
    assert cert["domains"] == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert cert["thumbprint"] == THIRD_PARTY
    assert cert["subject"] == CONTOSO_SUBJECT and cert["issuer"] == LE_ISSUER


def test_self_signed_derived_from_raw_data_names() -> None:
    der = make_der("CN=EX01", "CN=EX01", sans=("EX01", "EX01.contoso.com"))
    self_signed = certificate(Subject="CN=EX01", Issuer="CN=EX01", IsSelfSigned=None, RawData=b64(der))
    cert = facts_of(with_objects("certificates", self_signed))["certificates"][0]
    assert cert["self_signed"] is True


@pytest.mark.parametrize("issuer, expected", [("CN=EX01", True), (LE_ISSUER, False)])
def test_self_signed_derived_from_strings_without_raw_data(issuer, expected) -> None:
    cert = facts_of(
        with_objects("certificates", certificate(Subject="CN=EX01", Issuer=issuer, IsSelfSigned=None))
    )["certificates"][0]
    assert cert["self_signed"] is expected


@pytest.mark.parametrize("raw_data", [None, "", "not base64 at all!", b64(b"\x30\x03\x02\x01\x00")])
def test_certificate_without_thumbprint_or_usable_raw_data_is_skipped(raw_data) -> None:
    result = make_result()
    result["steps"][1]["objects"].append(certificate(Thumbprint=None, Subject="CN=broken", RawData=raw_data))
    facts = parse_read(result, "EX01")
    assert len(facts["certificates"]) == 3
    assert len(facts["read_errors"]) == 1
    error = facts["read_errors"][0]
    assert error["step"] == "certificates" and error["cmdlet"] == "Get-ExchangeCertificate"
    assert "CN=broken" in error["error"] and "RawData" in error["error"]


# --------------------------------------------------------------------------
# Receive connectors
# --------------------------------------------------------------------------


def test_receive_connectors_of_this_server_only() -> None:
    names = [rc["name"] for rc in facts_of()["receive_connectors"]]
    assert names == ["Default Frontend EX01", "Client Frontend EX01", "Default EX01"]


def test_hybrid_receive_connector() -> None:
    rc = facts_of()["receive_connectors"][0]
    # The shared facts factory is the shape every other test feeds to module_utils.
    assert rc == receive_connector_facts(
        bindings=["[::]:25", "0.0.0.0:25"],
        tls_certificate_name=CONTOSO_NAME,
        tls_domain_capabilities=["mail.protection.outlook.com:AcceptCloudServicesMail"],
        hybrid=True,
    )


def test_plain_receive_connectors() -> None:
    _default, client, hub = facts_of()["receive_connectors"]
    assert client["ports"] == [587]
    assert client["fqdn"] is None
    assert client["tls_certificate_name"] is None
    assert client["enabled"] is True  # null Enabled
    assert client["hybrid"] is False
    assert hub["ports"] == [2525]
    assert hub["auth_mechanism"] == [] and hub["permission_groups"] == []
    assert hub["transport_role"] == "HubTransport"


def test_ports_from_mixed_bindings() -> None:
    rc = receive_connector("Multi", Bindings=["0.0.0.0:25", "[::]:2525", "192.168.10.5:587", "[fe80::1]:25"])
    assert facts_of(with_objects("receive_connectors", rc))["receive_connectors"][0]["ports"] == [25, 587, 2525]


def test_receive_connector_on_a_dn_server_and_without_transport_role() -> None:
    rc = receive_connector("Default internal receive connector EX01", server=f"CN=EX01,{SERVERS_DN}")
    del rc["TransportRole"]
    facts = facts_of(with_objects("receive_connectors", rc))
    assert len(facts["receive_connectors"]) == 1
    assert facts["receive_connectors"][0]["transport_role"] is None


@pytest.mark.parametrize(
    "capabilities, hybrid",
    [
        (["mail.protection.outlook.com:AcceptCloudServicesMail"], True),
        (["MAIL.PROTECTION.OUTLOOK.COM:AcceptOorgProtocol"], True),
        (["mail.protection.partner.outlook.cn:AcceptCloudServicesMail"], True),
        (["mail.protection.office365.us:AcceptCloudServicesMail"], True),
        (["contoso.com:AcceptCloudServicesMail", "mail.protection.outlook.com:AcceptCloudServicesMail"], True),
        (["contoso.mail.protection.outlook.com:AcceptCloudServicesMail"], False),
        (["NO-TLS:AcceptCloudServicesMail"], False),
        (["fabrikam.com:AcceptOorgProtocol"], False),
        ([], False),
        (None, False),
    ],
)
def test_hybrid_capability(capabilities, hybrid) -> None:
    rc = receive_connector("Default Frontend EX01", TlsDomainCapabilities=capabilities)
    assert facts_of(with_objects("receive_connectors", rc))["receive_connectors"][0]["hybrid"] is hybrid


# --------------------------------------------------------------------------
# Send connectors
# --------------------------------------------------------------------------


def test_hcw_send_connector() -> None:
    sc = facts_of()["send_connectors"][0]
    # The shared facts factory is the shape every other test feeds to module_utils.
    assert sc == send_connector_facts(
        identity="Outbound to Office 365 - 6f1c2a4e-91a3-4c0b-b8a4-3b1f2e6c9d10",
        name="Outbound to Office 365 - 6f1c2a4e-91a3-4c0b-b8a4-3b1f2e6c9d10",
        tls_certificate_name=CONTOSO_NAME,
    )


def test_internet_send_connector_of_another_server() -> None:
    sc = facts_of()["send_connectors"][1]
    assert sc["cloud"] is False
    assert sc["this_server_is_source"] is False
    assert sc["tls_certificate_name"] is None


@pytest.mark.parametrize(
    "changes, cloud",
    [
        ({"CloudServicesMailEnabled": True, "AddressSpaces": ["SMTP:*;1"]}, True),
        ({"SmartHosts": ["contoso-com.mail.protection.outlook.com"], "AddressSpaces": ["SMTP:*;1"]}, True),
        ({"SmartHosts": ["CONTOSO-COM.MAIL.PROTECTION.OUTLOOK.COM"]}, True),
        ({"SmartHosts": ["contoso-com.mail.protection.partner.outlook.cn"]}, True),
        ({"SmartHosts": ["contoso-com.mail.protection.office365.us"]}, True),
        ({"SmartHosts": ["relay.contoso.com", "contoso-com.mail.protection.outlook.com"]}, True),
        ({"SmartHosts": ["mx.contoso.com.mail.protection.outlook.com"]}, False),
        ({"SmartHosts": ["relay.contoso.com"]}, False),  # a smart host hides the address space test
        ({"SmartHosts": ["[10.0.0.25]"]}, False),
        ({"AddressSpaces": ["smtp:contoso.mail.onmicrosoft.com;1"]}, True),
        ({"AddressSpaces": ["SMTP:contoso.mail.onmicrosoft.com;10"]}, True),
        ({"AddressSpaces": ["contoso.mail.onmicrosoft.us"]}, True),
        ({"AddressSpaces": ["smtp:contoso.mail.partner.onmschina.cn;1"]}, True),
        ({"AddressSpaces": ["SMTP:*.contoso.com;1", "smtp:contoso.mail.onmicrosoft.com;1"]}, True),
        ({"AddressSpaces": ["SMTP:*.contoso.com;1"]}, False),
        ({"AddressSpaces": ["smtp:contoso.onmicrosoft.com;1"]}, False),
        ({"AddressSpaces": ["smtp:sub.contoso.mail.onmicrosoft.com;1"]}, False),
        ({"AddressSpaces": ["SMTP:*;1"]}, False),
    ],
)
def test_cloud_send_connector_classification(changes, cloud) -> None:
    fields = {"CloudServicesMailEnabled": False, "SmartHosts": [], "AddressSpaces": ["SMTP:*;1"]}
    fields.update(changes)
    sc = send_connector("Test", **fields)
    assert facts_of(with_objects("send_connectors", sc))["send_connectors"][0]["cloud"] is cloud


def test_source_server_given_as_dn() -> None:
    sc = send_connector("Edge out", SourceTransportServers=[f"CN=EX01,{SERVERS_DN}"])
    assert facts_of(with_objects("send_connectors", sc))["send_connectors"][0]["this_server_is_source"] is True


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("EX01", True),
        ("ex01", True),
        ("EX01.contoso.com", True),
        ("ex01.CONTOSO.com", True),
        (f"CN=EX01,{SERVERS_DN}", True),
        ("cn=ex01,cn=Servers", True),
        ("CN=EX01", True),
        ("CN=EX011,CN=Servers", False),
        (f"CN=Servers,CN=EX01,{SERVERS_DN}", False),
        ("EX02", False),
        ("EX01.fabrikam.com", False),
        ("EX0", False),
        ("", False),
        (None, False),
    ],
)
def test_same_server(reference, expected) -> None:
    assert same_server(reference, "EX01", "EX01.contoso.com") is expected


# --------------------------------------------------------------------------
# Hybrid configuration
# --------------------------------------------------------------------------


def test_hybrid_configuration() -> None:
    assert facts_of()["hybrid_configuration"] == {
        "tls_certificate_name": CONTOSO_NAME,
        "receiving_transport_servers": ["EX01"],
        "sending_transport_servers": ["EX01"],
        "edge_transport_servers": [],
        "features": ["OnlineArchive", "FreeBusy", "MailTips", "MessageTracking", "SecureMail", "Photos"],
        "this_server_listed": True,
    }


@pytest.mark.parametrize("lists, listed", [
    ({"ReceivingTransportServers": ["EX02"], "SendingTransportServers": ["EX02"]}, False),
    ({"ReceivingTransportServers": [], "SendingTransportServers": [f"CN=EX01,{SERVERS_DN}"]}, True),
    ({"ReceivingTransportServers": [], "SendingTransportServers": [], "EdgeTransportServers": ["ex01"]}, True),
])
def test_hybrid_configuration_lists_this_server(lists, listed) -> None:
    result = make_result()
    result["steps"][5]["objects"][0].update(lists)
    assert parse_read(result, "EX01")["hybrid_configuration"]["this_server_listed"] is listed


def test_no_hybrid_configuration_is_null() -> None:
    facts = facts_of(with_objects("hybrid_configuration"))
    assert facts["hybrid_configuration"] is None
    assert facts["read_errors"] == []


def test_edge_without_hybrid_cmdlet_is_not_a_read_error() -> None:
    result = make_result(
        hybrid_configuration={
            "status": "error",
            "objects": [],
            "error": "The term 'Get-HybridConfiguration' is not recognized as the name of a cmdlet, function, "
            "script file, or operable program.",
            "error_id": "CommandNotFoundException",
        }
    )
    result["steps"][0]["objects"][0].update(ServerRole="Edge", IsEdgeServer=True)
    facts = parse_read(result, "EX01")
    assert facts["server"]["role"] == "Edge"
    assert facts["hybrid_configuration"] is None
    assert facts["read_errors"] == []


def test_failed_hybrid_step_on_a_mailbox_server_is_a_read_error() -> None:
    result = make_result(
        hybrid_configuration={
            "status": "error",
            "objects": [],
            "error": "Active Directory operation failed on DC01.contoso.com.",
            "error_id": "ADOperationException,GetHybridConfiguration",
        }
    )
    facts = parse_read(result, "EX01")
    assert facts["hybrid_configuration"] is None
    assert facts["read_errors"] == [
        {
            "step": "hybrid_configuration",
            "cmdlet": "Get-HybridConfiguration",
            "error": "Active Directory operation failed on DC01.contoso.com.",
            "error_id": "ADOperationException,GetHybridConfiguration",
        }
    ]


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------


def test_events_are_transport_only_and_newest_first() -> None:
    events = facts_of()["events"]
    assert [(e["id"], e["provider"], e["time_created"]) for e in events] == [
        (12018, "MSExchangeTransport", "2026-11-27T11:15:00Z"),
        (12014, "MSExchangeFrontEndTransport", "2026-11-27T09:00:00Z"),
        (12016, "MSExchangeTransport", "2026-11-26T20:00:00Z"),
    ]
    assert events[1] == {
        "id": 12014,
        "provider": "MSExchangeFrontEndTransport",
        "level": "Error",
        "time_created": "2026-11-27T09:00:00Z",
        "message": STALE_12014,
    }
    assert events[0]["level"] == "Warning"


def test_no_events_step_means_no_events() -> None:
    facts = facts_of(make_result(events=None))
    assert facts["events"] == [] and facts["read_errors"] == []


def test_failed_events_step_is_a_read_error() -> None:
    result = make_result(
        events={
            "status": "error",
            "objects": [],
            "error": "Attempted to perform an unauthorized operation.",
            "error_id": "System.UnauthorizedAccessException,Microsoft.PowerShell.Commands.GetWinEventCommand",
        }
    )
    facts = parse_read(result, "EX01")
    assert facts["events"] == []
    assert [(e["step"], e["cmdlet"]) for e in facts["read_errors"]] == [("events", "Get-WinEvent")]
    assert "unauthorized" in facts["read_errors"][0]["error"]


# --------------------------------------------------------------------------
# The whole picture
# --------------------------------------------------------------------------


def test_facts_keys() -> None:
    assert list(facts_of()) == [
        "collected_at",
        "server",
        "certificates",
        "receive_connectors",
        "send_connectors",
        "hybrid_configuration",
        "internal_transport_certificate",
        "domain_controller",
        "events",
        "read_errors",
    ]


def test_no_internal_transport_certificate() -> None:
    result = make_result()
    result["steps"][4]["objects"][0]["InternalTransportCertificateThumbprint"] = None
    facts = parse_read(result, "EX01")
    assert facts["internal_transport_certificate"] is None
    assert not any(c["is_internal_transport"] for c in facts["certificates"])


def test_result_is_not_modified() -> None:
    result = make_result()
    snapshot = copy.deepcopy(result)
    parse_read(result, "EX01")
    assert result == snapshot
