# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_converge/receive_plan.py: which receive connectors of one server change, to what.

The server is EX01 (ex01.contoso.com) at 2026-11-27T12:00:00Z. Its default
SMTP certificate is Exchange's own (CN=EX01, IMAP, POP, IIS, SMTP). The
story is Let's Encrypt's: the connectors were set to R10's certificate for
mail.contoso.com, and the renewal comes from R11 (then R12).
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import receive_plan
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    BLOCKED,
    CHANGE,
    UNCHANGED,
    Change,
    PlanError,
    parse_thumbprint,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import analyze

from ..facts_factories import (
    R10_THUMB,
    R11_THUMB,
    R12_THUMB,
    r10,
    r11,
    r12,
    FRONTEND,
    MAIL,
    OV_WITH_OU,
    OV_WITHOUT_OU,
    R10,
    R11,
    R12,
    SECTIGO_OV,
    cert,
    own_certificate_of,
    receive_connector,
    server_facts,
)

R10_NAME = f"<I>{R10}<S>{MAIL}"
R11_NAME = f"<I>{R11}<S>{MAIL}"
R12_NAME = f"<I>{R12}<S>{MAIL}"
HYBRID_CAPABILITY = "mail.protection.outlook.com:AcceptCloudServicesMail"
CLIENT = "EX01\\Client Frontend EX01"
HUB = "EX01\\Default EX01"

OV_THUMB = "9E8D7C6B5A49382716059F8E7D6C5B4A39281706"
SELF_MAIL_THUMB = "1F2E3D4C5B6A79881726354453627180F9E8D7C6"
DEFAULT = own_certificate_of("EX01")
DEFAULT_THUMB = DEFAULT["thumbprint"]


# --------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------


def self_signed_mail(**overrides) -> dict:
    """A self-signed certificate for mail.contoso.com (not Exchange's own)."""
    defaults = dict(issuer=MAIL, subject=MAIL, thumbprint=SELF_MAIL_THUMB, root_ca_type="Registry",
                    not_before="2026-11-01T00:00:00Z", not_after="2031-11-01T00:00:00Z")
    defaults.update(overrides)
    return cert(**defaults)


def frontend(**overrides) -> dict:
    """Default Frontend EX01 as HCW leaves it: hybrid, naming a certificate."""
    defaults = dict(tls_certificate_name=R11_NAME, tls_domain_capabilities=[HYBRID_CAPABILITY], hybrid=True)
    defaults.update(overrides)
    return receive_connector(**defaults)


def client_frontend(**overrides) -> dict:
    defaults = dict(identity=CLIENT, name="Client Frontend EX01", bindings=["0.0.0.0:587"], ports=[587],
                    permission_groups=["ExchangeUsers"])
    defaults.update(overrides)
    return receive_connector(**defaults)


def hub(**overrides) -> dict:
    """Default EX01 (port 2525), FQDN the server's, naming nothing: it presents CN=EX01."""
    defaults = dict(identity=HUB, name="Default EX01", transport_role="HubTransport", bindings=["0.0.0.0:2525"],
                    ports=[2525], fqdn="ex01.contoso.com",
                    permission_groups=["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"])
    defaults.update(overrides)
    return receive_connector(**defaults)


def facts(certificates=None, connectors=None, **overrides) -> dict:
    return server_facts(
        "EX01",
        certificates=[DEFAULT] + list(certificates if certificates is not None else [r11()]),
        receive_connectors=list(connectors if connectors is not None else [frontend(), hub()]),
        **overrides,
    )


def stale(certificates=None, **connector) -> dict:
    """KB2989382: the frontend names R10's certificate, the renewal from R11 is installed."""
    return facts(certificates if certificates is not None else [r11()],
                 [frontend(tls_certificate_name=R10_NAME, **connector), hub()])


def decision_of(plan, identity: str = FRONTEND):
    (found,) = [d for d in plan.decisions if d.object == identity]
    return found


def position(steps, predicate) -> list:
    return [i for i, s in enumerate(steps) if predicate(s)]


# --------------------------------------------------------------------------
# certificate: auto (the replacement policy, through the findings)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("old_in_store", [False, True], ids=["old-removed", "old-expired-in-store"])
def test_stale_name_after_renewal_changes_to_what_the_findings_propose(old_in_store) -> None:
    server = stale([r10(), r11()] if old_in_store else [r11()])
    plan = receive_plan.plan(server)

    decision = decision_of(plan)
    assert decision.status == CHANGE
    assert (decision.current, decision.expected) == (R10_NAME, R11_NAME)
    assert decision.certificate["thumbprint"] == R11_THUMB
    # What the audit proposes is exactly what the remediation writes.
    (proposal,) = [f for f in analyze(server) if f["object"] == FRONTEND and f["expected"]]
    assert proposal["expected"] == decision.expected
    assert proposal["certificates"] == [decision.certificate["thumbprint"]]
    assert plan.changes == [Change("receive_connector", FRONTEND, "TlsCertificateName", R10_NAME, R11_NAME, "EX01")]
    assert plan.smtp == [] and plan.blocked == [] and plan.warnings == []
    # The healthy hub connector is left alone.
    assert decision_of(plan, HUB).status == UNCHANGED


