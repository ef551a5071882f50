# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_converge/send_plan.py: one name per send connector that every source server holds.

The organisation has two Mailbox servers, EX01 (where the task runs) and
EX02, both sources of the HCW connector to Microsoft 365, and an Edge server
EDGE01. The connector names R10's certificate for mail.contoso.com, which was
renewed under R11. The fleet is what the action plugin collects from
hostvars: inventory host name -> exchange_tls facts.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import send_plan, smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    BLOCKED,
    CHANGE,
    UNCHANGED,
    Change,
    PlanError,
)

from ..facts_factories import (
    R11_THUMB,
    R12_THUMB,
    r11,
    r12,
    MAIL,
    OUTBOUND,
    R10,
    R11,
    R12,
    cert,
    hybrid_configuration,
    own_certificate_of,
    send_connector,
    server_facts,
)

R10_NAME = f"<I>{R10}<S>{MAIL}"
R11_NAME = f"<I>{R11}<S>{MAIL}"
R12_NAME = f"<I>{R12}<S>{MAIL}"
EDGESYNC = "EdgeSync - Default-First-Site-Name to Internet"
PARTNER = "To Fabrikam"


# --------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------


def outbound(**overrides) -> dict:
    """The HCW connector, sources EX01 and EX02, still naming R10's certificate."""
    return send_connector(**{"tls_certificate_name": R10_NAME, **overrides})


def edgesync(**overrides) -> dict:
    defaults = dict(identity=EDGESYNC, name=EDGESYNC, address_spaces=["smtp:*;100"], source_transport_servers=["EDGE01"],
                    fqdn="mail.contoso.com", tls_certificate_name=R10_NAME, tls_domain=None, require_tls=False,
                    cloud_services_mail_enabled=False, cloud=False, this_server_is_source=False)
    defaults.update(overrides)
    return send_connector(**defaults)


def partner(**overrides) -> dict:
    defaults = dict(identity=PARTNER, name=PARTNER, address_spaces=["smtp:fabrikam.com;1"], tls_domain=None,
                    cloud_services_mail_enabled=False, cloud=False, tls_certificate_name=R10_NAME)
    defaults.update(overrides)
    return send_connector(**defaults)


def server(name: str, certificates, role: str = "Mailbox", connectors=None, **overrides) -> dict:
    """One host's facts; every host reads the same organisation-wide send connectors."""
    return server_facts(name, role, certificates=[own_certificate_of(name)] + list(certificates),
                        send_connectors=list(connectors if connectors is not None else [outbound()]), **overrides)


def fleet(ex01=None, ex02=None, connectors=None, hybrid=None, **others) -> dict:
    """ex01 (the runner) and ex02 holding R11's renewal unless told otherwise."""
    hosts = {
        "ex01": server("EX01", ex01 if ex01 is not None else [r11()], connectors=connectors, hybrid_configuration=hybrid),
        "ex02": server("EX02", ex02 if ex02 is not None else [r11()], connectors=connectors),
    }
    hosts.update(others)
    return {host: facts for host, facts in hosts.items() if facts is not None}


def decision_of(plan, name: str = OUTBOUND):
    (found,) = [d for d in plan.decisions if d.object == name]
    return found


def plan_changes_nothing(plan_or_decision) -> bool:
    """No change planned: a blocked or unchanged decision, or a plan without changes."""
    if hasattr(plan_or_decision, "changes"):
        return plan_or_decision.changes == []
    return plan_or_decision.status != CHANGE


def position(steps, predicate) -> list:
    return [i for i, s in enumerate(steps) if predicate(s)]


# --------------------------------------------------------------------------
# The name every source server holds
# --------------------------------------------------------------------------


def test_every_source_holds_the_renewal_so_the_name_changes() -> None:
    plan = send_plan.plan(fleet(), "ex01")
    decision = decision_of(plan)
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R10_NAME, R11_NAME)
    assert decision.details["source_servers"] == {
        "EX01": {"role": "Mailbox", "thumbprint": R11_THUMB, "status": "ok", "reason": None},
        "EX02": {"role": "Mailbox", "thumbprint": R11_THUMB, "status": "ok", "reason": None},
    }
    assert plan.changes == [Change("send_connector", OUTBOUND, "TlsCertificateName", R10_NAME, R11_NAME)]
    assert plan.runner == "EX01"
    assert plan.smtp == [] and plan.blocked == []


def test_a_source_listed_by_fqdn_is_found() -> None:
    hosts = fleet(connectors=[outbound(source_transport_servers=["ex01.contoso.com", "EX02.contoso.com"])])
    assert decision_of(send_plan.plan(hosts, "ex01")).status == CHANGE


