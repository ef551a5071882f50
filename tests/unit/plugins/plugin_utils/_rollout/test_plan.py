# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's decisions (plugin_utils/_rollout/plan.py): what is renamed, and when a superseded certificate may go."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout import plan

OLD = "A" * 40
NEW = "B" * 40
ITC = "C" * 40
AUTH = "D" * 40
R10 = "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
R11 = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"


def ok(step_id: str, objects: list) -> dict:
    return {"id": step_id, "status": "ok", "objects": objects}


def read(**overrides) -> dict:
    """A retire read of EX01 where the old certificate may go."""
    steps = {
        "read|server": ok("read|server", [{"Name": "EX01", "IsEdgeServer": False}]),
        "read|old": ok("read|old", [{"Thumbprint": OLD, "Subject": "CN=mail.contoso.com", "Issuer": "CN=R10, O=Let's Encrypt, C=US",
                                     "Services": "SMTP"}]),
        "read|new": ok("read|new", [{"Thumbprint": NEW, "Subject": "CN=mail.contoso.com", "Issuer": "CN=R11, O=Let's Encrypt, C=US",
                                     "Services": "SMTP", "HasPrivateKey": True}]),
        "read|transport": ok("read|transport", [{"Identity": "EX01", "InternalTransportCertificateThumbprint": ITC}]),
        "read|send": ok("read|send", [{"Identity": "Outbound to Office 365", "TlsCertificateName": R11}]),
        "read|receive": ok("read|receive", [{"Identity": "EX01\\Default Frontend EX01", "TlsCertificateName": R11}]),
        "read|auth": ok("read|auth", [{"CurrentCertificateThumbprint": AUTH, "NextCertificateThumbprint": None}]),
        "read|hybrid": ok("read|hybrid", [{"TlsCertificateName": R11}]),
    }
    steps.update(overrides)
    return {"steps": [s for s in steps.values() if s is not None]}


def decide(raw: dict, proven=None) -> plan.Retirement:
    return plan.decide_retirement(raw, "EX01", OLD, NEW, proven)


def test_nothing_needs_it_so_it_goes_and_the_removal_is_guarded_by_every_read():
    decision = decide(read())
    assert decision.remove and decision.kept_because == []
    assert decision.as_dict()["can_be_undone"] is False and "cannot be undone" in decision.as_dict()["note"]
    steps = plan.retire_steps(decision)
    assert payload_contract.steps_problem(steps) is None
    guards = [s for s in steps if "guard" in s]
    remove = next(i for i, s in enumerate(steps) if s["cmdlet"] == "Remove-ExchangeCertificate")
    assert all(steps.index(g) < remove for g in guards)
    guarded = {(g["cmdlet"], tuple(sorted(g["guard"].items(), key=str))) for g in guards}
    assert ("Get-ReceiveConnector", (("TlsCertificateName", R11),)) in guarded
    assert ("Get-TransportService", (("InternalTransportCertificateThumbprint", ITC),)) in guarded
    assert ("Get-ExchangeCertificate", (("Services", "SMTP"), ("Thumbprint", OLD))) in guarded
    assert steps[remove]["parameters"] == {"Server": "EX01", "Thumbprint": OLD, "Confirm": False}


def test_absent_is_nothing_to_do():
    decision = decide(read(**{"read|old": {"id": "read|old", "status": "error", "objects": [], "error": "not found"}}))
    assert not decision.present and not decision.remove


