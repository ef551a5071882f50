# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts from Exchange objects in the shapes real sessions return (docs/exchange-behaviour.md#sessions; CSS-Exchange HealthChecker test data).

Enums by integer give the same facts as by name; a certificate that arrived as
RawData alone, or as the client's rebuilt X509Certificate2, still shows what
its DER holds and marks Exchange-only properties unknown; Site is a canonical
path; Server names differ in case. The objects are built from the documented
sample values (CSS-Exchange captures), not from lab output.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.exchange.transport_tls.plugins.module_utils import x500
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.transport_facts import (
    MISSING_PROPERTIES_REMEDY,
    FactsError,
    missing_property_reason,
    parse_read,
)

from .test_transport_facts import certificate, make_result, receive_connector, send_connector, with_objects

# CSS-Exchange GetExchangeCertificateBroken.xml: a sample certificate's subject, in .NET's rendering (S=, CN first).
SUBJECT_13 = "CN=domain.com, OU=IT, O=Contoso, L=Cologne, S=NRW, C=Germany"
# CSS-Exchange E19 GetExchangeCertificate.xml: the default certificate, self-signed, SANs host + FQDN, RSA 2048 (signed sha1RSA there;
# this cryptography build refuses to sign with SHA-1, so sha256RSA, as the samples' WMSvc certificates).
E19 = "CN=Solo-E19A"


def der(subject: str, issuer: str, key, sign_key, algorithm, sans=()) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x500.cryptography_name(x500.parse_name(subject)))
        .issuer_name(x500.cryptography_name(x500.parse_name(issuer)))
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(dt.datetime(2019, 12, 3, 22, 47, 32, tzinfo=dt.timezone.utc))
        .not_valid_after(dt.datetime(2024, 11, 6, 22, 47, 32, tzinfo=dt.timezone.utc))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(sign_key, algorithm).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def e19_der(rsa_key):
    return der(E19, E19, rsa_key, rsa_key, hashes.SHA256(), sans=("Solo-E19A", "Solo-E19A.Solo.com"))


@pytest.fixture(scope="module")
def sample13_der():
    key = ec.generate_private_key(ec.SECP384R1())
    return der(SUBJECT_13, SUBJECT_13, key, key, hashes.SHA384(), sans=("domain.com",))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def only_certificate(obj: dict) -> dict:
    return parse_read(with_objects("certificates", obj), "EX01")["certificates"][0]


# -- enums by number -----------------------------------------------------------------


def test_a_certificate_by_numbers_has_the_same_facts_as_by_names() -> None:
    # CSS-Exchange E19 GetExchangeCertificate.xml: the default certificate, Services 27, Status 1, RootCAType 3.
    by_name = certificate(Services="IMAP, POP, IIS, SMTP", Status="Valid", RootCAType="Registry")
    by_number = certificate(Services=27, Status=1, RootCAType=3)
    by_text = certificate(Services="27", Status="1", RootCAType="3")
    named = only_certificate(by_name)
    assert named["services"] == ["IMAP", "POP", "IIS", "SMTP"] and named["root_ca_type"] == "Registry"
    for other in (by_number, by_text):
        facts = only_certificate(other)
        facts.pop("services_value"), named.pop("services_value", None)
        assert facts == named


def test_services_none_by_number_is_no_service_not_unknown() -> None:
    facts = only_certificate(certificate(Services=0))
    assert facts["services"] == [] and facts["properties_complete"] is True


def test_receive_connectors_by_numbers_have_the_same_facts_as_by_names() -> None:
    # CSS-Exchange E19 GetReceiveConnector.xml: Default Frontend: AuthMechanism 31, PermissionGroups 13, TransportRole 16384; Client Proxy: 31, 6, 32.
    named = [receive_connector("Default Frontend EX01"),
             receive_connector("Client Proxy EX01", TransportRole="HubTransport",
                               PermissionGroups="ExchangeUsers, ExchangeServers")]
    numbered = [receive_connector("Default Frontend EX01", AuthMechanism=31, PermissionGroups=13, TransportRole=16384),
                receive_connector("Client Proxy EX01", AuthMechanism="31", PermissionGroups=6, TransportRole=32)]
    by_name = parse_read(with_objects("receive_connectors", *named), "EX01")["receive_connectors"]
    by_number = parse_read(with_objects("receive_connectors", *numbered), "EX01")["receive_connectors"]
    assert by_number == by_name
    assert by_name[0]["auth_mechanism"][0] == "Tls" and by_name[1]["transport_role"] == "HubTransport"


@pytest.mark.parametrize("level, name", [(2, "CertificateValidation"), (4, "DomainValidation"), (None, None),
                                         ("DomainValidation", "DomainValidation")])
def test_send_connector_tls_auth_level_by_number(level, name) -> None:
    facts = parse_read(with_objects("send_connectors", send_connector("Out", TlsAuthLevel=level)), "EX01")
    assert facts["send_connectors"][0]["tls_auth_level"] == name


@pytest.mark.parametrize("role, is_edge, expected", [(2, False, "Mailbox"), (6, False, "Mailbox"), (64, None, "Edge"),
                                                     ("64", None, "Edge")])