@pytest.mark.parametrize(
    "ex02, missing",
    [
        ([], "EX02: it holds no certificate with this issuer and subject"),
        ([r11(has_private_key=False)], "EX02: its certificates with this name have no private key"),
        ([r11(not_after="2026-11-01T00:00:00Z")], f"EX02: {R11_THUMB}: it expired on 2026-11-01T00:00:00Z"),
    ],
    ids=["absent", "no-private-key", "expired"],
)
def test_one_source_lacking_the_renewal_blocks_the_change_and_is_named(ex02, missing) -> None:
    hosts = fleet(ex02=ex02)
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert decision.expected == R11_NAME
    assert f"not every source server can use {R11_NAME}" in decision.reason
    assert missing in decision.reason
    assert "EX01:" not in decision.reason
    assert decision.details["source_servers"]["EX01"]["status"] == "ok"
    assert decision.details["source_servers"]["EX02"]["status"] == "missing"
    assert plan.changes == [] and send_plan.write_steps(plan, hosts) == []
    with pytest.raises(PlanError) as raised:
        send_plan.plan(hosts, "ex01", identities=[OUTBOUND])
    assert str(raised.value).startswith(f"send connector {OUTBOUND} cannot be converged:")
    assert missing in str(raised.value)


def test_the_name_every_source_holds_wins_over_a_newer_one_only_some_hold() -> None:
    # EX01 also has R12's newer renewal, EX02 only R11's: R11 is the name both can send with.
    plan = send_plan.plan(fleet(ex01=[r11(), r12()]), "ex01")
    decision = decision_of(plan)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)


def test_no_usable_replacement_anywhere_blocks() -> None:
    self_signed = cert(issuer=MAIL, subject=MAIL, not_before="2026-11-01T00:00:00Z", not_after="2031-11-01T00:00:00Z")
    plan = send_plan.plan(fleet(ex01=[self_signed], ex02=[self_signed]), "ex01")
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert decision.reason == "no source server holds a usable replacement for the current name"


def test_current_name_usable_everywhere_is_unchanged() -> None:
    hosts = fleet(ex01=[r11(), r12()], ex02=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan)
    assert (decision.status, decision.current) == (UNCHANGED, R11_NAME)
    assert decision.reason == "every source server holds it"
    assert plan.changes == [] and send_plan.write_steps(plan, hosts) == []


def test_connector_without_a_name_is_left_to_its_fqdn() -> None:
    plan = send_plan.plan(fleet(connectors=[outbound(tls_certificate_name=None)]), "ex01")
    decision = decision_of(plan)
    assert decision.status == UNCHANGED
    assert decision.reason.startswith("no TlsCertificateName: the connector uses its FQDN")
    assert plan_changes_nothing(plan)


def test_explicit_identity_and_thumbprint_pin_a_name_on_a_connector_without_one() -> None:
    plan = send_plan.plan(fleet(connectors=[outbound(tls_certificate_name=None)]), "ex01", identities=[OUTBOUND],
                          certificate=R11_THUMB)
    decision = decision_of(plan)
    assert (decision.status, decision.current, decision.expected) == (CHANGE, None, R11_NAME)


def test_a_sweep_with_a_thumbprint_leaves_a_connector_without_a_name_alone() -> None:
    plan = send_plan.plan(fleet(connectors=[outbound(tls_certificate_name=None)]), "ex01", certificate=R11_THUMB)
    assert decision_of(plan).status == UNCHANGED
    assert plan_changes_nothing(plan)


def test_disabled_connector_is_left_alone_by_a_sweep_but_not_when_named() -> None:
    hosts = fleet(connectors=[outbound(enabled=False)])
    plan = send_plan.plan(hosts, "ex01")
    assert decision_of(plan).status == UNCHANGED
    assert decision_of(plan).reason == "the connector is disabled"
    assert plan_changes_nothing(plan)
    assert decision_of(send_plan.plan(hosts, "ex01", identities=[OUTBOUND])).status == CHANGE


# --------------------------------------------------------------------------
# expiring_days
# --------------------------------------------------------------------------


def test_current_name_expiring_moves_to_a_renewal_every_source_holds() -> None:
    # R11's certificate expires on 2027-01-17, 51 days after now.
    hosts = fleet(ex01=[r11(), r12()], ex02=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    assert decision_of(send_plan.plan(hosts, "ex01")).status == UNCHANGED
    decision = decision_of(send_plan.plan(hosts, "ex01", expiring_days=60))
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R11_NAME, R12_NAME)