def test_renewal_that_dropped_ou_is_found_by_its_common_name() -> None:
    old = f"<I>{SECTIGO_OV}<S>{OV_WITH_OU}"
    renewed = cert(issuer=SECTIGO_OV, subject=OV_WITHOUT_OU, thumbprint=OV_THUMB)
    plan = receive_plan.plan(facts([renewed], [frontend(tls_certificate_name=old)]))
    decision = decision_of(plan)
    assert decision.status == CHANGE
    assert decision.expected == renewed["tls_certificate_name"]


def test_kb2989382_null_step_without_hcw_rerun_names_the_certificate_again() -> None:
    plan = receive_plan.plan(facts([r11()], [frontend(tls_certificate_name=None)]))
    decision = decision_of(plan)
    assert (decision.status, decision.current, decision.expected) == (CHANGE, None, R11_NAME)


def test_expiring_certificate_moves_to_the_installed_renewal_within_expiring_days() -> None:
    # R11's certificate expires on 2027-01-17, 51 days after now; R12's renewal is installed.
    server = facts([r11(), r12()], [frontend(tls_certificate_name=R11_NAME)])
    assert decision_of(receive_plan.plan(server, expiring_days=30)).status == UNCHANGED
    decision = decision_of(receive_plan.plan(server, expiring_days=60))
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R11_NAME, R12_NAME)


def test_healthy_connectors_are_untouched() -> None:
    plan = receive_plan.plan(facts([r11()], [frontend(), hub(), client_frontend()]))
    assert [d.status for d in plan.decisions] == [UNCHANGED, UNCHANGED, UNCHANGED]
    assert [d.reason for d in plan.decisions] == ["no finding"] * 3
    assert plan.changes == [] and plan.smtp == []
    assert receive_plan.write_steps(plan) == []


def test_a_finding_this_module_cannot_fix_leaves_the_connector_unchanged() -> None:
    plan = receive_plan.plan(facts([r11()], [frontend(auth_mechanism=["Integrated", "BasicAuth"])]))
    decision = decision_of(plan)
    assert decision.status == UNCHANGED
    assert decision.reason == "nothing this module can change fixes tls_not_in_auth_mechanism"
    assert plan.changes == []


def test_disabled_connector_is_left_alone_by_a_sweep_but_not_when_named() -> None:
    plan = receive_plan.plan(stale(enabled=False))
    assert decision_of(plan).status == UNCHANGED
    assert plan.changes == []
    named = receive_plan.plan(stale(enabled=False), identities=[FRONTEND], certificate=R11_THUMB)
    assert decision_of(named).status == CHANGE


def test_a_disabled_connector_named_with_auto_gets_the_policys_choice() -> None:
    # So it is right when someone enables it again; findings alone skip disabled connectors.
    decision = decision_of(receive_plan.plan(stale(enabled=False), identities=[FRONTEND]))
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R10_NAME, R11_NAME)


def test_facts_after_a_run_are_the_server_as_it_is_now() -> None:
    before = stale([r11(services=["IIS"])])
    plan = receive_plan.plan(before)
    changes = [c.as_dict() for c in plan.changes]
    after = receive_plan.facts_after(before, changes)
    connector = next(c for c in after["receive_connectors"] if c["identity"] == FRONTEND)
    assert connector["tls_certificate_name"] == R11_NAME
    assert connector["selected_certificate"] == R11_THUMB and connector["starttls_offered"] is True
    assert next(c for c in after["certificates"] if c["thumbprint"] == R11_THUMB)["services"] == ["IIS", "SMTP"]
    assert [f for f in after["findings"] if f["object"] == FRONTEND] == []
    # The input is left as it was: the registered facts of the play do not change under the user.
    assert next(c for c in before["receive_connectors"] if c["identity"] == FRONTEND)["tls_certificate_name"] == R10_NAME
    # A second plan from the updated facts changes nothing.
    assert receive_plan.plan(after).changes == []


# --------------------------------------------------------------------------
# SMTP on the new certificate
# --------------------------------------------------------------------------


