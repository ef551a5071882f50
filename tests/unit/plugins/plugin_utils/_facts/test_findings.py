# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_facts/findings.py: the finding codes analyze() reports for a server's facts.

Facts are built by hand in the shape of ansible_facts.exchange_tls
(exchange_certificate_facts RETURN), on EX01 (ex01.contoso.com) at
2026-11-27T12:00:00Z.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import (
    CODES,
    ERROR,
    INFO,
    WARNING,
    analyze,
)

from ..facts_factories import (
    R10_THUMB,
    R11_THUMB,
    R12_THUMB,
    r10,
    r11,
    r12,
    FRONTEND,
    MAIL,
    NOW,
    OUTBOUND,
    OV_WITH_OU,
    OV_WITHOUT_OU,
    R10,
    R11,
    R12,
    SECTIGO_OV,
    cert,
    own_certificate,
    receive_connector,
)
from ..facts_factories import hybrid_configuration as shared_hybrid_configuration
from ..facts_factories import send_connector as plain_send_connector

R10_NAME = f"<I>{R10}<S>{MAIL}"
R11_NAME = f"<I>{R11}<S>{MAIL}"
R12_NAME = f"<I>{R12}<S>{MAIL}"
HYBRID_CAPABILITY = "mail.protection.outlook.com:AcceptCloudServicesMail"

# Thumbprints of the usual certificates, so assertions read as names.
SELF_THUMB = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"


# --------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------


def own(**overrides) -> dict:
    """Exchange's self-signed certificate, the default SMTP (internal transport) certificate."""
    return own_certificate(**{"thumbprint": SELF_THUMB, "is_internal_transport": True, **overrides})


def hybrid_receive_connector(**overrides) -> dict:
    """Default Frontend EX01 as HCW leaves it."""
    defaults = dict(tls_certificate_name=R11_NAME, tls_domain_capabilities=[HYBRID_CAPABILITY], hybrid=True)
    defaults.update(overrides)
    return receive_connector(**defaults)


def hub_connector(**overrides) -> dict:
    """Default EX01 (Transport service, port 2525), FQDN the server's, named by nothing."""
    defaults = dict(identity="EX01\\Default EX01", name="Default EX01", transport_role="HubTransport",
                    bindings=["0.0.0.0:2525", "[::]:2525"], ports=[2525], fqdn="ex01.contoso.com",
                    permission_groups=["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"])
    defaults.update(overrides)
    return receive_connector(**defaults)


def send_connector(**overrides) -> dict:
    """The HCW send connector, EX01 a source server, naming R11's certificate."""
    return plain_send_connector(**{"tls_certificate_name": R11_NAME, **overrides})


def hybrid_configuration(**overrides) -> dict:
    """The hybrid configuration, naming R11's certificate."""
    return shared_hybrid_configuration(**{"tls_certificate_name": R11_NAME, **overrides})


def event(**overrides) -> dict:
    facts = {
        "id": 12014,
        "provider": "MSExchangeFrontEndTransport",
        "level": "Error",
        "time_created": "2026-11-27T11:58:00Z",
        "message": (
            "Microsoft Exchange could not find a certificate that contains the domain name "
            f"{R10_NAME} in the personal store on the local computer. Therefore, it is unable to support the "
            "STARTTLS SMTP verb for the connector Default Frontend EX01 with a FQDN parameter of "
            f"{R10_NAME}."
        ),
    }
    facts.update(overrides)
    return facts


def facts(**overrides) -> dict:
    """A server's facts; defaults: only Exchange's own certificate, no connectors."""
    base = {
        "collected_at": NOW,
        "server": {"name": "EX01", "fqdn": "ex01.contoso.com", "role": "Mailbox", "version": "15.2.1544.4",
                   "edition": "Standard", "computer_name": "EX01"},
        "certificates": [own()],
        "receive_connectors": [],
        "send_connectors": [],
        "hybrid_configuration": None,
        "internal_transport_certificate": SELF_THUMB,
        "events": [],
        "read_errors": [],
    }
    base.update(overrides)
    return base


def healthy(**overrides) -> dict:
    """A hybrid server where everything is right: R11 with SMTP named everywhere."""
    defaults = dict(
        certificates=[own(), r11()],
        receive_connectors=[
            hybrid_receive_connector(),
            hub_connector(),
            receive_connector(identity="EX01\\Client Frontend EX01", name="Client Frontend EX01",
                              bindings=["0.0.0.0:587", "[::]:587"], ports=[587], fqdn="ex01.contoso.com",
                              auth_mechanism=["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"]),
            receive_connector(identity="EX01\\Outbound Proxy Frontend EX01", name="Outbound Proxy Frontend EX01",
                              bindings=["0.0.0.0:717", "[::]:717"], ports=[717], fqdn="ex01.contoso.com"),
        ],
        send_connectors=[send_connector()],
        hybrid_configuration=hybrid_configuration(),
    )
    defaults.update(overrides)
    return facts(**defaults)


def codes(found) -> list:
    return [f["code"] for f in found]


def only(found, code: str) -> dict:
    matching = [f for f in found if f["code"] == code]
    assert len(matching) == 1, (code, found)
    return matching[0]


def assert_shape(finding: dict) -> None:
    assert set(finding) == {"code", "severity", "object_type", "object", "message", "current", "expected", "certificates"}
    assert finding["code"] in CODES
    assert finding["severity"] in (ERROR, WARNING, INFO)
    assert finding["object_type"] in (
        "receive_connector", "send_connector", "certificate", "hybrid_configuration", "transport_service")
    assert isinstance(finding["message"], str) and finding["message"]
    assert isinstance(finding["certificates"], list)


