# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 18's hybrid decisions, in the pure Python that makes them (hybrid.py and its callers).

1 a hybrid connector follows the hybrid identity, not its FQDN; 2 the hybrid
configuration follows the hybrid receive connectors without a send connector to
Microsoft 365; 3 only a third-party root is a hybrid certificate; 4 implicit
selection is compliant, and Edge-hybrid Mailbox servers are not hybrid servers;
7 ``<S>``-only names; 9 HealthChecker's checks of the hybrid connectors' settings.
Facts are on EX01 (ex01.contoso.local here: an internal domain no public
certificate covers) at 2026-11-27T12:00:00Z.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import receive_plan, send_plan
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import hybrid
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import BLOCKED, CHANGE, UNCHANGED, PlanError
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import CODES, ERROR, WARNING, analyze
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.replacement import FOUND, NONE, choose_replacement
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import parse_time

from ..facts_factories import (
    MAIL,
    NOW,
    OUTBOUND,
    R10,
    R11,
    R11_THUMB,
    hybrid_configuration,
    own_certificate_of,
    r10,
    r11,
    receive_connector,
    send_connector,
    server_facts,
)

R10_NAME = f"<I>{R10}<S>{MAIL}"
R11_NAME = f"<I>{R11}<S>{MAIL}"
CAPABILITY = "mail.protection.outlook.com:AcceptCloudServicesMail"
LOCAL = "ex01.contoso.local"
ENTERPRISE_CA = "CN=Contoso Issuing CA, DC=contoso, DC=local"


def default_frontend(**overrides) -> dict:
    """Default Frontend EX01 as Exchange and HCW leave it: the server's FQDN, the Microsoft 365 capability."""
    return receive_connector(**{"fqdn": LOCAL, "tls_domain_capabilities": [CAPABILITY], "hybrid": True, **overrides})


def facts(certificates, connectors=None, sends=None, hc=None, role="Mailbox", name="EX01") -> dict:
    result = server_facts(name, role=role, certificates=[own_certificate_of(name)] + certificates,
                          receive_connectors=connectors or [], send_connectors=sends or [], hybrid_configuration=hc)
    result["server"]["fqdn"] = f"{name.lower()}.contoso.local"
    return result


def by_code(found: list, code: str) -> list:
    return [f for f in found if f["code"] == code]


def codes(found: list) -> list:
    return sorted(f["code"] for f in found)


# -- decision 1 --------------------------------------------------------------


def test_kb2989382_null_name_proposes_the_public_certificate_not_covering_the_server_fqdn() -> None:
    # Before issue 18 this was hybrid_tls_certificate_name_missing + no_replacement_certificate (blocked).
    found = analyze(facts([r11()], [default_frontend(tls_certificate_name=None)]))
    (missing,) = by_code(found, "hybrid_tls_certificate_name_missing")
    assert missing["expected"] == R11_NAME and missing["certificates"] == [R11_THUMB]
    assert not by_code(found, "no_replacement_certificate")


def test_the_hybrid_configuration_name_leads_among_several_public_certificates() -> None:
    # Two third-party certificates: without the hybrid identity the choice would be ambiguous.
    other = r11(subject="CN=www.contoso.com", thumbprint="AB" * 20, domains=["www.contoso.com"])
    hc = hybrid_configuration(tls_certificate_name=R10_NAME)
    found = analyze(facts([r11(), other], [default_frontend(tls_certificate_name=None)], hc=hc))
    (missing,) = by_code(found, "hybrid_tls_certificate_name_missing")
    assert missing["expected"] == R11_NAME
    alone = analyze(facts([r11(), other], [default_frontend(tls_certificate_name=None)]))
    assert by_code(alone, "ambiguous_replacement_certificate")


def test_a_non_hybrid_connector_keeps_the_fqdn_rule() -> None:
    # A stale name for another host: the public certificate covers neither it nor the FQDN. A relay is refused it;
    # a hybrid connector takes it (the only third-party certificate: Microsoft 365 checks its own connector's domain).
    stale = f"<I>{R10}<S>CN=relay.contoso.local"
    plain = receive_connector(identity="EX01\\Relay", name="Relay", fqdn=LOCAL, tls_certificate_name=stale)
    found = analyze(facts([r11()], [plain]))
    assert by_code(found, "no_replacement_certificate") and not any(f.get("expected") for f in found)
    (stale_hybrid,) = by_code(analyze(facts([r11()], [default_frontend(tls_certificate_name=stale)])), "tls_certificate_name_not_found")
    assert stale_hybrid["expected"] == R11_NAME and "third-party certificate" in stale_hybrid["message"]