def test_renewal_without_smtp_gets_smtp_first_keeping_the_default() -> None:
    plan = receive_plan.plan(stale([r11(services=["IIS"])]))
    decision = decision_of(plan)
    assert decision.status == CHANGE and decision.expected == R11_NAME
    assert decision.smtp == [f"EX01\\{R11_THUMB}"]
    assert "SMTP enabled first" in decision.reason

    (item,) = plan.smtp
    assert (item.server, item.thumbprint, item.default_thumbprint) == ("EX01", R11_THUMB, DEFAULT_THUMB)
    assert item.restore_services() == "SMTP"
    assert plan.changes == [
        Change("receive_connector", FRONTEND, "TlsCertificateName", R10_NAME, R11_NAME, "EX01"),
        Change("certificate", R11_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], "EX01"),
    ]


def test_two_connectors_moving_to_one_certificate_enable_smtp_on_it_once() -> None:
    plan = receive_plan.plan(facts([r11(services=["IIS"])], [frontend(tls_certificate_name=R10_NAME),
                                                             client_frontend(tls_certificate_name=R10_NAME)]))
    assert [d.status for d in plan.decisions] == [CHANGE, CHANGE]
    assert [i.thumbprint for i in plan.smtp] == [R11_THUMB]
    assert [c.object for c in plan.changes if c.object_type == "certificate"] == [R11_THUMB]


def test_connector_already_naming_the_right_certificate_but_lacking_smtp_only_gets_smtp() -> None:
    plan = receive_plan.plan(facts([r11(services=["IIS"])], [frontend(tls_certificate_name=R11_NAME)]))
    decision = decision_of(plan)
    assert decision.status == CHANGE
    assert decision.current == decision.expected == R11_NAME
    assert [i.thumbprint for i in plan.smtp] == [R11_THUMB]
    assert plan.changes == [Change("certificate", R11_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], "EX01")]
    # Nothing to write on the connector: the write launch only checks the default is still in place.
    assert [s["cmdlet"] for s in receive_plan.write_steps(plan)] == ["Get-TransportService"]


def test_connector_selecting_by_fqdn_only_gets_smtp_and_keeps_no_name() -> None:
    # The plain frontend names nothing; transport selects R11's certificate by mail.contoso.com.
    plan = receive_plan.plan(facts([r11(services=["IIS"])], [receive_connector()]))
    assert [i.thumbprint for i in plan.smtp] == [R11_THUMB]
    assert plan.changes == [Change("certificate", R11_THUMB, "Services", ["IIS"], ["IIS", "SMTP"], "EX01")]
    assert not any(s["cmdlet"] == "Set-ReceiveConnector" for s in receive_plan.write_steps(plan))


def test_enable_smtp_false_refuses_an_explicit_connector_whose_certificate_lacks_smtp() -> None:
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(stale([r11(services=["IIS"])]), identities=[FRONTEND], enable_smtp=False)
    message = str(raised.value)
    assert message.startswith(f"{FRONTEND} cannot be converged:")
    assert f"certificate {R11_THUMB} is not enabled for SMTP" in message
    assert "Set enable_smtp=true" in message


def test_enable_smtp_false_blocks_that_connector_in_a_sweep_and_converges_the_others() -> None:
    old_ov = f"<I>CN=Old CA<S>{OV_WITHOUT_OU}"
    ov = cert(issuer=SECTIGO_OV, subject=OV_WITHOUT_OU, thumbprint=OV_THUMB)
    server = facts([r11(services=["IIS"]), ov],
                   [frontend(tls_certificate_name=R10_NAME), client_frontend(tls_certificate_name=old_ov)])
    plan = receive_plan.plan(server, enable_smtp=False)

    blocked = decision_of(plan)
    assert blocked.status == BLOCKED
    assert "enable_smtp=false" in blocked.reason
    assert plan.blocked == [blocked]
    moved = decision_of(plan, CLIENT)
    assert (moved.status, moved.expected) == (CHANGE, ov["tls_certificate_name"])
    assert plan.smtp == []
    assert [c.object for c in plan.changes] == [CLIENT]
    assert not any(s["parameters"].get("Identity") == FRONTEND for s in receive_plan.write_steps(plan))


def test_unknown_services_with_enable_smtp_refuse() -> None:
    server = stale([r11(services="unknown", properties_complete=False)])
    plan = receive_plan.plan(server)
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert "did not return the services" in decision.reason
    # What fixes it on a Mailbox server, never the snap-in (it bypasses RBAC; unsupported outside recovery).
    assert "serializationLevel=Full" in decision.reason and "Auth certificate" in decision.reason and "snapin" not in decision.reason
    assert plan.changes == [] and plan.smtp == []
    with pytest.raises(PlanError, match="enable_smtp=false if you know SMTP is enabled"):
        receive_plan.plan(server, identities=["Default Frontend EX01"])


def test_unknown_services_without_enable_smtp_proceed_with_a_warning() -> None:
    plan = receive_plan.plan(stale([r11(services="unknown", properties_complete=False)]), enable_smtp=False)
    decision = decision_of(plan)
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)
    assert plan.smtp == []
    assert plan.changes == [Change("receive_connector", FRONTEND, "TlsCertificateName", R10_NAME, R11_NAME, "EX01")]
    (warning,) = plan.warnings
    assert R11_THUMB in warning and FRONTEND in warning and "enable_smtp=false" in warning