@pytest.mark.parametrize("overrides, proven, words", [
    ({"read|new": {"id": "read|new", "status": "error", "objects": []}}, None, "is not in this server's store"),
    ({"read|new": ok("read|new", [{"Thumbprint": NEW, "Subject": "CN=mail.contoso.com", "Issuer": "CN=R11, O=Let's Encrypt, C=US",
                                   "Services": "IIS", "HasPrivateKey": True}])}, None, "is not enabled for SMTP"),
    ({}, "it presented " + OLD, "the SMTP probe has not shown the renewed certificate"),
    ({"read|old": ok("read|old", [{"Thumbprint": OLD, "Subject": "CN=mail.contoso.com", "Issuer": "CN=R10, O=Let's Encrypt, C=US",
                                   "Services": "IIS, SMTP"}])}, None, "it is enabled for IIS"),
    ({"read|transport": ok("read|transport", [{"InternalTransportCertificateThumbprint": OLD}])}, None, "internal transport"),
    ({"read|auth": ok("read|auth", [{"CurrentCertificateThumbprint": OLD}])}, None, "current Auth certificate"),
    ({"read|auth": ok("read|auth", [{"CurrentCertificateThumbprint": AUTH, "NextCertificateThumbprint": OLD}])}, None, "next Auth certificate"),
    ({"read|auth": {"id": "read|auth", "status": "error", "objects": []}}, None, "Get-AuthConfig could not be read"),
    ({"read|receive": ok("read|receive", [{"Identity": "EX01\\X", "TlsCertificateName": R10}])}, None, "receive connector EX01\\X still names it"),
    ({"read|send": ok("read|send", [{"Identity": "Out", "TlsCertificateName": "<S>CN=mail.contoso.com"}])}, None, "send connector Out still names it"),
    ({"read|hybrid": ok("read|hybrid", [{"TlsCertificateName": R10.upper()}])}, None, "the hybrid configuration still names it"),
    ({"read|send": {"id": "read|send", "status": "error", "objects": []}}, None, "the send connectors could not be read"),
])
def test_each_reason_keeps_it(overrides, proven, words):
    decision = decide(read(**overrides), proven)
    assert decision.present and not decision.remove
    assert any(words in reason for reason in decision.kept_because), decision.kept_because


def test_an_edge_server_has_no_auth_configuration_to_read():
    decision = decide(read(**{"read|server": ok("read|server", [{"IsEdgeServer": True}]),
                              "read|auth": {"id": "read|auth", "status": "error", "objects": []}, "read|hybrid": None}))
    assert decision.remove, decision.kept_because


def test_a_renewal_with_the_same_issuer_and_subject_names_microsofts_order():
    same = {"Thumbprint": NEW, "Subject": "CN=mail.contoso.com", "Issuer": "CN=R10, O=Let's Encrypt, C=US", "Services": "SMTP",
            "HasPrivateKey": True}
    decision = decide(read(**{"read|new": ok("read|new", [same]),
                              "read|send": ok("read|send", [{"Identity": "Out", "TlsCertificateName": R10}])}))
    assert not decision.remove
    assert any("cannot-remove-installed-certificate" in r and "clear the connector's TlsCertificateName" in r
               for r in decision.kept_because)


def test_import_steps_carry_the_bytes_as_base64_and_no_password():
    steps = plan.import_steps("EX01", NEW, b"\x30\x82pfx", exportable=False)
    assert payload_contract.steps_problem(steps) is None
    assert steps[0]["parameters"] == {"Server": "EX01", "FileData": base64.b64encode(b"\x30\x82pfx").decode()}
    assert "PrivateKeyExportable" in plan.import_steps("EX01", NEW, b"x", exportable=True)[0]["parameters"]


def test_targets_are_the_names_of_the_superseded_certificate_only():
    facts = {
        "certificates": [
            {"thumbprint": OLD, "subject": "CN=mail.contoso.com", "issuer": "CN=R10, O=Let's Encrypt, C=US", "tls_certificate_name": R10},
            {"thumbprint": NEW, "subject": "CN=mail.contoso.com", "issuer": "CN=R11, O=Let's Encrypt, C=US", "tls_certificate_name": R11},
            {"thumbprint": ITC, "subject": "CN=EX01", "issuer": "CN=EX01", "self_signed": True},
        ],
        "receive_connectors": [
            {"identity": "EX01\\A", "tls_certificate_name": R10},
            {"identity": "EX01\\B", "tls_certificate_name": R11},
            {"identity": "EX01\\C", "tls_certificate_name": "<I>CN=EX01<S>CN=EX01"},
            {"identity": "EX01\\D", "tls_certificate_name": R10, "enabled": False},
        ],
        "send_connectors": [{"name": "Out", "tls_certificate_name": R10}, {"name": "Other", "tls_certificate_name": None}],
        "hybrid_configuration": {"tls_certificate_name": R10},
    }
    found = plan.targets(facts, NEW, R11)
    assert found["receive_connectors"] == ["EX01\\A"]
    assert found["send_connectors"] == ["Out"] and found["hybrid_configuration"] is True
    assert [c["thumbprint"] for c in found["superseded"]] == [OLD]