def test_receive_plan_names_the_public_certificate_by_thumbprint_on_a_hybrid_connector() -> None:
    server = facts([r11()], [default_frontend(tls_certificate_name=None)])
    plan = receive_plan.plan(server, identities=["Default Frontend EX01"], certificate=R11_THUMB)
    assert [(d.status, d.expected) for d in plan.decisions] == [(CHANGE, R11_NAME)]
    # A non-hybrid connector announcing the same FQDN is still refused: senders check that name.
    relay = receive_connector(identity="EX01\\Relay", name="Relay", fqdn=LOCAL)
    with pytest.raises(PlanError, match="covers neither ex01.contoso.local"):
        receive_plan.plan(facts([r11()], [relay]), identities=["Relay"], certificate=R11_THUMB)


def test_a_cloud_send_connector_without_name_or_fqdn_gets_the_hybrid_certificate() -> None:
    sc = send_connector(fqdn=None, tls_certificate_name=None, source_transport_servers=["EX01"])
    host = facts([r11()], sends=[sc], hc=hybrid_configuration(tls_certificate_name=R11_NAME))
    found = analyze(host)
    (missing,) = by_code(found, "hybrid_tls_certificate_name_missing")
    assert missing["expected"] == R11_NAME and LOCAL in missing["message"]
    decision = send_plan.plan({"ex01": host}, "ex01").decisions[0]
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)


# -- decision 2 --------------------------------------------------------------


def gateway(**overrides) -> dict:
    return send_connector(**{"identity": "To the gateway", "name": "To the gateway", "address_spaces": ["smtp:*;1"],
                             "smart_hosts": ["gateway.contoso-filter.example"], "cloud": False,
                             "cloud_services_mail_enabled": False, "tls_certificate_name": None,
                             "source_transport_servers": ["EX01"], **overrides})