def test_current_name_expiring_stays_while_the_renewal_is_not_on_every_source() -> None:
    hosts = fleet(ex01=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    plan = send_plan.plan(hosts, "ex01", expiring_days=60)
    decision = decision_of(plan)
    assert (decision.status, decision.expected) == (UNCHANGED, R11_NAME)
    assert plan_changes_nothing(plan)
    assert send_plan.write_steps(plan, hosts) == []


def test_current_name_expiring_without_a_renewal_everywhere_says_so() -> None:
    hosts = fleet(ex01=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    decision = decision_of(send_plan.plan(hosts, "ex01", expiring_days=60))
    assert "expires within 60 days" in decision.reason


# --------------------------------------------------------------------------
# Source servers without facts
# --------------------------------------------------------------------------


def test_source_without_facts_blocks_and_is_named() -> None:
    hosts = fleet()
    del hosts["ex02"]
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert "no facts for source server(s) EX02" in decision.reason
    assert "ignore_source_servers" in decision.reason
    assert plan.changes == []
    with pytest.raises(PlanError, match="no facts for source server"):
        send_plan.plan(hosts, "ex01", identities=[OUTBOUND])


@pytest.mark.parametrize("ignored", ["EX02", "ex02", " Ex02 "])
def test_source_without_facts_that_is_ignored_lets_the_others_decide(ignored) -> None:
    hosts = fleet()
    del hosts["ex02"]
    plan = send_plan.plan(hosts, "ex01", ignore_source_servers=[ignored])
    decision = decision_of(plan)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert decision.details["ignored_source_servers"] == ["EX02"]
    assert list(decision.details["source_servers"]) == ["EX01"]


def test_a_source_ignored_by_its_fqdn_is_ignored() -> None:
    hosts = fleet()
    del hosts["ex02"]
    plan = send_plan.plan(hosts, "ex01", ignore_source_servers=["ex02.contoso.com"])
    assert decision_of(plan).status == CHANGE


def test_an_ignored_source_is_not_checked_even_with_facts() -> None:
    hosts = fleet(ex02=[])
    assert decision_of(send_plan.plan(hosts, "ex01")).status == BLOCKED
    decision = decision_of(send_plan.plan(hosts, "ex01", ignore_source_servers=["EX02"]))
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert decision.details["ignored_source_servers"] == ["EX02"]
    assert list(decision.details["source_servers"]) == ["EX01"]


def test_every_source_ignored_leaves_the_connector_alone() -> None:
    plan = send_plan.plan(fleet(), "ex01", ignore_source_servers=["EX01", "EX02"])
    decision = decision_of(plan)
    assert (decision.status, decision.reason) == (UNCHANGED, "no source server to check")


# --------------------------------------------------------------------------
# Where the task runs
# --------------------------------------------------------------------------


def test_runner_on_an_edge_server_is_refused_naming_the_mailbox_hosts() -> None:
    hosts = fleet(edge01=server("EDGE01", [r11()], role="Edge"))
    with pytest.raises(PlanError) as raised:
        send_plan.plan(hosts, "edge01")
    message = str(raised.value)
    assert message.startswith("edge01 is an Edge Transport server, where Set-SendConnector is disabled")
    assert "run_once: true with delegate_to: one of ex01, ex02" in message


def test_runner_without_facts_is_refused() -> None:
    with pytest.raises(PlanError) as raised:
        send_plan.plan(fleet(), "ex03")
    assert str(raised.value).startswith("ex03, where this task runs, has no exchange_tls facts")
    assert "exchange_certificate_facts" in str(raised.value)


def test_runner_is_found_by_inventory_name_and_the_plan_names_its_server() -> None:
    hosts = {"mailbox-a.lab": server("EX01", [r11()]), "mailbox-b.lab": server("EX02", [r11()])}
    plan = send_plan.plan(hosts, "mailbox-b.lab")
    assert plan.runner == "EX02"
    assert decision_of(plan).status == CHANGE


# --------------------------------------------------------------------------
# SMTP on the source servers
# --------------------------------------------------------------------------


def test_mailbox_source_without_smtp_gets_smtp_enabled_on_that_server() -> None:
    hosts = fleet(ex02=[r11(services=["IIS"])])
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert decision.smtp == [f"EX02\\{R11_THUMB}"]
    assert decision.details["source_servers"]["EX02"]["status"] == "smtp_to_enable"
    assert decision.details["source_servers"]["EX01"]["status"] == "ok"

    (item,) = plan.smtp
    assert (item.server, item.thumbprint) == ("EX02", R11_THUMB)
    assert item.default_thumbprint == own_certificate_of("EX02")["thumbprint"]
    assert Change("certificate", R11_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], "EX02") in plan.changes
    enable = [s for s in smtp_enable.enable_steps(plan.smtp) if s["cmdlet"] == "Enable-ExchangeCertificate"]
    assert {s["parameters"]["Server"] for s in enable} == {"EX02"}


def test_smtp_is_not_enabled_with_enable_smtp_false() -> None:
    plan = send_plan.plan(fleet(ex02=[r11(services=["IIS"])]), "ex01", enable_smtp=False)
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert f"EX02: {R11_THUMB} is not enabled for SMTP (enable_smtp=false)" in decision.reason
    assert plan.smtp == []


def test_smtp_is_not_enabled_where_the_default_smtp_certificate_is_missing() -> None:
    hosts = fleet(ex02=[r11(services=["IIS"])])
    hosts["ex02"]["internal_transport_certificate"] = None
    decision = decision_of(send_plan.plan(hosts, "ex01"))
    assert decision.status == BLOCKED
    assert f"EX02: SMTP must be enabled on {R11_THUMB} on EX02" in decision.reason
    assert "Recreate the default first" in decision.reason
    assert plan_changes_nothing(decision)


def test_edge_source_without_smtp_blocks() -> None:
    connectors = [edgesync()]
    edge01 = server("EDGE01", [r11(services=["IIS"])], role="Edge", connectors=connectors)
    hosts = fleet(connectors=connectors, edge01=edge01)
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan, EDGESYNC)
    assert decision.status == BLOCKED
    assert "EDGE01:" in decision.reason
    assert "on an Edge server only a run on the Edge itself can enable it" in decision.reason
    assert plan.smtp == [] and plan.changes == []