@pytest.mark.parametrize("internal", [None, R12_THUMB], ids=["unset", "not-in-store"])
def test_missing_default_smtp_certificate_refuses_to_enable_smtp(internal) -> None:
    server = stale([r11(services=["IIS"])])
    server["internal_transport_certificate"] = internal
    decision = decision_of(receive_plan.plan(server))
    assert decision.status == BLOCKED
    assert "Recreate the default first" in decision.reason
    assert "New-ExchangeCertificate -Services SMTP -Force" in decision.reason
    with pytest.raises(PlanError, match="Recreate the default first"):
        receive_plan.plan(server, identities=[FRONTEND])


def test_missing_default_does_not_matter_when_smtp_is_already_enabled() -> None:
    server = stale([r11()])
    server["internal_transport_certificate"] = None
    assert decision_of(receive_plan.plan(server)).status == CHANGE


# --------------------------------------------------------------------------
# certificate: a thumbprint
# --------------------------------------------------------------------------


def test_thumbprint_not_in_the_store_lists_the_certificates() -> None:
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(stale([r11()]), identities=[FRONTEND], certificate=R12_THUMB)
    message = str(raised.value)
    assert f"certificate {R12_THUMB} is not in the certificate store of EX01" in message
    assert R11_THUMB in message and DEFAULT_THUMB in message
    assert "expires 2027-01-17T00:00:00Z" in message


@pytest.mark.parametrize(
    "certificate, thumbprint, words",
    [
        (r10(), R10_THUMB, "it expired on 2026-10-19T00:00:00Z"),
        (r12(has_private_key=False), R12_THUMB, "it has no private key"),
        (r12(has_private_key="unknown"), R12_THUMB, "Exchange did not say whether it has a private key"),
        (r12(status="Revoked"), R12_THUMB, "its status is Revoked"),
        (r12(not_before="2026-12-01T00:00:00Z"), R12_THUMB, "it is not valid before 2026-12-01T00:00:00Z"),
        (self_signed_mail(), SELF_MAIL_THUMB, "it is self-signed"),
    ],
    ids=["expired", "no-private-key", "private-key-unknown", "revoked", "not-yet-valid", "self-signed-hybrid"],
)
def test_thumbprint_of_an_unusable_certificate_is_refused(certificate, thumbprint, words) -> None:
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(facts([r11(), certificate], [frontend()]), identities=[FRONTEND], certificate=thumbprint)
    message = str(raised.value)
    assert message.startswith(f"certificate {thumbprint} cannot be named by {FRONTEND}:")
    assert words in message


def test_self_signed_thumbprint_is_fine_on_a_connector_that_is_not_hybrid() -> None:
    server = facts([r11(), self_signed_mail()], [receive_connector(tls_certificate_name=R11_NAME)])
    decision = decision_of(receive_plan.plan(server, identities=[FRONTEND], certificate=SELF_MAIL_THUMB))
    assert (decision.status, decision.expected) == (CHANGE, self_signed_mail()["tls_certificate_name"])


def test_thumbprint_not_covering_the_connector_fqdn_is_refused() -> None:
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(facts([r11()], [receive_connector(), hub()]), identities=[FRONTEND],
                          certificate=DEFAULT_THUMB)
    message = str(raised.value)
    assert f"certificate {DEFAULT_THUMB} covers neither mail.contoso.com nor mail.contoso.com" not in message
    assert f"certificate {DEFAULT_THUMB} covers neither mail.contoso.com" in message and FRONTEND in message
    assert "its names are EX01, ex01.contoso.com" in message
    # The same certificate is right for the hub connector, whose FQDN is the server's.
    decision = decision_of(receive_plan.plan(facts([r11()], [receive_connector(), hub()]), identities=[HUB],
                                             certificate=DEFAULT_THUMB), HUB)
    assert (decision.status, decision.expected) == (CHANGE, DEFAULT["tls_certificate_name"])


def test_connector_without_fqdn_must_be_covered_for_the_server_fqdn() -> None:
    with pytest.raises(PlanError, match="covers neither ex01.contoso.com"):
        receive_plan.plan(facts([r11()], [receive_connector(fqdn=None, tls_certificate_name=None)]), identities=[FRONTEND],
                          certificate=R11_THUMB)