def test_a_certificate_expiring_after_the_renewal_is_not_superseded():
    facts = {
        "certificates": [
            {"thumbprint": OLD, "subject": "CN=mail.contoso.com", "issuer": "CN=R10", "not_after": "2026-11-30T00:00:00Z"},
            {"thumbprint": ITC, "subject": "CN=mail.contoso.com", "issuer": "CN=R12", "not_after": "2027-06-01T00:00:00Z"},
        ],
        "receive_connectors": [], "send_connectors": [], "hybrid_configuration": None,
    }
    found = plan.targets(facts, NEW, R11, "2027-02-18T00:00:00Z")
    assert [c["thumbprint"] for c in found["superseded"]] == [OLD]
    assert [c["thumbprint"] for c in plan.targets(facts, NEW, R11)["superseded"]] == [OLD, ITC]


# -- a rollback undoing an import: the retire's rules with no renewal to check ------------------------


def undo_read(**overrides) -> dict:
    """The read of EX01 for taking out the certificate OLD a rollout imported: no renewal in it, nothing names OLD."""
    return read(**{"read|new": None, **overrides})


def test_undoing_an_import_reads_no_renewal_and_judges_what_keeps_a_certificate_alone():
    steps = plan.retire_read_steps("EX01", OLD, None)
    assert "read|new" not in [s["id"] for s in steps] and payload_contract.steps_problem(steps) is None
    decision = plan.decide_retirement(undo_read(), "EX01", OLD, None, None)
    assert decision.remove, decision.kept_because
    kept = plan.decide_retirement(undo_read(**{"read|receive": ok("read|receive", [
        {"Identity": "EX01\\Default Frontend EX01", "TlsCertificateName": R10}])}), "EX01", OLD, None, None)
    assert not kept.remove and kept.kept_because == [
        f"receive connector EX01\\Default Frontend EX01 still names it ({R10}); rename it first"]


def test_check_mode_decides_on_the_names_as_the_rollback_will_leave_them():
    named = undo_read(**{"read|send": ok("read|send", [{"Identity": "Outbound to Office 365", "TlsCertificateName": R10}]),
                         "read|hybrid": ok("read|hybrid", [{"TlsCertificateName": R10}])})
    assert not plan.decide_retirement(named, "EX01", OLD, None, None).remove
    restored = plan.as_restored(named, [{"object_type": "send_connector", "object": "outbound to office 365", "before": R11},
                                        {"object_type": "hybrid_configuration", "object": "Hybrid Configuration", "before": R11}])
    assert plan.decide_retirement(restored, "EX01", OLD, None, None).remove
    # The read itself is left as it was.
    assert not plan.decide_retirement(named, "EX01", OLD, None, None).remove


# -- IIS on request --------------------------------------------------------------------------------


def test_iis_is_enabled_guarded_by_the_services_read_without_force_and_recorded_as_services():
    steps = plan.iis_steps("EX01", NEW, {"Thumbprint": NEW, "Services": "SMTP"})
    assert payload_contract.steps_problem(steps) is None
    assert steps[0]["guard"] == {"Thumbprint": NEW, "Services": "SMTP"}
    assert steps[1]["cmdlet"] == "Enable-ExchangeCertificate" and steps[1]["parameters"] == {
        "Server": "EX01", "Thumbprint": NEW, "Services": "IIS"}
    assert plan.iis_steps("EX01", NEW, {"Services": None})[0]["guard"]["Services"] is None
    change = plan.iis_change("EX01", NEW, plan.services_of({"Services": "SMTP"})).as_dict()
    assert (change["object_type"], change["property"], change["before"], change["after"]) == (
        "certificate", "Services", ["SMTP"], ["SMTP", "IIS"])
    assert plan.services_of({"Services": "None"}) == [] and plan.services_of({"Services": "IMAP, IIS"}) == ["IMAP", "IIS"]


def test_the_role_read_says_edge():
    assert plan.is_edge({"steps": [ok("read|server", [{"Name": "EDGE01", "IsEdgeServer": True}])]})
    assert not plan.is_edge({"steps": [ok("read|server", [{"Name": "EX01", "IsEdgeServer": False}])]})
    assert [s["cmdlet"] for s in plan.store_read_steps("EX01", role=True)] == ["Get-ExchangeCertificate", "Get-ExchangeServer"]