def test_edge_source_with_smtp_is_fine() -> None:
    connectors = [edgesync()]
    hosts = fleet(connectors=connectors, edge01=server("EDGE01", [r11()], role="Edge", connectors=connectors))
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan, EDGESYNC)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert decision.details["source_servers"]["EDGE01"]["role"] == "Edge"
    # The batch runs on EX01, which cannot read EDGE01's store: the Edge's facts are what was checked.
    steps = send_plan.write_steps(plan, hosts)
    assert not any(s["cmdlet"] == "Get-ExchangeCertificate" and s["parameters"].get("Server") == "EDGE01" for s in steps)
    assert [s["cmdlet"] for s in steps if s["cmdlet"].startswith("Set-")] == ["Set-SendConnector"]


def test_smtp_only_decision_reports_no_rename() -> None:
    hosts = fleet(ex02=[r11(services=["IIS"])], connectors=[outbound(tls_certificate_name=R11_NAME)])
    plan = send_plan.plan(hosts, "ex01")
    assert decision_of(plan).smtp == [f"EX02\\{R11_THUMB}"]
    assert not [c for c in plan.changes if c.property == "TlsCertificateName"]


def test_smtp_only_decision_writes_no_connector() -> None:
    hosts = fleet(ex02=[r11(services=["IIS"])], connectors=[outbound(tls_certificate_name=R11_NAME)])
    plan = send_plan.plan(hosts, "ex01")
    steps = send_plan.write_steps(plan, hosts)
    assert [s["id"] for s in steps] == ["verify|transport_service|EX02"]


def test_unknown_services_on_a_source_refuse_with_enable_smtp() -> None:
    hosts = fleet(ex02=[r11(services="unknown", properties_complete=False)])
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert f"Exchange did not return the services of {R11_THUMB} on EX02" in decision.reason
    assert "serializationLevel=Full" in decision.reason and "Auth certificate" in decision.reason and "snapin" not in decision.reason
    assert plan.changes == [] and plan.smtp == []
    with pytest.raises(PlanError, match="did not return the services"):
        send_plan.plan(hosts, "ex01", identities=[OUTBOUND])


def test_unknown_services_on_a_source_proceed_with_a_warning_without_enable_smtp() -> None:
    plan = send_plan.plan(fleet(ex02=[r11(services="unknown", properties_complete=False)]), "ex01", enable_smtp=False)
    decision = decision_of(plan)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert plan.smtp == []
    (warning,) = plan.warnings
    assert R11_THUMB in warning and "EX02" in warning and "enable_smtp=false" in warning


# --------------------------------------------------------------------------
# certificate: a thumbprint
# --------------------------------------------------------------------------


def test_thumbprint_held_by_every_source_is_named() -> None:
    hosts = fleet(ex01=[r11(), r12()], ex02=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    plan = send_plan.plan(hosts, "ex01", identities=[OUTBOUND], certificate=R12_THUMB)
    decision = decision_of(plan)
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R11_NAME, R12_NAME)