def test_a_thumbprint_covering_the_stale_names_host_is_accepted_whatever_the_connector_fqdn() -> None:
    # A Default Frontend connector usually announces the server's FQDN while mail arrives for mail.contoso.com:
    # the renewal of the certificate it named is right for it, by thumbprint as by auto.
    server = facts([r11()], [receive_connector(fqdn="ex01.contoso.com", tls_certificate_name=R10_NAME)])
    by_thumbprint = decision_of(receive_plan.plan(server, identities=[FRONTEND], certificate=R11_THUMB))
    by_policy = decision_of(receive_plan.plan(server, identities=[FRONTEND]))
    assert (by_thumbprint.status, by_thumbprint.expected) == (by_policy.status, by_policy.expected) == (CHANGE, R11_NAME)


def test_thumbprint_typed_with_spaces_and_lower_case_is_accepted() -> None:
    typed = " ".join(R12_THUMB[i:i + 2] for i in range(0, 40, 2)).lower()
    plan = receive_plan.plan(facts([r11(), r12()], [frontend()]), identities=[FRONTEND],
                             certificate=parse_thumbprint(typed))
    decision = decision_of(plan)
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R11_NAME, R12_NAME)
    assert decision.certificate["thumbprint"] == R12_THUMB


def test_a_sweep_with_a_thumbprint_gives_it_to_drifted_connectors_only() -> None:
    server = facts([r11(), r12()], [frontend(tls_certificate_name=R10_NAME), client_frontend(tls_certificate_name=R11_NAME)])
    plan = receive_plan.plan(server, certificate=R12_THUMB)
    moved = decision_of(plan)
    assert (moved.status, moved.current, moved.expected) == (CHANGE, R10_NAME, R12_NAME)
    healthy = decision_of(plan, CLIENT)
    assert (healthy.status, healthy.reason) == (UNCHANGED, "not drifted")
    assert [c.object for c in plan.changes] == [FRONTEND]


def test_a_sweep_with_a_thumbprint_blocks_a_drifted_connector_it_does_not_fit() -> None:
    # The hub connector's FQDN is ex01.contoso.com and its stale name was for another host; R12's certificate
    # is for mail.contoso.com.
    stale_other = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=relay.contoso.com"
    server = facts([r11(), r12()], [frontend(tls_certificate_name=R10_NAME), hub(tls_certificate_name=stale_other)])
    plan = receive_plan.plan(server, certificate=R12_THUMB)
    assert decision_of(plan).status == CHANGE
    blocked = decision_of(plan, HUB)
    assert blocked.status == BLOCKED
    assert "covers neither ex01.contoso.com nor relay.contoso.com" in blocked.reason
    assert [c.object for c in plan.changes] == [FRONTEND]


def test_a_sweep_with_a_thumbprint_not_in_the_store_is_refused() -> None:
    with pytest.raises(PlanError, match=f"certificate {R12_THUMB} is not in the certificate store of EX01"):
        receive_plan.plan(facts(), certificate=R12_THUMB)


def test_thumbprint_of_the_certificate_already_named_is_unchanged() -> None:
    decision = decision_of(receive_plan.plan(facts(), identities=[FRONTEND], certificate=R11_THUMB))
    assert decision.status == UNCHANGED
    assert decision.reason == "it already names this certificate"


def test_thumbprint_of_a_certificate_lacking_smtp_enables_it_first() -> None:
    plan = receive_plan.plan(facts([r11(), r12(services=[])], [frontend()]), identities=[FRONTEND], certificate=R12_THUMB)
    assert decision_of(plan).smtp == [f"EX01\\{R12_THUMB}"]
    assert [(i.thumbprint, i.services_before) for i in plan.smtp] == [(R12_THUMB, [])]
    assert Change("certificate", R12_THUMB, "Services", [], ["SMTP"], "EX01") in plan.changes


# --------------------------------------------------------------------------
# No replacement, or several
# --------------------------------------------------------------------------


def test_no_replacement_blocks_the_connector_in_a_sweep() -> None:
    plan = receive_plan.plan(stale([]))
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert decision.details == {"finding": "no_replacement_certificate"}
    assert "Install (import) the renewed certificate" in decision.reason
    assert plan.changes == []
    with pytest.raises(PlanError, match="no_replacement|can replace"):
        receive_plan.plan(stale([]), identities=[FRONTEND])


def test_no_replacement_when_the_renewal_has_no_private_key() -> None:
    decision = decision_of(receive_plan.plan(stale([r11(has_private_key=False)])))
    assert decision.status == BLOCKED
    assert f"{R11_THUMB} ({MAIL}): it has no private key" in decision.reason


def ambiguous() -> dict:
    """The stale name's CN is on two certificates with different subjects: the policy does not guess."""
    old = f"<I>{SECTIGO_OV}<S>{OV_WITH_OU}"
    contoso = cert(issuer=SECTIGO_OV, subject=OV_WITHOUT_OU, thumbprint=OV_THUMB)
    other = cert(issuer=SECTIGO_OV, subject="CN=mail.contoso.com, O=Contoso Holdings", thumbprint=R12_THUMB)
    return facts([contoso, other], [frontend(tls_certificate_name=old)])