def run(server_facts: dict, **kwargs) -> list:
    found = analyze(server_facts, **kwargs)
    for finding in found:
        assert_shape(finding)
    return found


# --------------------------------------------------------------------------
# The whole picture
# --------------------------------------------------------------------------


def test_codes_include_every_code_the_specification_names() -> None:
    required = {
        "tls_certificate_name_not_found", "tls_certificate_name_invalid", "tls_certificate_expired",
        "tls_certificate_expiring_soon", "tls_certificate_smtp_not_enabled", "tls_certificate_missing_private_key",
        "tls_not_in_auth_mechanism", "hybrid_tls_certificate_name_missing",
        "hybrid_configuration_tls_certificate_name_not_found", "internal_transport_certificate_expired",
        "transport_tls_event", "no_replacement_certificate", "ambiguous_replacement_certificate",
    }
    assert required <= set(CODES)
    assert all(severity in (ERROR, WARNING, INFO) for severity, _text in CODES.values())


def test_a_healthy_server_has_no_findings() -> None:
    assert run(healthy()) == []


def test_analyze_does_not_change_the_facts() -> None:
    server_facts = kb_facts()
    snapshot = repr(server_facts)
    run(server_facts)
    assert repr(server_facts) == snapshot


def test_disabled_connectors_get_no_findings() -> None:
    server_facts = facts(
        certificates=[own()],
        receive_connectors=[
            hybrid_receive_connector(tls_certificate_name=R10_NAME, enabled=False),
            receive_connector(identity="EX01\\Relay EX01", auth_mechanism=["ExternalAuthoritative"], enabled=False),
            receive_connector(identity="EX01\\Bad EX01", tls_certificate_name="CN=mail.contoso.com", enabled=False),
            hybrid_receive_connector(identity="EX01\\Hybrid EX01", tls_certificate_name=None, enabled=False),
        ],
        send_connectors=[send_connector(tls_certificate_name=R10_NAME, enabled=False)],
    )
    assert run(server_facts) == []


@pytest.mark.parametrize("bad", [-1, "30", 30.0, 1.5, None, True, False])
def test_analyze_rejects_a_bad_expiring_days(bad) -> None:
    with pytest.raises(ValueError, match="expiring_days"):
        analyze(healthy(), expiring_days=bad)


def test_analyze_accepts_zero_expiring_days() -> None:
    soon = r11(not_after="2026-12-01T00:00:00Z")
    assert run(healthy(certificates=[own(), soon]), expiring_days=0) == []


# --------------------------------------------------------------------------
# KB2989382: Let's Encrypt R10 -> R11, the old certificate removed, SMTP not enabled on the new one
# --------------------------------------------------------------------------


def kb_facts(**overrides) -> dict:
    defaults = dict(
        certificates=[own(), r11(services=["IIS"])],
        receive_connectors=[hybrid_receive_connector(tls_certificate_name=R10_NAME), hub_connector()],
        send_connectors=[send_connector(tls_certificate_name=R10_NAME)],
        hybrid_configuration=hybrid_configuration(tls_certificate_name=R10_NAME),
        events=[event()],
    )
    defaults.update(overrides)
    return facts(**defaults)


def test_kb2989382_end_to_end() -> None:
    found = run(kb_facts())
    assert codes(found) == [
        "tls_certificate_name_not_found",
        "tls_certificate_name_not_found",
        "hybrid_configuration_tls_certificate_name_not_found",
        "transport_tls_event",
    ]
    receive, send, hybrid, evidence = found

    assert receive["severity"] == ERROR
    assert (receive["object_type"], receive["object"]) == ("receive_connector", FRONTEND)
    assert (receive["current"], receive["expected"], receive["certificates"]) == (R10_NAME, R11_NAME, [R11_THUMB])
    message = receive["message"]
    for needed in ("EX01", R10_NAME, R11_NAME, R11_THUMB, "12014", "STARTTLS", "2027-01-17T00:00:00Z", "same subject"):
        assert needed in message, needed
    assert "not enabled for SMTP" in message and "enable SMTP" in message

    assert send["severity"] == ERROR
    assert (send["object_type"], send["object"]) == ("send_connector", OUTBOUND)
    assert (send["current"], send["expected"], send["certificates"]) == (R10_NAME, R11_NAME, [R11_THUMB])
    for needed in ("EX01", R10_NAME, "454 4.7.5", "every source server", R11_NAME, "enable SMTP"):
        assert needed in send["message"], needed

    assert hybrid["severity"] == WARNING
    assert (hybrid["object_type"], hybrid["object"]) == ("hybrid_configuration", "Hybrid Configuration")
    assert (hybrid["current"], hybrid["expected"], hybrid["certificates"]) == (R10_NAME, R11_NAME, [R11_THUMB])
    assert R10_NAME in hybrid["message"] and R11_NAME in hybrid["message"]

    assert (evidence["code"], evidence["severity"], evidence["object"]) == (
        "transport_tls_event", WARNING, "MSExchangeFrontEndTransport")


def test_kb2989382_with_the_old_certificate_still_in_the_store() -> None:
    found = run(kb_facts(certificates=[own(), r10(services=["IIS", "SMTP"]), r11(services=["IIS"])]))
    # The old one still matches: the connector uses it although it has expired.
    receive = [f for f in found if f["object_type"] == "receive_connector"]
    assert codes(receive) == ["tls_certificate_expired"]
    (expired,) = receive
    assert (expired["current"], expired["expected"]) == (R10_NAME, R11_NAME)
    assert expired["certificates"] == [R11_THUMB]
    assert "2026-10-19T00:00:00Z" in expired["message"] and R10_THUMB in expired["message"]
    assert "enable SMTP" in expired["message"]