def test_a_sweep_with_a_thumbprint_leaves_a_healthy_connector_alone() -> None:
    hosts = fleet(ex01=[r11(), r12()], ex02=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    plan = send_plan.plan(hosts, "ex01", certificate=R12_THUMB)
    assert decision_of(plan).status == UNCHANGED
    assert plan_changes_nothing(plan)


def test_a_sweep_with_a_thumbprint_replaces_an_expiring_name() -> None:
    # R11's certificate expires on 2027-01-17, 51 days after now; R12's renewal is on both sources.
    hosts = fleet(ex01=[r11(), r12()], ex02=[r11(), r12()], connectors=[outbound(tls_certificate_name=R11_NAME)])
    decision = decision_of(send_plan.plan(hosts, "ex01", certificate=R12_THUMB, expiring_days=60))
    assert (decision.status, decision.expected) == (CHANGE, R12_NAME)


def test_thumbprint_held_by_one_source_only_is_refused_naming_the_other() -> None:
    with pytest.raises(PlanError) as raised:
        send_plan.plan(fleet(ex01=[r11(), r12()]), "ex01", identities=[OUTBOUND], certificate=R12_THUMB)
    message = str(raised.value)
    assert f"not every source server can use {R12_NAME}" in message
    assert "EX02: it holds no certificate with this issuer and subject" in message


def test_thumbprint_in_no_store_is_refused() -> None:
    missing = "0" * 40
    with pytest.raises(PlanError, match=f"certificate {missing} is in the store of none of the source servers"):
        send_plan.plan(fleet(), "ex01", identities=[OUTBOUND], certificate=missing)


def test_thumbprint_of_a_self_signed_certificate_is_refused_for_the_cloud_connector() -> None:
    self_signed = cert(issuer=MAIL, subject=MAIL, thumbprint=R12_THUMB, not_before="2026-11-01T00:00:00Z",
                       not_after="2031-11-01T00:00:00Z")
    with pytest.raises(PlanError, match="self-signed"):
        send_plan.plan(fleet(ex01=[r11(), self_signed], ex02=[r11(), self_signed]), "ex01", identities=[OUTBOUND],
                       certificate=R12_THUMB)


# --------------------------------------------------------------------------
# identity
# --------------------------------------------------------------------------


def test_unknown_identity_lists_the_send_connectors() -> None:
    hosts = fleet(connectors=[outbound(), partner()])
    with pytest.raises(PlanError) as raised:
        send_plan.plan(hosts, "ex01", identities=["To Contoso"])
    message = str(raised.value)
    assert "identity 'To Contoso' is not a send connector of the organisation" in message
    assert repr(OUTBOUND) in message and repr(PARTNER) in message


def test_identity_is_matched_ignoring_case_and_decided_once() -> None:
    hosts = fleet(connectors=[outbound(), partner()])
    plan = send_plan.plan(hosts, "ex01", identities=[PARTNER.upper(), PARTNER])
    assert [d.object for d in plan.decisions] == [PARTNER]
    assert decision_of(plan, PARTNER).status == CHANGE


def test_a_sweep_converges_the_connectors_it_can_and_blocks_the_others() -> None:
    # The partner connector's only source is EX02, which holds the renewal; the cloud one also needs EX03.
    hosts = fleet(connectors=[outbound(source_transport_servers=["EX01", "EX03"]),
                              partner(source_transport_servers=["EX02"])])
    plan = send_plan.plan(hosts, "ex01")
    assert decision_of(plan).status == BLOCKED
    assert decision_of(plan, PARTNER).status == CHANGE
    assert [c.object for c in plan.changes] == [PARTNER]


# --------------------------------------------------------------------------
# The hybrid configuration
# --------------------------------------------------------------------------


def test_hybrid_configuration_follows_the_cloud_connector_when_asked() -> None:
    hosts = fleet(hybrid=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan(hosts, "ex01", update_hybrid_configuration=True)
    hybrid = decision_of(plan, "Hybrid Configuration")
    assert hybrid.object_type == "hybrid_configuration"
    assert (hybrid.status, hybrid.current, hybrid.expected) == (CHANGE, R10_NAME, R11_NAME)
    assert Change("hybrid_configuration", "Hybrid Configuration", "TlsCertificateName", R10_NAME, R11_NAME) in plan.changes


def test_hybrid_configuration_is_left_alone_unless_asked() -> None:
    plan = send_plan.plan(fleet(hybrid=hybrid_configuration(tls_certificate_name=R10_NAME)), "ex01")
    assert [d.object for d in plan.decisions] == [OUTBOUND]
    assert [c.object_type for c in plan.changes] == ["send_connector"]


def test_hybrid_configuration_already_naming_the_connector_certificate_is_unchanged() -> None:
    hosts = fleet(hybrid=hybrid_configuration(tls_certificate_name=R11_NAME))
    hybrid = decision_of(send_plan.plan(hosts, "ex01", update_hybrid_configuration=True), "Hybrid Configuration")
    assert hybrid.status == UNCHANGED


def test_hybrid_configuration_is_blocked_with_its_cloud_connector() -> None:
    hosts = fleet(ex02=[], hybrid=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan(hosts, "ex01", update_hybrid_configuration=True)
    hybrid = decision_of(plan, "Hybrid Configuration")
    assert hybrid.status == BLOCKED
    assert OUTBOUND in hybrid.reason
    assert plan.changes == []


def test_hybrid_configuration_does_not_follow_a_connector_that_is_not_to_microsoft_365() -> None:
    hosts = fleet(connectors=[partner()], hybrid=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan(hosts, "ex01", update_hybrid_configuration=True)
    hybrid = decision_of(plan, "Hybrid Configuration")
    assert hybrid.status == UNCHANGED
    assert hybrid.reason == "no connector to Microsoft 365 and no hybrid receive connector names a certificate"


def test_no_hybrid_configuration_no_decision() -> None:
    plan = send_plan.plan(fleet(), "ex01", update_hybrid_configuration=True)
    assert [d.object for d in plan.decisions] == [OUTBOUND]


# --------------------------------------------------------------------------
# write_steps
# --------------------------------------------------------------------------


def test_write_steps_guard_everything_before_any_write_then_read_back() -> None:
    hosts = fleet(connectors=[outbound(), partner()], hybrid=hybrid_configuration(tls_certificate_name=R10_NAME),
                  ex02=[r11(services=["IIS"])])
    plan = send_plan.plan(hosts, "ex01", update_hybrid_configuration=True)
    steps = send_plan.write_steps(plan, hosts)

    assert steps[0]["id"] == "verify|transport_service|EX02"
    guards = position(steps, lambda s: "guard" in s)
    writes = position(steps, lambda s: s["cmdlet"].startswith("Set-"))
    readbacks = position(steps, lambda s: s["id"].startswith("readback|"))
    assert [steps[i]["cmdlet"] for i in writes] == ["Set-SendConnector", "Set-SendConnector", "Set-HybridConfiguration"]
    assert max(guards) < min(writes)
    assert max(writes) < min(readbacks)
    assert len(readbacks) == 3
    assert not any(s["cmdlet"] == "Enable-ExchangeCertificate" for s in steps)


def test_write_steps_guard_with_the_values_the_decision_was_made_from() -> None:
    hosts = fleet(hybrid=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan(hosts, "ex01", update_hybrid_configuration=True)
    steps = {s["id"]: s for s in send_plan.write_steps(plan, hosts)}

    connector = steps[f"guard|send_connector|{OUTBOUND}"]
    assert connector["cmdlet"] == "Get-SendConnector"
    assert connector["guard"] == {"TlsCertificateName": R10_NAME}
    for name in ("EX01", "EX02"):
        certificate = steps[f"guard|certificate|{name}\\{R11_THUMB}"]
        assert certificate["parameters"] == {"Server": name, "Thumbprint": R11_THUMB}
        assert certificate["guard"] == {"Thumbprint": R11_THUMB}
    assert steps[f"set|send_connector|{OUTBOUND}"]["parameters"] == {"Identity": OUTBOUND, "TlsCertificateName": R11_NAME}

    hybrid = steps["guard|hybrid_configuration|Hybrid Configuration"]
    assert (hybrid["cmdlet"], hybrid["guard"]) == ("Get-HybridConfiguration", {"TlsCertificateName": R10_NAME})
    assert steps["set|hybrid_configuration|Hybrid Configuration"]["parameters"] == {"TlsCertificateName": R11_NAME}
    assert steps["readback|hybrid_configuration|Hybrid Configuration"]["cmdlet"] == "Get-HybridConfiguration"
    assert steps[f"readback|send_connector|{OUTBOUND}"]["cmdlet"] == "Get-SendConnector"


def test_write_steps_guard_each_source_certificate_once() -> None:
    hosts = fleet(connectors=[outbound(), partner()])
    steps = send_plan.write_steps(send_plan.plan(hosts, "ex01"), hosts)
    ids = [s["id"] for s in steps]
    assert ids.count(f"guard|certificate|EX01\\{R11_THUMB}") == 1
    assert ids.count(f"guard|certificate|EX02\\{R11_THUMB}") == 1


def test_plan_does_not_change_the_facts() -> None:
    hosts = fleet(ex02=[r11(services=["IIS"])], hybrid=hybrid_configuration(tls_certificate_name=R10_NAME))
    before = repr(hosts)
    send_plan.write_steps(send_plan.plan(hosts, "ex01", update_hybrid_configuration=True), hosts)
    assert repr(hosts) == before


# --------------------------------------------------------------------------
# Edge copies: the 256-character cap of the Edge's AD LDS (KB 4052493)
# --------------------------------------------------------------------------

# An EV subject: with its issuer, 289 characters of <I>issuer<S>subject.
EV_ISSUER = "CN=DigiCert EV RSA CA G2, O=DigiCert Inc, C=US"
EV_SUBJECT = ("CN=mail.contoso.com, SERIALNUMBER=600123456, OID.1.3.6.1.4.1.311.60.2.1.2=Washington,"
              " OID.1.3.6.1.4.1.311.60.2.1.3=US, OID.2.5.4.15=Private Organization,"
              " O=Contoso Pharmaceuticals International Holdings Ltd, L=Redmond, S=Washington, C=US")
EV_NAME = f"<I>{EV_ISSUER}<S>{EV_SUBJECT}"
EV_THUMB = "9E8D7C6B5A49382716F5E4D3C2B1A09F8E7D6C5B"


def ev(**overrides) -> dict:
    return cert(**{"issuer": EV_ISSUER, "subject": EV_SUBJECT, "thumbprint": EV_THUMB, "tls_certificate_name": EV_NAME,
                   "not_before": "2026-11-10T00:00:00Z", "not_after": "2027-11-10T00:00:00Z", **overrides})


def test_an_edge_sourced_connector_is_never_given_a_name_longer_than_256_characters() -> None:
    assert len(EV_NAME) == 289
    connectors = [edgesync()]
    hosts = fleet(ex01=[ev()], ex02=[ev()], connectors=connectors,
                  edge01=server("EDGE01", [ev()], role="Edge", connectors=connectors))
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan, EDGESYNC)
    assert decision.status == BLOCKED and decision.expected == EV_NAME
    assert f"EDGE01: the name is {len(EV_NAME)} characters long, and an Edge Transport server stores at most 256" in decision.reason
    assert "KB 4052493" in decision.reason and "shorter" in decision.reason
    assert "Install the certificate" not in decision.reason
    assert decision.details["source_servers"]["EDGE01"]["thumbprint"] == EV_THUMB
    assert plan.changes == [] and send_plan.write_steps(plan, hosts) == []
    # The same name on a connector that no Edge sends through is fine: full AD has no such cap.
    assert decision_of(send_plan.plan(fleet(ex01=[ev()], ex02=[ev()]), "ex01")).status == CHANGE


def test_an_edge_sourced_connector_prefers_a_name_that_fits() -> None:
    connectors = [edgesync()]
    edge01 = server("EDGE01", [ev(), r11()], role="Edge", connectors=connectors)
    hosts = fleet(connectors=connectors, edge01=edge01)
    decision = decision_of(send_plan.plan(hosts, "ex01"), EDGESYNC)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)


def test_a_current_name_the_edge_cannot_hold_is_blocked_and_its_old_edge_copy_reported() -> None:
    # Set on a Mailbox server, where it was accepted; EdgeSync never copied it, so the Edge still sends with the old one.
    connectors = [edgesync(tls_certificate_name=EV_NAME)]
    edge_view = [edgesync(tls_certificate_name=R10_NAME)]
    hosts = fleet(connectors=connectors, edge01=server("EDGE01", [ev(), r11()], role="Edge", connectors=edge_view))
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan, EDGESYNC)
    # The replacement policy keeps a name whose certificate is still there; the Edge cannot hold it, so: blocked.
    assert (decision.status, decision.current) == (BLOCKED, EV_NAME)
    assert "EDGE01: the name is 289 characters long" in decision.reason and plan.changes == []
    assert decision.details["edge_copies"] == {"EDGE01": R10_NAME}
    (warning,) = [w for w in plan.warnings if "EDGE01's own copy" in w]
    assert "EdgeSync has not copied the change to EDGE01" in warning and "KB 4052493" in warning


def test_an_edge_copy_behind_the_organisation_is_reported_after_a_change() -> None:
    # The next run after a change checks the Edge's own copy: here EdgeSync has not run yet.
    connectors = [edgesync(tls_certificate_name=R11_NAME)]
    hosts = fleet(connectors=connectors,
                  edge01=server("EDGE01", [r11()], role="Edge", connectors=[edgesync(tls_certificate_name=R10_NAME)]))
    plan = send_plan.plan(hosts, "ex01")
    decision = decision_of(plan, EDGESYNC)
    assert decision.status == UNCHANGED and decision.details["edge_copies"] == {"EDGE01": R10_NAME}
    (warning,) = plan.warnings
    assert warning.startswith(f"EDGE01's own copy of send connector {EDGESYNC} names {R10_NAME!r}, not the organisation's {R11_NAME!r}")
    assert "Start-EdgeSynchronization" in warning
    # In step: no warning, and the copies are shown.
    hosts["edge01"] = server("EDGE01", [r11()], role="Edge", connectors=connectors)
    plan = send_plan.plan(hosts, "ex01")
    assert plan.warnings == [] and decision_of(plan, EDGESYNC).details["edge_copies"] == {"EDGE01": R11_NAME}


# --------------------------------------------------------------------------
# SMTP that the same run enables on another server (issue 19 item 2)
# --------------------------------------------------------------------------


def receive_plan_result(server: str, thumbprint: str, failed: bool = False, msg: str = "") -> dict:
    """A registered check-mode receive_connector_tls result that enables SMTP on ``thumbprint`` of ``server``."""
    return {"changed": True, "failed": failed, "msg": msg,
            "plans": [{"object_type": "receive_connector", "object": f"{server}\\Default internal receive connector {server}",
                       "status": "change", "current": R10_NAME, "expected": R11_NAME, "reason": "the replacement policy"}],
            "changes": [{"object_type": "certificate", "object": thumbprint, "property": "Services", "before": ["IIS"],
                         "after": ["IIS", "SMTP"], "server": server}]}


def edge_lacking_smtp():
    connectors = [edgesync()]
    edge01 = server("EDGE01", [r11(services=["IIS"])], role="Edge", connectors=connectors)
    return fleet(connectors=connectors, edge01=edge01)


def test_an_edge_source_the_same_run_enables_smtp_on_is_a_planned_change() -> None:
    hosts = edge_lacking_smtp()
    enabled = send_plan.planned_smtp_enables([receive_plan_result("EDGE01", R11_THUMB)])
    plan = send_plan.plan(hosts, "ex01", enabled_by_run=enabled)
    decision = decision_of(plan, EDGESYNC)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert decision.reason.endswith("after SMTP is enabled on EDGE01 by this run")
    assert decision.details["source_servers"]["EDGE01"]["status"] == "smtp_enabled_by_run"
    # The send side enables nothing itself: the Edge's own run does it; the rename is in the plan's changes.
    assert plan.smtp == []
    assert [(c.object, c.before, c.after) for c in plan.changes] == [(EDGESYNC, R10_NAME, R11_NAME)]


def test_an_enable_planned_for_another_certificate_or_server_does_not_count() -> None:
    hosts = edge_lacking_smtp()
    for result in (receive_plan_result("EDGE01", R12_THUMB), receive_plan_result("EX02", R11_THUMB)):
        decision = decision_of(send_plan.plan(hosts, "ex01", enabled_by_run=send_plan.planned_smtp_enables([result])), EDGESYNC)
        assert decision.status == BLOCKED and "only a run on the Edge itself can enable it" in decision.reason


def test_a_failed_receive_plan_on_the_edge_keeps_the_connector_blocked_with_its_reason() -> None:
    hosts = edge_lacking_smtp()
    failed = dict(receive_plan_result("EDGE01", R11_THUMB, failed=True, msg="1 object(s) cannot be converged: the default is missing"),
                  changes=[])
    decision = decision_of(send_plan.plan(hosts, "ex01", enabled_by_run=send_plan.planned_smtp_enables([failed])), EDGESYNC)
    assert decision.status == BLOCKED
    assert "EDGE01's own plan in this run cannot enable it: 1 object(s) cannot be converged: the default is missing" in decision.reason


def test_skipped_and_malformed_receive_plans_enable_nothing() -> None:
    assert send_plan.planned_smtp_enables([{"skipped": True, "changes": receive_plan_result("EDGE01", R11_THUMB)["changes"]},
                                           "not a result", {}]) == {}


def test_a_mailbox_source_the_same_run_enables_is_not_enabled_twice() -> None:
    hosts = fleet(ex02=[r11(services=["IIS"])])
    enabled = send_plan.planned_smtp_enables([receive_plan_result("EX02", R11_THUMB)])
    plan = send_plan.plan(hosts, "ex01", enabled_by_run=enabled)
    decision = decision_of(plan)
    assert decision.status == CHANGE and decision.smtp == [] and plan.smtp == []
    assert "after SMTP is enabled on EX02 by this run" in decision.reason


# --------------------------------------------------------------------------
# certificates and exempt (issue 19 item 10)
# --------------------------------------------------------------------------


def test_a_pinned_certificate_is_named_on_a_broken_send_connector() -> None:
    hosts = fleet(ex01=[r11(), r12()], ex02=[r11(), r12()])
    decision = decision_of(send_plan.plan(hosts, "ex01", certificates={OUTBOUND.lower(): R11_THUMB}))
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    # Without the pin the policy takes the newest.
    assert decision_of(send_plan.plan(hosts, "ex01")).expected == R12_NAME


def test_a_pinned_certificate_in_no_store_blocks_only_its_connector() -> None:
    connectors = [outbound(), partner()]
    hosts = fleet(connectors=connectors)
    plan = send_plan.plan(hosts, "ex01", certificates={PARTNER.lower(): "CD" * 20})
    assert decision_of(plan, PARTNER).status == BLOCKED
    assert "in the store of none of the source servers" in decision_of(plan, PARTNER).reason
    assert "connector_tls_certificates in the role: " + "CD" * 20 in decision_of(plan, PARTNER).reason
    assert decision_of(plan).status == CHANGE


def test_an_exempt_send_connector_and_hybrid_configuration_are_left_alone() -> None:
    hosts = fleet(hybrid=hybrid_configuration(tls_certificate_name=R10_NAME))
    plan = send_plan.plan(hosts, "ex01", update_hybrid_configuration=True,
                          exempt={OUTBOUND.lower(): "owned by the HCW team", "hybrid configuration": "HCW owns it"})
    assert [(d.object, d.status, d.reason) for d in plan.decisions] == [
        (OUTBOUND, "exempt", "exempt: owned by the HCW team"), ("Hybrid Configuration", "exempt", "exempt: HCW owns it")]
    assert plan.changes == [] and plan.blocked == []


def test_a_source_without_facts_names_the_role_variables() -> None:
    hosts = fleet(ex02=None)
    hosts.pop("ex02")
    reason = decision_of(send_plan.plan(hosts, "ex01")).reason
    assert "connector_tls_ignore_source_servers" in reason and "connector_tls_exempt" in reason