def test_ambiguous_replacement_blocks_a_sweep_and_refuses_an_explicit_identity() -> None:
    plan = receive_plan.plan(ambiguous())
    decision = decision_of(plan)
    assert decision.status == BLOCKED
    assert decision.details == {"finding": "ambiguous_replacement_certificate"}
    assert OV_THUMB in decision.reason and R12_THUMB in decision.reason
    assert plan.changes == []
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(ambiguous(), identities=[FRONTEND])
    assert "choose one and name it for this connector (the certificate option, or connector_tls_certificates in the role" in str(raised.value)


def test_ambiguous_replacement_is_resolved_by_a_thumbprint() -> None:
    decision = decision_of(receive_plan.plan(ambiguous(), identities=[FRONTEND], certificate=OV_THUMB))
    assert decision.status == CHANGE
    assert decision.certificate["thumbprint"] == OV_THUMB


# --------------------------------------------------------------------------
# state=absent
# --------------------------------------------------------------------------


def test_state_absent_clears_the_name() -> None:
    plan = receive_plan.plan(facts(), identities=[FRONTEND], state="absent")
    decision = decision_of(plan)
    assert (decision.status, decision.current, decision.expected) == (CHANGE, R11_NAME, None)
    assert "KB2989382" in decision.reason
    assert plan.changes == [Change("receive_connector", FRONTEND, "TlsCertificateName", R11_NAME, None, "EX01")]
    sets = [s for s in receive_plan.write_steps(plan) if s["cmdlet"] == "Set-ReceiveConnector"]
    assert [s["parameters"] for s in sets] == [{"Identity": FRONTEND, "TlsCertificateName": None}]


def test_state_absent_on_a_connector_without_a_name_is_unchanged() -> None:
    plan = receive_plan.plan(facts(), identities=[HUB], state="absent")
    assert decision_of(plan, HUB).status == UNCHANGED
    assert plan.changes == []


def test_state_absent_needs_an_identity() -> None:
    with pytest.raises(PlanError, match="state=absent needs identity"):
        receive_plan.plan(facts(), state="absent")


def test_state_absent_refuses_a_thumbprint() -> None:
    with pytest.raises(PlanError, match="certificate cannot be combined with state=absent"):
        receive_plan.plan(facts(), identities=[FRONTEND], certificate=R11_THUMB, state="absent")


def test_state_must_be_present_or_absent() -> None:
    with pytest.raises(PlanError, match="state must be 'present' or 'absent', got 'gone'"):
        receive_plan.plan(facts(), identities=[FRONTEND], state="gone")


# --------------------------------------------------------------------------
# identity
# --------------------------------------------------------------------------


def test_unknown_identity_lists_the_connectors_of_the_server() -> None:
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(facts(), identities=["EX01\\Default Frontend EX02"])
    message = str(raised.value)
    assert "'EX01\\\\Default Frontend EX02' is not a receive connector of EX01" in message
    assert repr(FRONTEND) in message and repr(HUB) in message


@pytest.mark.parametrize("identity", [FRONTEND, "Default Frontend EX01", "default frontend ex01",
                                      "ex01\\DEFAULT FRONTEND EX01", "  Default Frontend EX01 "])
def test_identity_matches_the_bare_name_or_server_name_in_any_case(identity) -> None:
    plan = receive_plan.plan(stale(), identities=[identity])
    assert [d.object for d in plan.decisions] == [FRONTEND]
    assert plan.decisions[0].status == CHANGE


def test_an_identity_named_twice_is_decided_once() -> None:
    plan = receive_plan.plan(stale(), identities=[FRONTEND, "Default Frontend EX01"])
    assert [d.object for d in plan.decisions] == [FRONTEND]
    assert len(plan.changes) == 1


def test_explicit_identity_leaves_the_other_drifted_connectors_alone() -> None:
    server = facts([r11()], [frontend(tls_certificate_name=R10_NAME), client_frontend(tls_certificate_name=R10_NAME)])
    plan = receive_plan.plan(server, identities=[CLIENT])
    assert [d.object for d in plan.decisions] == [CLIENT]
    assert [c.object for c in plan.changes] == [CLIENT]


# --------------------------------------------------------------------------
# write_steps
# --------------------------------------------------------------------------


def test_write_steps_guard_everything_before_any_write_then_read_back() -> None:
    server = facts([r11(), r12()], [frontend(tls_certificate_name=R10_NAME),
                                    client_frontend(tls_certificate_name=R10_NAME), hub()])
    plan = receive_plan.plan(server)
    steps = receive_plan.write_steps(plan)

    guards = position(steps, lambda s: "guard" in s)
    sets = position(steps, lambda s: s["cmdlet"] == "Set-ReceiveConnector")
    readbacks = position(steps, lambda s: s["id"].startswith("readback|"))
    assert len(sets) == 2
    assert max(guards) < min(sets)
    assert max(sets) < min(readbacks)
    assert len(readbacks) == 2
    assert not any(s["parameters"].get("Identity") == HUB for s in steps)
    assert all(not s["cmdlet"].startswith(("Set-", "Enable-", "New-", "Remove-")) or i in sets
               for i, s in enumerate(steps))