def test_kb2989382_after_the_null_step_without_a_rerun_of_hcw() -> None:
    found = run(kb_facts(
        certificates=[own(), r11()],
        receive_connectors=[hybrid_receive_connector(tls_certificate_name=None)],
        send_connectors=[send_connector()],
        hybrid_configuration=hybrid_configuration(),
        events=[],
    ))
    finding = only(found, "hybrid_tls_certificate_name_missing")
    assert codes(found) == ["hybrid_tls_certificate_name_missing"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (None, R11_NAME, [R11_THUMB])
    assert "KB2989382" in finding["message"] and "Hybrid Configuration Wizard" in finding["message"]
    assert R11_NAME in finding["message"]


# --------------------------------------------------------------------------
# One test per code
# --------------------------------------------------------------------------


def test_tls_certificate_name_not_found_on_a_non_hybrid_receive_connector() -> None:
    partner = receive_connector(identity="EX01\\Partner EX01", tls_certificate_name=R10_NAME)
    found = run(facts(certificates=[own(), r11()], receive_connectors=[partner]))
    finding = only(found, "tls_certificate_name_not_found")
    assert codes(found) == ["tls_certificate_name_not_found"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", "EX01\\Partner EX01")
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R10_NAME, R11_NAME, [R11_THUMB])
    assert "451 5.7.3" not in finding["message"]   # not a hybrid connector
    assert "SMTP" not in finding["message"].split("Proposed replacement")[1]  # R11 has SMTP


def test_tls_certificate_name_not_found_reports_a_hand_typed_value() -> None:
    typed = "<I>CN=R11,  O=Let's Encrypt,  C=US<S>CN=mail.contoso.com"
    found = run(facts(certificates=[own(), r11()], receive_connectors=[hybrid_receive_connector(tls_certificate_name=typed)]))
    finding = only(found, "tls_certificate_name_not_found")
    assert codes(found) == ["tls_certificate_name_not_found"]
    assert (finding["current"], finding["expected"], finding["certificates"]) == (typed, R11_NAME, [R11_THUMB])
    assert "typed by hand" in finding["message"]
    assert R11_THUMB in finding["message"] and R11_NAME in finding["message"]


def test_tls_certificate_name_not_found_ou_dropped_renewal_ranks_by_cn() -> None:
    stale = f"<I>{SECTIGO_OV}<S>{OV_WITH_OU}"
    renewed = cert(issuer=SECTIGO_OV, subject=OV_WITHOUT_OU, not_before="2026-11-20T00:00:00Z",
                   not_after="2027-11-20T23:59:59Z")
    found = run(facts(certificates=[own(), renewed], receive_connectors=[hybrid_receive_connector(tls_certificate_name=stale)]))
    finding = only(found, "tls_certificate_name_not_found")
    assert codes(found) == ["tls_certificate_name_not_found"]
    assert (finding["current"], finding["expected"]) == (stale, renewed["tls_certificate_name"])
    assert finding["certificates"] == [renewed["thumbprint"]]
    assert "same subject CN" in finding["message"]
    assert "typed by hand" not in finding["message"]


def test_tls_certificate_name_not_found_on_a_send_connector_of_this_source_server() -> None:
    found = run(facts(certificates=[own(), r11()], send_connectors=[send_connector(tls_certificate_name=R10_NAME)]))
    finding = only(found, "tls_certificate_name_not_found")
    assert codes(found) == ["tls_certificate_name_not_found"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "send_connector", OUTBOUND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R10_NAME, R11_NAME, [R11_THUMB])
    assert "EX01" in finding["message"] and "454 4.7.5" in finding["message"]


def test_send_connector_is_ignored_when_this_server_is_not_a_source() -> None:
    other = send_connector(tls_certificate_name=R10_NAME, source_transport_servers=["EX02"], this_server_is_source=False)
    internet = send_connector(name="Internet", identity="Internet", tls_certificate_name="garbage", cloud=False,
                              source_transport_servers=["EX02"], this_server_is_source=False)
    assert run(facts(certificates=[own(), r11()], send_connectors=[other, internet])) == []


@pytest.mark.parametrize(
    "value, problem",
    [
        ("CN=mail.contoso.com", "no <S> marker"),
        (f"<I>{R11}<S>O=Contoso", "no 'CN='"),
        (f"<I>{R11}<S>CN=mail contoso", "not an SMTP domain"),
    ],
)
def test_tls_certificate_name_invalid_on_a_receive_connector(value: str, problem: str) -> None:
    found = run(facts(certificates=[own(), r11()], receive_connectors=[hybrid_receive_connector(tls_certificate_name=value)]))
    finding = only(found, "tls_certificate_name_invalid")
    assert codes(found) == ["tls_certificate_name_invalid"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (value, None, [])
    assert problem in finding["message"] and "<I>" in finding["message"] and "Get-ExchangeCertificate" in finding["message"]


def test_tls_certificate_name_invalid_on_a_send_connector_and_the_hybrid_configuration() -> None:
    found = run(facts(
        certificates=[own(), r11()],
        send_connectors=[send_connector(tls_certificate_name="<I>CN=R11<S>")],
        hybrid_configuration=hybrid_configuration(tls_certificate_name="CN=mail.contoso.com"),
    ))
    assert codes(found) == ["tls_certificate_name_invalid", "tls_certificate_name_invalid"]
    send, hybrid = found
    assert (send["object_type"], send["object"], send["current"]) == ("send_connector", OUTBOUND, "<I>CN=R11<S>")
    assert (hybrid["object_type"], hybrid["object"], hybrid["current"]) == (
        "hybrid_configuration", "Hybrid Configuration", "CN=mail.contoso.com")


def test_tls_certificate_expired_with_a_renewal_under_another_issuer() -> None:
    expired = r11(not_before="2026-08-20T00:00:00Z", not_after="2026-11-18T00:00:00Z")
    found = run(facts(certificates=[own(), expired, r12()], receive_connectors=[hybrid_receive_connector()]))
    finding = only(found, "tls_certificate_expired")
    assert codes(found) == ["tls_certificate_expired"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, R12_NAME, [R12_THUMB])
    for needed in (R11_THUMB, "2026-11-18T00:00:00Z", "12016", R12_NAME, R12_THUMB):
        assert needed in finding["message"], needed


def test_tls_certificate_expired_without_a_renewal_adds_no_replacement() -> None:
    expired = r11(not_before="2026-08-20T00:00:00Z", not_after="2026-11-18T00:00:00Z")
    found = run(facts(certificates=[own(), expired], receive_connectors=[hybrid_receive_connector()]))
    assert codes(found) == ["tls_certificate_expired", "no_replacement_certificate"]
    expired_finding, none = found
    assert (expired_finding["expected"], expired_finding["certificates"]) == (None, [R11_THUMB])
    assert (none["severity"], none["object_type"], none["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (none["current"], none["expected"], none["certificates"]) == (R11_NAME, None, [R11_THUMB])
    assert "expired on 2026-11-18T00:00:00Z" in none["message"]
    assert "Install" in none["message"] and "private key" in none["message"]


def test_tls_certificate_expired_on_a_send_connector() -> None:
    expired = r11(not_before="2026-08-20T00:00:00Z", not_after="2026-11-18T00:00:00Z")
    found = run(facts(certificates=[own(), expired, r12()], send_connectors=[send_connector()]))
    finding = only(found, "tls_certificate_expired")
    assert (finding["object_type"], finding["object"], finding["current"], finding["expected"]) == (
        "send_connector", OUTBOUND, R11_NAME, R12_NAME)
    assert codes(found) == ["tls_certificate_expired"]


def test_tls_certificate_expiring_soon_proposes_an_installed_renewal() -> None:
    soon = r11(not_before="2026-09-10T00:00:00Z", not_after="2026-12-09T00:00:00Z")
    found = run(facts(certificates=[own(), soon, r12()], receive_connectors=[hybrid_receive_connector()]))
    finding = only(found, "tls_certificate_expiring_soon")
    assert codes(found) == ["tls_certificate_expiring_soon"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (WARNING, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, R12_NAME, [R12_THUMB])
    for needed in (R11_THUMB, "2026-12-09T00:00:00Z", "11 days", R12_NAME):
        assert needed in finding["message"], needed


def test_tls_certificate_expiring_soon_without_a_renewal_has_no_replacement_finding() -> None:
    soon = r11(not_before="2026-09-10T00:00:00Z", not_after="2026-12-09T00:00:00Z")
    found = run(facts(certificates=[own(), soon], receive_connectors=[hybrid_receive_connector()]))
    assert codes(found) == ["tls_certificate_expiring_soon"]
    (finding,) = found
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, None, [R11_THUMB])
    assert "Renew" in finding["message"]


def test_expiring_days_threshold() -> None:
    soon = r11(not_before="2026-09-10T00:00:00Z", not_after="2026-12-09T00:00:00Z")   # 11 days left
    server_facts = facts(certificates=[own(), soon], receive_connectors=[hybrid_receive_connector()])
    assert codes(run(server_facts)) == ["tls_certificate_expiring_soon"]     # default 30
    assert codes(run(server_facts, expiring_days=12)) == ["tls_certificate_expiring_soon"]
    assert run(server_facts, expiring_days=11) == []                         # 11 whole days are not within 11
    assert run(server_facts, expiring_days=5) == []


def test_tls_certificate_smtp_not_enabled() -> None:
    found = run(facts(certificates=[own(), r11(services=["IIS"])], receive_connectors=[hybrid_receive_connector()]))
    finding = only(found, "tls_certificate_smtp_not_enabled")
    assert codes(found) == ["tls_certificate_smtp_not_enabled"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, R11_NAME, [R11_THUMB])
    assert R11_THUMB in finding["message"] and "IIS" in finding["message"] and "Enable SMTP" in finding["message"]


def test_tls_certificate_smtp_not_enabled_on_a_send_connector_and_with_no_services() -> None:
    found = run(facts(certificates=[own(), r11(services=[])], send_connectors=[send_connector()]))
    finding = only(found, "tls_certificate_smtp_not_enabled")
    assert (finding["object_type"], finding["object"]) == ("send_connector", OUTBOUND)
    assert "services: None" in finding["message"]


def test_unknown_services_and_status_are_not_reported_as_no_smtp() -> None:
    unknown = r11(services="unknown", status="unknown", has_private_key="unknown", properties_complete=False)
    found = run(facts(certificates=[own(), unknown], receive_connectors=[hybrid_receive_connector()],
                      send_connectors=[send_connector()]))
    assert codes(found) == ["certificate_properties_unknown"]


def test_certificate_properties_unknown() -> None:
    unknown = r11(services="unknown", status="unknown", has_private_key="unknown", root_ca_type="unknown",
                  properties_complete=False)
    unknown_own = own(services="unknown", status="unknown", has_private_key="unknown", root_ca_type="unknown",
                      properties_complete=False)
    found = run(facts(certificates=[unknown_own, unknown]))
    finding = only(found, "certificate_properties_unknown")
    assert codes(found) == ["certificate_properties_unknown"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (WARNING, "certificate", "EX01")
    assert (finding["current"], finding["expected"]) == (None, None)
    assert finding["certificates"] == [SELF_THUMB, R11_THUMB]
    assert "2 certificate(s)" in finding["message"] and "unknown" in finding["message"]
    assert "serializationLevel=Full" in finding["message"] and "Auth certificate" in finding["message"] and "snapin" not in finding["message"]


def test_tls_certificate_missing_private_key_on_a_receive_connector() -> None:
    keyless = r11(has_private_key=False)
    found = run(facts(certificates=[own(), keyless], receive_connectors=[hybrid_receive_connector()]))
    assert codes(found) == ["tls_certificate_missing_private_key", "no_replacement_certificate"]
    finding, none = found
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, None, [R11_THUMB])
    assert R11_THUMB in finding["message"] and "private key" in finding["message"] and "Import" in finding["message"]
    assert none["certificates"] == [R11_THUMB] and "it has no private key" in none["message"]


def test_tls_certificate_missing_private_key_proposes_a_renewal_with_a_key() -> None:
    keyless = r11(has_private_key=False)
    found = run(facts(certificates=[own(), keyless, r12()], receive_connectors=[hybrid_receive_connector()]))
    assert codes(found) == ["tls_certificate_missing_private_key"]
    (finding,) = found
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, R12_NAME, [R12_THUMB])


def test_tls_certificate_missing_private_key_on_a_send_connector() -> None:
    found = run(facts(certificates=[own(), r11(has_private_key=False), r12()], send_connectors=[send_connector()]))
    finding = only(found, "tls_certificate_missing_private_key")
    assert codes(found) == ["tls_certificate_missing_private_key"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "send_connector", OUTBOUND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R11_NAME, R12_NAME, [R12_THUMB])
    assert "EX01" in finding["message"] and "454 4.7.5" in finding["message"]


# tls_not_in_auth_mechanism: error on a hybrid or named connector, warning on another port 25 connector, else nothing.


def test_tls_not_in_auth_mechanism_on_a_hybrid_connector_is_an_error() -> None:
    rc = hybrid_receive_connector(auth_mechanism=["Integrated", "BasicAuth", "ExchangeServer"])
    found = run(facts(certificates=[own(), r11()], receive_connectors=[rc]))
    finding = only(found, "tls_not_in_auth_mechanism")
    assert codes(found) == ["tls_not_in_auth_mechanism"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (finding["current"], finding["expected"], finding["certificates"]) == ("Integrated, BasicAuth, ExchangeServer", None, [])
    assert "STARTTLS" in finding["message"] and "Set-ReceiveConnector -AuthMechanism" in finding["message"]


def test_tls_not_in_auth_mechanism_on_a_named_non_hybrid_connector_is_an_error() -> None:
    rc = receive_connector(identity="EX01\\Relay EX01", bindings=["0.0.0.0:2526"], ports=[2526],
                           auth_mechanism=["ExternalAuthoritative"], tls_certificate_name=R11_NAME)
    finding = only(run(facts(certificates=[own(), r11()], receive_connectors=[rc])), "tls_not_in_auth_mechanism")
    assert (finding["severity"], finding["object"], finding["current"]) == (ERROR, "EX01\\Relay EX01", "ExternalAuthoritative")


def test_tls_not_in_auth_mechanism_on_a_plain_port_25_connector_is_a_warning() -> None:
    rc = receive_connector(auth_mechanism=[])
    finding = only(run(facts(receive_connectors=[rc])), "tls_not_in_auth_mechanism")
    assert (finding["severity"], finding["current"]) == (WARNING, "None")
    assert "None" in finding["message"]


def test_tls_not_in_auth_mechanism_elsewhere_is_not_reported() -> None:
    rc = receive_connector(identity="EX01\\Client Frontend EX01", bindings=["0.0.0.0:587"], ports=[587],
                           auth_mechanism=["Integrated", "BasicAuth"])
    assert run(facts(receive_connectors=[rc])) == []


def test_hybrid_tls_certificate_name_missing_on_a_send_connector_without_fqdn() -> None:
    sc = send_connector(tls_certificate_name=None, fqdn=None)
    found = run(facts(certificates=[own(), r11()], send_connectors=[sc]))
    finding = only(found, "hybrid_tls_certificate_name_missing")
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "send_connector", OUTBOUND)
    assert finding["current"] is None
    assert "Fqdn" in finding["message"] and "Hybrid Configuration Wizard" in finding["message"]


def test_send_connector_without_name_but_with_fqdn_is_fine() -> None:
    assert run(facts(certificates=[own(), r11()], send_connectors=[send_connector(tls_certificate_name=None)])) == []


def test_non_cloud_send_connector_without_name_or_fqdn_is_fine() -> None:
    sc = send_connector(name="Internet", identity="Internet", tls_certificate_name=None, fqdn=None, cloud=False)
    assert run(facts(certificates=[own(), r11()], send_connectors=[sc])) == []


def test_hybrid_configuration_tls_certificate_name_not_found_only_when_this_server_is_listed() -> None:
    listed = facts(certificates=[own(), r11()], hybrid_configuration=hybrid_configuration(tls_certificate_name=R10_NAME))
    finding = only(run(listed), "hybrid_configuration_tls_certificate_name_not_found")
    assert (finding["severity"], finding["object_type"], finding["object"]) == (
        WARNING, "hybrid_configuration", "Hybrid Configuration")
    assert (finding["current"], finding["expected"], finding["certificates"]) == (R10_NAME, R11_NAME, [R11_THUMB])
    assert "Hybrid Configuration Wizard" in finding["message"] or "HCW" in finding["message"]

    not_listed = facts(certificates=[own(), r11()], hybrid_configuration=hybrid_configuration(
        tls_certificate_name=R10_NAME, receiving_transport_servers=["EX02"], sending_transport_servers=["EX02"],
        this_server_listed=False))
    assert run(not_listed) == []


def test_hybrid_configuration_matching_or_empty_is_fine() -> None:
    assert run(facts(certificates=[own(), r11()], hybrid_configuration=hybrid_configuration())) == []
    assert run(facts(certificates=[own(), r11()], hybrid_configuration=hybrid_configuration(tls_certificate_name=None))) == []
    assert run(facts(certificates=[own(), r11()], hybrid_configuration=None)) == []


def test_hybrid_configuration_replacement_excludes_self_signed() -> None:
    own_mail = cert(issuer=MAIL, subject=MAIL, thumbprint="F" * 40)
    found = run(facts(certificates=[own(), own_mail], hybrid_configuration=hybrid_configuration(tls_certificate_name=R10_NAME)))
    assert codes(found) == ["hybrid_configuration_tls_certificate_name_not_found", "no_replacement_certificate"]
    none = found[1]
    assert (none["severity"], none["object_type"], none["object"]) == (WARNING, "hybrid_configuration", "Hybrid Configuration")
    assert none["certificates"] == ["F" * 40] and "self-signed" in none["message"]


def test_internal_transport_certificate_expired() -> None:
    expired = own(not_before="2021-03-01T10:00:00Z", not_after="2026-03-01T10:00:00Z")
    found = run(facts(certificates=[expired]))
    finding = only(found, "internal_transport_certificate_expired")
    assert codes(found) == ["internal_transport_certificate_expired"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "transport_service", "EX01")
    assert (finding["current"], finding["expected"], finding["certificates"]) == (SELF_THUMB, None, [SELF_THUMB])
    for needed in (SELF_THUMB, "2026-03-01T10:00:00Z", "12015", "New-ExchangeCertificate"):
        assert needed in finding["message"], needed


def test_internal_transport_certificate_missing_when_unset() -> None:
    finding = only(run(facts(internal_transport_certificate=None)), "internal_transport_certificate_missing")
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "transport_service", "EX01")
    assert (finding["current"], finding["certificates"]) == (None, [])
    assert "12012" in finding["message"] and "New-ExchangeCertificate" in finding["message"]


def test_internal_transport_certificate_missing_from_the_store() -> None:
    gone = "1" * 40
    finding = only(run(facts(internal_transport_certificate=gone)), "internal_transport_certificate_missing")
    assert finding["current"] == gone
    assert gone in finding["message"] and "12013" in finding["message"]


def test_transport_tls_events_are_grouped_per_id_and_provider_with_a_count() -> None:
    events = [
        event(time_created="2026-11-27T11:58:00Z", message="latest frontend 12014"),
        event(time_created="2026-11-27T10:58:00Z", message="older"),
        event(time_created="2026-11-27T09:58:00Z", message="oldest"),
        event(provider="MSExchangeTransport", time_created="2026-11-27T08:00:00Z", message="hub 12014"),
        event(id=12016, time_created="2026-11-27T07:00:00Z", message="expired cert"),
        event(id=12018, provider="MSExchangeTransport", level="Warning", time_created="2026-11-26T07:00:00Z",
              message="expires soon"),
    ]
    found = run(facts(events=events))
    assert codes(found) == ["transport_tls_event"] * 4
    by_key = {(f["object"], f["message"].split()[1]): f for f in found}
    frontend = by_key[("MSExchangeFrontEndTransport", "12014")]
    assert (frontend["severity"], frontend["object_type"], frontend["current"]) == (WARNING, "transport_service", "2026-11-27T11:58:00Z")
    assert "3 time(s)" in frontend["message"] and "latest frontend 12014" in frontend["message"]
    assert (frontend["expected"], frontend["certificates"]) == (None, [])
    hub = by_key[("MSExchangeTransport", "12014")]
    assert "1 time(s)" in hub["message"] and hub["current"] == "2026-11-27T08:00:00Z"
    assert by_key[("MSExchangeFrontEndTransport", "12016")]["severity"] == WARNING
    assert by_key[("MSExchangeTransport", "12018")]["severity"] == INFO


def test_facts_incomplete_from_read_errors() -> None:
    errors = [
        {"step": "hybrid_configuration", "cmdlet": "Get-HybridConfiguration",
         "error": "The operation couldn't be performed because object 'Hybrid Configuration' couldn't be found",
         "error_id": "ManagementObjectNotFoundException"},
        {"step": "events", "cmdlet": "Get-WinEvent", "error": "Attempted to perform an unauthorized operation.",
         "error_id": "System.UnauthorizedAccessException"},
        {"step": "certificates", "cmdlet": "Get-ExchangeCertificate",
         "error": "a certificate came back without a Thumbprint", "error_id": None},
    ]
    found = run(facts(read_errors=errors))
    assert codes(found) == ["facts_incomplete"] * 3
    assert [(f["severity"], f["object_type"], f["object"]) for f in found] == [
        (WARNING, "hybrid_configuration", "EX01"),
        (WARNING, "transport_service", "EX01"),
        (WARNING, "certificate", "EX01"),
    ]
    for finding, error in zip(found, errors):
        assert error["cmdlet"] in finding["message"] and error["error"] in finding["message"]
        assert (finding["current"], finding["expected"], finding["certificates"]) == (None, None, [])


def test_no_replacement_certificate_when_nothing_covers_the_name() -> None:
    found = run(kb_facts(certificates=[own()], send_connectors=[], hybrid_configuration=None, events=[]))
    assert codes(found) == ["tls_certificate_name_not_found", "no_replacement_certificate"]
    not_found, none = found
    assert not_found["expected"] is None and not_found["certificates"] == []
    assert (none["severity"], none["object_type"], none["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (none["current"], none["expected"], none["certificates"]) == (R10_NAME, None, [])
    assert "EX01" in none["message"] and R10_NAME in none["message"] and "Install" in none["message"]


def test_no_replacement_certificate_lists_why_each_candidate_was_refused() -> None:
    keyless = r11(has_private_key=False, thumbprint="A" * 40)
    revoked = r12(status="Revoked")
    found = run(kb_facts(certificates=[own(), keyless, revoked], send_connectors=[], hybrid_configuration=None, events=[]))
    none = only(found, "no_replacement_certificate")
    assert sorted(none["certificates"]) == sorted(["A" * 40, R12_THUMB])
    assert "it has no private key" in none["message"] and "its status is Revoked" in none["message"]


def test_ambiguous_replacement_certificate() -> None:
    wildcard = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], thumbprint="C" * 40)
    san = cert(subject="CN=contoso.com", domains=["contoso.com", "mail.contoso.com"], thumbprint="D" * 40,
               not_before="2026-11-01T00:00:00Z", not_after="2027-01-30T00:00:00Z")
    found = run(kb_facts(certificates=[own(), wildcard, san], send_connectors=[], hybrid_configuration=None, events=[]))
    assert codes(found) == ["tls_certificate_name_not_found", "ambiguous_replacement_certificate"]
    not_found, ambiguous = found
    assert (not_found["expected"], not_found["certificates"]) == (None, [])
    assert (ambiguous["severity"], ambiguous["object_type"], ambiguous["object"]) == (ERROR, "receive_connector", FRONTEND)
    assert (ambiguous["current"], ambiguous["expected"]) == (R10_NAME, None)
    assert ambiguous["certificates"] == ["D" * 40, "C" * 40]   # newest first
    for needed in ("C" * 40, "D" * 40, "CN=*.contoso.com", "CN=contoso.com", "thumbprint"):
        assert needed in ambiguous["message"], needed


def test_ambiguous_replacement_takes_the_severity_of_the_finding_it_completes() -> None:
    wildcard = cert(subject="CN=*.contoso.com", domains=["*.contoso.com"], thumbprint="C" * 40)
    san = cert(subject="CN=contoso.com", domains=["contoso.com", "mail.contoso.com"], thumbprint="D" * 40)
    found = run(facts(certificates=[own(), wildcard, san], hybrid_configuration=hybrid_configuration(tls_certificate_name=R10_NAME)))
    assert codes(found) == ["hybrid_configuration_tls_certificate_name_not_found", "ambiguous_replacement_certificate"]
    assert found[1]["severity"] == WARNING


def test_tls_certificate_not_found_for_fqdn() -> None:
    rc = receive_connector(identity="EX01\\Client Frontend EX01", bindings=["0.0.0.0:587"], ports=[587],
                           fqdn="smtp.contoso.com")
    found = run(facts(certificates=[own(), r11()], receive_connectors=[rc]))
    finding = only(found, "tls_certificate_not_found_for_fqdn")
    assert codes(found) == ["tls_certificate_not_found_for_fqdn"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (ERROR, "receive_connector", "EX01\\Client Frontend EX01")
    assert (finding["current"], finding["expected"], finding["certificates"]) == ("smtp.contoso.com", None, [])
    assert "smtp.contoso.com" in finding["message"] and "12014" in finding["message"]


def test_tls_certificate_status_not_valid() -> None:
    found = run(facts(certificates=[own(), r11(status="RevocationCheckFailure")], receive_connectors=[hybrid_receive_connector()]))
    finding = only(found, "tls_certificate_status_not_valid")
    assert codes(found) == ["tls_certificate_status_not_valid"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (WARNING, "receive_connector", FRONTEND)
    assert (finding["current"], finding["certificates"]) == (R11_NAME, [R11_THUMB])
    assert "RevocationCheckFailure" in finding["message"] and "Test-Certificate" in finding["message"]


def test_tls_certificate_self_signed_for_hybrid() -> None:
    own_mail = cert(issuer=MAIL, subject=MAIL, thumbprint="F" * 40)
    rc = hybrid_receive_connector(tls_certificate_name=f"<I>{MAIL}<S>{MAIL}")
    found = run(facts(certificates=[own(), own_mail], receive_connectors=[rc]))
    finding = only(found, "tls_certificate_self_signed_for_hybrid")
    assert codes(found) == ["tls_certificate_self_signed_for_hybrid"]
    assert (finding["severity"], finding["object_type"], finding["object"]) == (WARNING, "receive_connector", FRONTEND)
    assert finding["certificates"] == ["F" * 40] and "self-signed" in finding["message"]


def test_self_signed_on_a_non_hybrid_connector_is_fine() -> None:
    assert run(facts(receive_connectors=[hub_connector()])) == []


def test_severities_match_the_documented_defaults() -> None:
    for code, severity in {
        "tls_certificate_name_not_found": ERROR, "tls_certificate_name_invalid": ERROR,
        "tls_certificate_expired": ERROR, "tls_certificate_expiring_soon": WARNING,
        "tls_certificate_smtp_not_enabled": ERROR, "tls_certificate_missing_private_key": ERROR,
        "tls_not_in_auth_mechanism": ERROR, "hybrid_tls_certificate_name_missing": ERROR,
        "hybrid_configuration_tls_certificate_name_not_found": WARNING,
        "internal_transport_certificate_expired": ERROR, "internal_transport_certificate_missing": ERROR,
        "tls_certificate_not_found_for_fqdn": ERROR, "tls_certificate_status_not_valid": WARNING,
        "tls_certificate_self_signed_for_hybrid": WARNING, "certificate_properties_unknown": WARNING,
        "facts_incomplete": WARNING, "transport_tls_event": WARNING,
    }.items():
        assert CODES[code][0] == severity, code


# --------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------


def test_missing_private_key_on_a_connector_keyed_by_the_server_fqdn_names_the_keyless_certificate() -> None:
    found = run(facts(certificates=[own(has_private_key=False)], receive_connectors=[hub_connector(fqdn=None)]))
    assert codes(found) == ["tls_certificate_missing_private_key", "no_replacement_certificate"]
    finding, none = found
    assert (finding["object"], finding["current"], finding["certificates"]) == ("EX01\\Default EX01", None, [SELF_THUMB])
    assert "ex01.contoso.com" in finding["message"]
    # The replacement search used the name transport searched, so it says why the keyless one cannot serve.
    assert none["certificates"] == [SELF_THUMB]
    assert "it has no private key" in none["message"]


def test_a_name_differing_only_in_case_matches_and_is_no_finding() -> None:
    upper = "<I>CN=R11, O=LET'S ENCRYPT, C=US<S>CN=MAIL.CONTOSO.COM"
    server_facts = healthy(
        receive_connectors=[hybrid_receive_connector(tls_certificate_name=upper)],
        send_connectors=[send_connector(tls_certificate_name=upper.lower())],
        hybrid_configuration=hybrid_configuration(tls_certificate_name=upper),
    )
    assert run(server_facts) == []


def test_hand_typed_values_are_flagged_on_send_connectors_and_the_hybrid_configuration() -> None:
    typed = "<I>CN=R11,O=Let's Encrypt,C=US<S>CN=mail.contoso.com"
    found = run(facts(
        certificates=[own(), r11()],
        send_connectors=[send_connector(tls_certificate_name=typed)],
        hybrid_configuration=hybrid_configuration(tls_certificate_name=typed),
    ))
    assert codes(found) == ["tls_certificate_name_not_found", "hybrid_configuration_tls_certificate_name_not_found"]
    for finding in found:
        assert (finding["current"], finding["expected"], finding["certificates"]) == (typed, R11_NAME, [R11_THUMB])
        assert "typed by hand" in finding["message"] and R11_THUMB in finding["message"]


def test_an_exact_match_is_never_called_hand_typed() -> None:
    expired = r11(not_before="2026-08-20T00:00:00Z", not_after="2026-11-18T00:00:00Z")
    found = run(facts(certificates=[own(), expired, r12()], receive_connectors=[hybrid_receive_connector()]))
    assert all("typed by hand" not in f["message"] for f in found)


def test_a_hybrid_receive_connector_without_a_name_and_nothing_to_propose() -> None:
    found = run(facts(certificates=[own()], receive_connectors=[hybrid_receive_connector(tls_certificate_name=None)]))
    assert codes(found) == ["hybrid_tls_certificate_name_missing", "no_replacement_certificate"]
    missing, none = found
    assert (missing["expected"], missing["certificates"]) == (None, [])
    assert (none["object"], none["current"], none["severity"]) == (FRONTEND, None, ERROR)


def test_each_finding_is_reported_once_per_object() -> None:
    found = run(kb_facts(events=[event(), event(time_created="2026-11-27T11:00:00Z")]))
    keys = [(f["code"], f["object_type"], f["object"]) for f in found]
    assert len(keys) == len(set(keys))


# --------------------------------------------------------------------------
# Facts a degraded read can produce
# --------------------------------------------------------------------------


def test_a_certificate_without_dates_or_names_is_left_out_instead_of_crashing() -> None:
    unreadable = cert(thumbprint="AB" * 20)
    unreadable.update(subject=None, issuer=None, tls_certificate_name=None, not_before=None, not_after=None,
                      days_remaining=None, expired=None, not_yet_valid=None)
    found = run(healthy(certificates=[own(), r11(), unreadable]))
    assert found == []


def test_events_with_ids_of_mixed_types_are_grouped_without_crashing() -> None:
    found = run(facts(events=[event(), event(id="12014"), event(id=None)]))
    assert sorted(f["code"] for f in found) == ["transport_tls_event"] * 3


def test_an_expired_send_connector_certificate_does_not_claim_the_inbound_event() -> None:
    old = r11(not_before="2025-10-19T00:00:00Z", not_after="2026-01-17T00:00:00Z")
    found = run(healthy(certificates=[own(), old], receive_connectors=[]))
    finding = next(f for f in found if f["code"] == "tls_certificate_expired" and f["object_type"] == "send_connector")
    assert "12016" not in finding["message"] and "2026-01-17T00:00:00Z" in finding["message"]