def test_server_role_by_number(role, is_edge, expected) -> None:
    result = make_result()
    result["steps"][0]["objects"][0].update(ServerRole=role, IsEdgeServer=is_edge)
    assert parse_read(result, "EX01")["server"]["role"] == expected


def test_garbage_in_an_enum_fails_naming_the_property_and_the_object() -> None:
    with pytest.raises(FactsError) as info:
        only_certificate(certificate(Services="System.Object[]"))
    text = str(info.value)
    assert "has Services = 'System.Object[]'" in text and "AllowedServices" in text and "certificate " in text
    with pytest.raises(FactsError, match=r"receive connector 'EX01\\\\Default Frontend EX01' has AuthMechanism = 2\.5"):
        parse_read(with_objects("receive_connectors", receive_connector("Default Frontend EX01", AuthMechanism=2.5)),
                   "EX01")


# -- Site, Server ------------------------------------------------------------------


@pytest.mark.parametrize("site, name", [
    ("Solo.com/Configuration/Sites/Default-First-Site-Name", "Default-First-Site-Name"),
    ("contoso.lab/Configuration/Sites/Berlin/", "Berlin"),
    (None, None),  # Edge
])
def test_site_is_the_last_part_of_its_canonical_path(site, name) -> None:
    result = make_result()
    result["steps"][0]["objects"][0]["Site"] = site
    assert parse_read(result, "EX01")["server"]["site"] == name


def test_receive_connectors_of_a_server_named_in_another_case_are_its_own() -> None:
    # CSS-Exchange E19 GetExchangeServer.xml: Name SOLO-E19A, Fqdn Solo-E19A.Solo.com: the connector's Server may differ in case.
    facts = parse_read(with_objects("receive_connectors", receive_connector("Default Frontend EX01", server="ex01")), "EX01")
    assert [c["name"] for c in facts["receive_connectors"]] == ["Default Frontend EX01"]


# -- certificates: RawData, the client's copy, PublicKeySize ---------------------------


def test_raw_data_alone_gives_what_the_der_holds_and_marks_exchange_properties_unknown(e19_der) -> None:
    facts = only_certificate({"RawData": b64(e19_der)})
    assert facts["thumbprint"] == hashlib.sha1(e19_der).hexdigest().upper()
    assert (facts["subject"], facts["issuer"], facts["self_signed"]) == (E19, E19, True)
    assert (facts["not_before"], facts["not_after"]) == ("2019-12-03T22:47:32Z", "2024-11-06T22:47:32Z")
    assert facts["domains"] == ["Solo-E19A", "Solo-E19A.Solo.com"]
    assert (facts["key"], facts["key_size"], facts["signature_algorithm"]) == ("RSA 2048", 2048, "sha256RSA")
    assert facts["unknown_properties"] == ["Services", "Status", "RootCAType", "HasPrivateKey"]
    assert facts["properties_complete"] is False
    assert {facts[k] for k in ("services", "status", "root_ca_type", "has_private_key")} == {"unknown"}


def test_a_subject_from_raw_data_is_rendered_as_windows_renders_it(sample13_der) -> None:
    facts = only_certificate({"RawData": b64(sample13_der)})
    assert facts["subject"] == SUBJECT_13 and facts["issuer"] == SUBJECT_13
    assert (facts["key"], facts["key_size"], facts["signature_algorithm"]) == ("ECDSA P-384", 384, "sha384ECDSA")


def test_the_clients_rebuilt_copy_does_not_tell_whether_the_server_has_the_key(e19_der) -> None:
    # A plain remote session: X509Certificate2 members of the copy rebuilt from RawData, HasPrivateKey false.
    remote = {"Thumbprint": hashlib.sha1(e19_der).hexdigest().upper(), "Subject": E19, "Issuer": E19,
              "NotBefore": "2019-12-03T22:47:32Z", "NotAfter": "2024-11-06T22:47:32Z", "HasPrivateKey": False,
              "FriendlyName": "", "RawData": b64(e19_der)}
    facts = only_certificate(remote)
    assert facts["has_private_key"] == "unknown" and "HasPrivateKey" in facts["unknown_properties"]
    assert facts["friendly_name"] is None and facts["key"] == "RSA 2048"


def test_an_exchange_certificate_keeps_its_own_has_private_key(e19_der) -> None:
    facts = only_certificate(certificate(HasPrivateKey=False, RawData=b64(e19_der)))
    assert facts["has_private_key"] is False and facts["unknown_properties"] == []
    # Exchange's own values win over the DER's where both exist.
    assert facts["subject"] == certificate()["Subject"] and facts["signature_algorithm"] == "sha256RSA"


def test_public_key_size_without_raw_data() -> None:
    facts = only_certificate(certificate(PublicKeySize=4096))
    assert facts["key_size"] == 4096 and facts["key"] is None and facts["signature_algorithm"] is None


def test_the_reason_names_the_property_and_the_fix() -> None:
    reason = missing_property_reason({"thumbprint": "ABC"}, "Services")
    assert reason == f"Exchange did not return Services of certificate ABC; {MISSING_PROPERTIES_REMEDY}"
    assert "serializationLevel=Full" in reason and "Auth certificate" in reason