def test_write_steps_guard_with_the_value_the_decision_was_made_from() -> None:
    plan = receive_plan.plan(stale([r11()]))
    steps = {s["id"]: s for s in receive_plan.write_steps(plan)}

    connector_guard = steps[f"guard|receive_connector|{FRONTEND}"]
    assert connector_guard["cmdlet"] == "Get-ReceiveConnector"
    assert connector_guard["parameters"] == {"Identity": FRONTEND}
    assert connector_guard["guard"] == {"TlsCertificateName": R10_NAME}

    certificate_guard = steps[f"guard|certificate|{R11_THUMB}"]
    assert certificate_guard["parameters"] == {"Server": "EX01", "Thumbprint": R11_THUMB}
    assert certificate_guard["guard"] == {"Thumbprint": R11_THUMB}

    write = steps[f"set|receive_connector|{FRONTEND}"]
    assert write["parameters"] == {"Identity": FRONTEND, "TlsCertificateName": R11_NAME}

    readback = steps[f"readback|receive_connector|{FRONTEND}"]
    assert readback["cmdlet"] == "Get-ReceiveConnector" and "guard" not in readback
    assert "TlsCertificateName" in readback["properties"]


def test_write_steps_guard_a_name_that_was_null_with_null() -> None:
    plan = receive_plan.plan(facts([r11()], [frontend(tls_certificate_name=None)]))
    steps = {s["id"]: s for s in receive_plan.write_steps(plan)}
    assert steps[f"guard|receive_connector|{FRONTEND}"]["guard"] == {"TlsCertificateName": None}


def test_write_steps_guard_a_certificate_named_by_two_connectors_once() -> None:
    server = facts([r11()], [frontend(tls_certificate_name=R10_NAME), client_frontend(tls_certificate_name=R10_NAME)])
    steps = receive_plan.write_steps(receive_plan.plan(server))
    assert [s["id"] for s in steps].count(f"guard|certificate|{R11_THUMB}") == 1


def test_write_steps_after_enabling_smtp_first_check_the_default_is_still_in_place() -> None:
    plan = receive_plan.plan(stale([r11(services=["IIS"])]))
    steps = receive_plan.write_steps(plan)
    first = steps[0]
    assert first["id"] == "verify|transport_service|EX01"
    assert first["guard"] == {"InternalTransportCertificateThumbprint": DEFAULT_THUMB}
    assert [s["id"] for s in steps].index(f"set|receive_connector|{FRONTEND}") > 0
    # Enabling SMTP happens in its own launch (smtp_enable.enable_steps), never in the write launch.
    assert not any(s["cmdlet"] == "Enable-ExchangeCertificate" for s in steps)


def test_write_steps_of_a_blocked_plan_write_nothing() -> None:
    plan = receive_plan.plan(stale([]))
    assert receive_plan.write_steps(plan) == []


def test_plan_does_not_change_the_facts() -> None:
    server = stale([r11(services=["IIS"])])
    before = repr(server)
    receive_plan.write_steps(receive_plan.plan(server))
    assert repr(server) == before


def test_a_thumbprint_whose_name_presents_a_newer_unusable_twin_is_refused() -> None:
    # Naming R11's certificate names every certificate with its issuer and subject; transport takes the newest.
    revoked_twin = r11(thumbprint="AB" * 20, not_before="2026-11-20T00:00:00Z", not_after="2027-02-18T00:00:00Z", status="Revoked")
    with pytest.raises(PlanError, match=f"transport would present the newer {'AB' * 20}, which cannot be used: its status is Revoked"):
        receive_plan.plan(stale([r11(), revoked_twin]), identities=[FRONTEND], certificate=R11_THUMB)


def test_smtp_goes_to_the_twin_transport_will_present() -> None:
    newer_twin = r11(thumbprint="CD" * 20, not_before="2026-11-20T00:00:00Z", not_after="2027-02-18T00:00:00Z", services=["IIS"])
    plan = receive_plan.plan(stale([r11(), newer_twin]), identities=[FRONTEND], certificate=R11_THUMB)
    assert [item.thumbprint for item in plan.smtp] == ["CD" * 20]
    assert decision_of(plan).certificate["thumbprint"] == "CD" * 20


# --------------------------------------------------------------------------
# Edge receive connectors: the 256-character cap of the Edge's AD LDS (KB 4052493)
# --------------------------------------------------------------------------