def test_hybrid_configuration_follows_the_receive_connectors_without_a_cloud_send_connector() -> None:
    host = facts([r11()], [default_frontend(tls_certificate_name=R10_NAME)], sends=[gateway()],
                 hc=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan({"ex01": host}, "ex01", update_hybrid_configuration=True)
    (hc,) = [d for d in plan.decisions if d.object_type == "hybrid_configuration"]
    assert (hc.status, hc.current, hc.expected) == (CHANGE, R10_NAME, R11_NAME)
    assert [d.status for d in plan.decisions if d.object_type == "send_connector"] == [UNCHANGED]


def test_hybrid_configuration_is_blocked_when_the_receive_connectors_it_follows_are() -> None:
    host = facts([], [default_frontend(tls_certificate_name=R10_NAME)], sends=[gateway()],
                 hc=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan({"ex01": host}, "ex01", update_hybrid_configuration=True)
    (hc,) = [d for d in plan.decisions if d.object_type == "hybrid_configuration"]
    assert hc.status == BLOCKED and "Default Frontend EX01" in hc.reason


def test_hybrid_configuration_does_not_guess_between_receive_connectors_naming_different_certificates() -> None:
    www = r11(subject="CN=www.contoso.com", thumbprint="AB" * 20, domains=["www.contoso.com"])
    one = facts([r11(), www], [default_frontend(tls_certificate_name=R11_NAME)], sends=[gateway()],
                hc=hybrid_configuration(tls_certificate_name=R10_NAME))
    two = facts([r11(), www], [default_frontend(identity="EX02\\Default Frontend EX02", name="Default Frontend EX02",
                                                tls_certificate_name=www["tls_certificate_name"])], name="EX02")
    plan = send_plan.plan({"ex01": one, "ex02": two}, "ex01", update_hybrid_configuration=True)
    (hc,) = [d for d in plan.decisions if d.object_type == "hybrid_configuration"]
    assert hc.status == UNCHANGED and "name different certificates" in hc.reason


# -- decision 3 --------------------------------------------------------------


@pytest.mark.parametrize("root, words", [
    ("Enterprise", "its root is Enterprise (RootCAType), not a third-party CA"),
    ("GroupPolicy", "its root is GroupPolicy (RootCAType), not a third-party CA"),
    ("unknown", "RootCAType unknown"),
])
def test_only_a_third_party_root_replaces_a_hybrid_name(root, words) -> None:
    internal = r11(issuer=ENTERPRISE_CA, thumbprint="CD" * 20, root_ca_type=root)
    choice = choose_replacement([internal], parse_time(NOW), stale_name=R10_NAME, public_only=True, hints=[])
    assert choice.status == NONE and words in choice.excluded[0][1]
    # The same certificate serves a connector that is not hybrid.
    assert choose_replacement([internal], parse_time(NOW), stale_name=R10_NAME).status == FOUND


def test_a_hybrid_connector_naming_an_enterprise_certificate_is_reported() -> None:
    internal = r11(issuer=ENTERPRISE_CA, thumbprint="CD" * 20, root_ca_type="Enterprise")
    found = analyze(facts([internal, r11()], [default_frontend(tls_certificate_name=internal["tls_certificate_name"])]))
    (warning,) = by_code(found, "tls_certificate_not_third_party_for_hybrid")
    assert warning["severity"] == WARNING and warning["expected"] == R11_NAME


def test_receive_plan_refuses_an_enterprise_certificate_for_a_hybrid_connector() -> None:
    internal = r11(issuer=ENTERPRISE_CA, thumbprint="CD" * 20, root_ca_type="Enterprise")
    server = facts([internal], [default_frontend(tls_certificate_name=None)])
    with pytest.raises(PlanError, match="not a third-party CA"):
        receive_plan.plan(server, identities=["Default Frontend EX01"], certificate="CD" * 20)


# -- decision 4 --------------------------------------------------------------


def test_implicit_selection_of_a_non_hybrid_connector_is_compliant() -> None:
    internal = r11(issuer=ENTERPRISE_CA, subject="CN=ex01.contoso.local", thumbprint="CD" * 20,
                   domains=[LOCAL], root_ca_type="Enterprise")
    assert analyze(facts([internal], [receive_connector(fqdn=LOCAL)])) == []
    assert analyze(facts([internal], [receive_connector(fqdn=None)])) == []


def test_edge_hybrid_mailbox_servers_are_not_held_to_the_hybrid_certificate() -> None:
    hc = hybrid_configuration(tls_certificate_name=R11_NAME, receiving_transport_servers=[],
                              sending_transport_servers=[], edge_transport_servers=["EDGE01"], this_server_listed=False)
    # Default Frontend keeps the capability from an earlier HCW run and selects the server's own certificate.
    host = facts([], [default_frontend(tls_certificate_name=None, fqdn="ex01.contoso.com")], hc=hc)
    assert hybrid.edge_hybrid_exempt(host)
    assert codes(analyze(host)) == []
    # Without the Edge, the same Mailbox server is a hybrid server and is reported.
    listed = facts([], [default_frontend(tls_certificate_name=None)], hc=hybrid_configuration(tls_certificate_name=R11_NAME))
    assert not hybrid.edge_hybrid_exempt(listed)
    assert "hybrid_tls_certificate_name_missing" in codes(analyze(listed))
    # The Edge itself is never exempt.
    edge = facts([], [default_frontend(tls_certificate_name=None)], hc=hc, role="Edge", name="EDGE01")
    assert not hybrid.edge_hybrid_exempt(edge)


# -- decision 7 --------------------------------------------------------------


def test_subject_only_name_is_a_warning_not_a_stale_name() -> None:
    found = analyze(facts([r11()], [default_frontend(tls_certificate_name=f"<S>{MAIL}")]))
    assert codes(found) == ["tls_certificate_name_subject_only"]
    (warning,) = found
    assert warning["severity"] == WARNING and warning["certificates"] == [R11_THUMB] and "SMTP probe" in warning["message"]
    assert receive_plan.plan(facts([r11()], [default_frontend(tls_certificate_name=f"<S>{MAIL}")])).changes == []


def test_subject_only_name_without_a_certificate_of_that_subject_is_still_not_found() -> None:
    found = analyze(facts([r11()], [default_frontend(tls_certificate_name="<S>CN=old.contoso.com")]))
    assert {"tls_certificate_name_subject_only", "tls_certificate_name_not_found"} <= set(codes(found))


# -- decision 9 --------------------------------------------------------------


@pytest.mark.parametrize("overrides, code, words", [
    (dict(cloud_services_mail_enabled=False), "hybrid_send_connector_cloud_services_disabled", "-CloudServicesMailEnabled $true"),
    (dict(require_tls=False, tls_auth_level=None, tls_domain=None), "hybrid_send_connector_require_tls_disabled", "-RequireTLS $true"),
    (dict(tls_auth_level="EncryptionOnly", tls_domain=None), "hybrid_send_connector_tls_auth_level", "-TlsAuthLevel DomainValidation"),
    (dict(tls_domain="contoso.com"), "hybrid_send_connector_tls_domain", "-TlsDomain mail.protection.outlook.com"),
])
def test_healthchecker_checks_of_the_cloud_send_connector(overrides, code, words) -> None:
    sc = send_connector(tls_certificate_name=R11_NAME, source_transport_servers=["EX01"], **overrides)
    found = analyze(facts([r11()], sends=[sc]))
    assert codes(found) == [code]
    (finding,) = found
    assert finding["severity"] == CODES[code][0] and words in finding["message"] and OUTBOUND in finding["message"]
    # The collection owns only the certificate name: nothing to change here.
    assert send_plan.plan({"ex01": facts([r11()], sends=[sc])}, "ex01").changes == []


def test_healthchecker_accepts_what_hcw_sets_and_certificate_validation() -> None:
    assert hybrid.send_connector_problems(send_connector()) == []
    assert hybrid.send_connector_problems(send_connector(tls_auth_level="CertificateValidation", tls_domain=None)) == []
    assert hybrid.send_connector_problems(send_connector(tls_domain="MAIL.PROTECTION.OUTLOOK.COM")) == []


def test_a_send_connector_not_to_microsoft_365_is_not_checked() -> None:
    assert analyze(facts([r11()], sends=[gateway(require_tls=False, tls_auth_level=None)])) == []


def test_hybrid_receive_connector_without_tls_says_what_hcw_sets() -> None:
    found = analyze(facts([r11()], [default_frontend(auth_mechanism=["Integrated", "ExchangeServer"], tls_certificate_name=R11_NAME)]))
    (finding,) = by_code(found, "tls_not_in_auth_mechanism")
    assert finding["severity"] == ERROR
    assert "HCW sets AuthMechanism Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer" in finding["message"]


def test_identity_names_are_ordered_and_unique() -> None:
    sc = send_connector(tls_certificate_name=R11_NAME.lower())
    host = facts([r11()], [default_frontend(tls_certificate_name=R10_NAME)], sends=[sc],
                 hc=hybrid_configuration(tls_certificate_name=R10_NAME))
    assert hybrid.identity_names(host) == [R10_NAME, R11_NAME.lower()]
    assert hybrid.identity_names(facts([r11()])) == []
    assert r10()["thumbprint"] not in str(hybrid.identity_names(host))


def test_hints_are_tried_in_order_and_the_stale_name_comes_first() -> None:
    www = r11(subject="CN=www.contoso.com", thumbprint="AB" * 20, domains=["www.contoso.com"])
    www_name = f"<I>{R10}<S>CN=www.contoso.com"
    now = parse_time(NOW)
    assert choose_replacement([r11(), www], now, public_only=True, hints=[www_name, R10_NAME]).certificate is www
    assert choose_replacement([r11(), www], now, public_only=True, hints=[R10_NAME, www_name]).name == R11_NAME
    assert choose_replacement([r11(), www], now, stale_name=www_name, public_only=True, hints=[R10_NAME]).certificate is www
    # No hints (not hybrid): no third-party fallback either.
    assert choose_replacement([r11()], now, stale_name=f"<I>{R10}<S>CN=old.contoso.com", public_only=True).status == NONE


def test_an_unknown_root_is_reported_once_when_the_session_lost_the_properties() -> None:
    lost = r11(root_ca_type="unknown", services="unknown", status="unknown", properties_complete=False)
    found = analyze(facts([lost], [default_frontend(tls_certificate_name=R11_NAME)]))
    assert codes(found) == ["certificate_properties_unknown"]
    known = r11(root_ca_type="unknown")
    (warning,) = analyze(facts([known], [default_frontend(tls_certificate_name=R11_NAME)]))
    assert warning["code"] == "tls_certificate_not_third_party_for_hybrid" and "RootCAType unknown" in warning["message"]
    assert warning["expected"] is None