EV_ISSUER = "CN=DigiCert EV RSA CA G2, O=DigiCert Inc, C=US"
EV_SUBJECT = ("CN=mail.contoso.com, SERIALNUMBER=600123456, OID.1.3.6.1.4.1.311.60.2.1.2=Washington,"
              " OID.1.3.6.1.4.1.311.60.2.1.3=US, OID.2.5.4.15=Private Organization,"
              " O=Contoso Pharmaceuticals International Holdings Ltd, L=Redmond, S=Washington, C=US")
EDGE_CONNECTOR = "EDGE01\\Default internal receive connector EDGE01"


def edge(certificates, role: str = "Edge") -> dict:
    """EDGE01 (or the same server as a Mailbox one), its receive connector naming R10's removed certificate."""
    connector = receive_connector(identity=EDGE_CONNECTOR, name="Default internal receive connector EDGE01", server="EDGE01",
                                  transport_role=None, tls_certificate_name=R10_NAME)
    return server_facts("EDGE01", role, certificates=[own_certificate_of("EDGE01")] + certificates,
                        receive_connectors=[connector])


def test_an_edge_receive_connector_is_never_given_a_name_longer_than_256_characters() -> None:
    long_one = cert(issuer=EV_ISSUER, subject=EV_SUBJECT, not_before="2026-11-10T00:00:00Z", not_after="2027-11-10T00:00:00Z")
    assert len(long_one["tls_certificate_name"]) == 289
    plan = receive_plan.plan(edge([long_one]))
    (decision,) = plan.decisions
    assert decision.status == BLOCKED and decision.expected == long_one["tls_certificate_name"]
    assert decision.reason.startswith(f"{EDGE_CONNECTOR} is on an Edge server and the name is 289 characters long")
    assert "KB 4052493" in decision.reason and "shorter" in decision.reason
    assert plan.changes == [] and plan.smtp == [] and receive_plan.write_steps(plan) == []
    # Named explicitly, it is refused before anything runs.
    with pytest.raises(PlanError, match="289 characters"):
        receive_plan.plan(edge([long_one]), [EDGE_CONNECTOR], long_one["thumbprint"])
    # A Mailbox server's connector stores it in full Active Directory, which has no such cap.
    assert receive_plan.plan(edge([long_one], role="Mailbox")).decisions[0].status == CHANGE


def test_an_edge_receive_connector_takes_a_name_that_fits() -> None:
    (decision,) = receive_plan.plan(edge([r11()])).decisions
    assert (decision.status, decision.expected) == (CHANGE, R11_NAME)


# --------------------------------------------------------------------------
# certificates and exempt: per-connector choices from the playbook (issue 19 item 10)
# --------------------------------------------------------------------------


def test_a_pinned_certificate_resolves_an_ambiguous_replacement_in_a_sweep() -> None:
    plan = receive_plan.plan(ambiguous(), certificates={FRONTEND.lower(): OV_THUMB})
    decision = decision_of(plan)
    assert decision.status == CHANGE and decision.certificate["thumbprint"] == OV_THUMB
    # The other policy choice was not taken: the pin, not a guess.
    assert R12_THUMB not in (decision.expected or "")


def test_a_pinned_certificate_leaves_a_healthy_connector_alone() -> None:
    decision = decision_of(receive_plan.plan(facts(), certificates={FRONTEND.lower(): R11_THUMB}))
    assert decision.status == UNCHANGED


def test_a_pinned_certificate_not_on_the_server_blocks_its_connector_and_says_where_it_came_from() -> None:
    decision = decision_of(receive_plan.plan(ambiguous(), certificates={FRONTEND.lower(): "AB" * 20}))
    assert decision.status == BLOCKED
    assert f"certificate {'AB' * 20} is not in the certificate store of EX01" in decision.reason
    assert "connector_tls_certificates in the role" in decision.reason


def test_a_pin_naming_no_connector_of_this_server_is_refused_naming_the_connectors() -> None:
    with pytest.raises(PlanError) as raised:
        receive_plan.plan(facts(), certificates={"ex01\\no such connector": R11_THUMB})
    assert "names 'ex01\\no such connector', which is not a receive connector of EX01" in str(raised.value)
    assert f"'{FRONTEND}'" in str(raised.value)
    # Another server's connectors are that server's to check.
    assert receive_plan.plan(facts(), certificates={"ex02\\default frontend ex02": R11_THUMB}).changes == []


def test_an_exempt_connector_is_neither_planned_nor_changed() -> None:
    plan = receive_plan.plan(ambiguous(), exempt={FRONTEND.lower(): "a partner that does not use TLS"})
    decision = decision_of(plan)
    assert (decision.status, decision.reason) == ("exempt", "exempt: a partner that does not use TLS")
    assert plan.changes == [] and plan.blocked == []
    assert decision.current == decision.expected
