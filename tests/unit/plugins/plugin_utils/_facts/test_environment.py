# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_facts/environment.py: the environment checks judged from a crafted read batch.

The batches are written by hand in the payload's shape (exchange_command's steps with
status, objects, error), in the forms a real session can return: enums by name or as
integers, certificates with or without their Exchange properties, only RawData, a
trimmed RBAC set, an Edge server.
"""

from __future__ import annotations

import copy
import json
import pathlib

import jsonschema
import pytest

from ansible_collections.exchange.transport_tls.plugins.action import exchange_environment_report as report
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import transport_facts
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import environment
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract

ROOT = pathlib.Path(__file__).resolve().parents[5]
SCHEMA = jsonschema.Draft202012Validator(json.loads((ROOT / "schemas/environment-v1.schema.json").read_text()))
THUMB = "0F1E2D3C4B5A69788796A5B4C3D2E1F00112233A"
ALL_CMDLETS = (
    "Get-ExchangeServer", "Get-ExchangeCertificate", "Enable-ExchangeCertificate", "Get-ReceiveConnector",
    "Set-ReceiveConnector", "Get-SendConnector", "Set-SendConnector", "Get-TransportService",
    "Get-HybridConfiguration", "Set-HybridConfiguration", "Get-WinEvent", "Restart-Service",
)


def certificate(**overrides):
    obj = {
        "Thumbprint": THUMB, "Subject": "CN=mail.contoso.com", "Issuer": "CN=R11, O=Let's Encrypt, C=US",
        "NotBefore": "2026-10-19T00:00:00Z", "NotAfter": "2027-01-17T00:00:00Z", "Services": "IIS, SMTP",
        "Status": "Valid", "HasPrivateKey": True, "IsSelfSigned": False, "RootCAType": "ThirdParty",
        "CertificateDomains": ["mail.contoso.com"], "FriendlyName": "", "RawData": None,
    }
    obj.update(overrides)
    return obj


def batch(role="Mailbox", version="Version 15.2 (Build 1544.4)", certificates=None, session="remote",
          available=ALL_CMDLETS, enum_role=None):
    edge = role == "Edge"
    server = {"Name": "EX01", "Fqdn": "ex01.contoso.com", "ServerRole": enum_role or role, "IsEdgeServer": edge,
              "AdminDisplayVersion": version, "Edition": "Standard"}
    receive = {"Identity": "EX01\\Default Frontend EX01", "Name": "Default Frontend EX01", "Server": "EX01",
               "TransportRole": "FrontendTransport", "Bindings": ["0.0.0.0:25"], "Fqdn": "mail.contoso.com",
               "AuthMechanism": "Tls, Integrated", "PermissionGroups": "AnonymousUsers, ExchangeServers",
               "TlsCertificateName": None, "TlsDomainCapabilities": [], "RequireTLS": False, "Enabled": True}
    objects = {
        "server": [server],
        "certificates": [certificate()] if certificates is None else certificates,
        "receive_connectors": [receive],
        "send_connectors": [],
        "transport_service": [{"Name": "EX01", "InternalTransportCertificateThumbprint": THUMB}],
        "hybrid_configuration": [],
        "events": [],
        # An organisation without Edge servers: Get-ExchangeServer lists this server alone, and there is no
        # Edge Subscription to test.
        "organization_servers": [{"Name": "EX01", "IsEdgeServer": edge}],
        "edgesync": [],
    }
    steps = [{"id": step["id"], "cmdlet": step["cmdlet"], "status": "ok", "objects": objects[step["id"]],
              "warnings": [], "error": None, "error_id": None} for step in environment.read_steps("EX01")]
    result = {"changed": False, "computer_name": "EX01", "utc_now": "2026-11-27T12:00:00Z", "steps": steps,
              "stop": None, "session": session}
    if available is not None:
        result["available_cmdlets"] = list(available)
    return result


def judge(raw):
    try:
        facts, error = transport_facts.parse_read(raw, "EX01"), None
    except transport_facts.FactsError as exc:
        facts, error = None, str(exc)
    checks = environment.server_checks(raw, facts, error)
    return {check["name"]: check for check in checks}, checks


def step(raw, step_id):
    return next(s for s in raw["steps"] if s["id"] == step_id)


def test_read_steps_are_the_audits_and_the_edgesync_reads_all_tolerant_and_read_only():
    audit = [s["cmdlet"] for s in transport_facts.read_steps("EX01")]
    steps = environment.read_steps("EX01")
    assert [s["cmdlet"] for s in steps] == audit + ["Get-ExchangeServer", "Test-EdgeSynchronization"]
    assert steps[-1]["parameters"] == {"ExcludeRecipientTest": True}
    assert all(s["continue_on_error"] for s in steps)
    assert all(s["cmdlet"] in payload_contract.READ_CMDLETS for s in steps)
    assert payload_contract.steps_problem(steps) is None
    # A caller that changes its steps does not change the next batch.
    steps[-1]["parameters"]["ExcludeRecipientTest"] = False
    assert environment.read_steps("EX01")[-1]["parameters"] == {"ExcludeRecipientTest": True}


def test_a_healthy_mailbox_server_passes_every_check():
    by_name, checks = judge(batch())
    assert [c["name"] for c in checks] == ["reads", "session", "version", "certificate_fidelity", "enum_form", "rbac"]
    assert {c["status"] for c in checks} == {"pass"}, checks
    assert "Exchange Server 2019 CU14" in by_name["version"]["found"]
    assert environment.verdict(checks) == "pass"


@pytest.mark.parametrize("version, expected, status", [
    ("Version 15.1 (Build 2507.6)", "Exchange Server 2016 CU23", "pass"),
    ("Version 15.2 (Build 1748.10)", "Exchange Server 2019 CU15", "pass"),
    ("Version 15.2 (Build 2562.17)", "Subscription Edition RTM", "pass"),
    ("Version 15.2 (Build 2700.5)", "Subscription Edition (an update later", "pass"),
    ("Version 15.2 (Build 1258.12)", "Exchange Server 2019 build 1258", "warn"),
    ("Version 15.0 (Build 1497.2)", "Exchange Server 2013 build 1497", "warn"),
    ("something else", "'something else'", "warn"),
])
def test_version_against_the_supported_cumulative_updates(version, expected, status):
    by_name, _checks = judge(batch(version=version))
    assert by_name["version"]["status"] == status
    assert expected in by_name["version"]["found"]


def test_enums_as_integers_warn_and_say_so():
    certs = [certificate(Services=24, Status=1, RootCAType=1)]
    raw = batch(certificates=certs, enum_role=2)
    receive = step(raw, "receive_connectors")["objects"][0]
    receive.update(TransportRole=16384, AuthMechanism=3, PermissionGroups=5)
    by_name, _checks = judge(raw)
    assert by_name["enum_form"]["status"] == "warn"
    assert by_name["enum_form"]["found"].startswith("integers")
    assert by_name["certificate_fidelity"]["status"] == "pass"


def test_mixed_enum_forms_are_named_mixed():
    by_name, _checks = judge(batch(certificates=[certificate(Services="27")]))
    assert by_name["enum_form"]["status"] == "warn"
    assert "mixed" in by_name["enum_form"]["found"]


def test_remote_view_without_exchange_properties_fails_fidelity():
    cert = certificate()
    for key in ("Services", "Status", "IsSelfSigned", "RootCAType"):
        del cert[key]
    by_name, checks = judge(batch(certificates=[cert, copy.deepcopy(cert)]))
    fidelity = by_name["certificate_fidelity"]
    assert fidelity["status"] == "fail"
    assert fidelity["found"] == "Services, Status, RootCAType missing on 2 of 2 certificates"
    assert "remediation blocks" in fidelity["meaning"]
    assert "serializationLevel=Full" in fidelity["action"]
    assert environment.verdict(checks) == "fail"


def test_null_properties_count_as_missing():
    by_name, _checks = judge(batch(certificates=[certificate(HasPrivateKey=None)]))
    assert by_name["certificate_fidelity"]["status"] == "fail"
    assert by_name["certificate_fidelity"]["found"].startswith("HasPrivateKey missing")


def test_raw_data_only_fails_fidelity_and_says_only_raw_data_arrived():
    by_name, _checks = judge(batch(certificates=[{"RawData": "MIIB"}]))
    assert by_name["certificate_fidelity"]["status"] == "fail"
    assert "only RawData arrived" in by_name["certificate_fidelity"]["found"]


def test_no_certificate_is_not_checked_not_pass():
    by_name, _checks = judge(batch(certificates=[]))
    assert by_name["certificate_fidelity"]["status"] == "not_checked"


def test_missing_write_cmdlet_warns_audit_works_remediation_not():
    available = [c for c in ALL_CMDLETS if c != "Set-ReceiveConnector"]
    by_name, checks = judge(batch(available=available))
    assert by_name["rbac"]["status"] == "warn"
    assert by_name["rbac"]["found"] == "not available to this account: Set-ReceiveConnector"
    assert by_name["rbac"]["meaning"] == "the audit works; the remediation cannot change this server"
    assert environment.verdict(checks) == "warn"


def test_missing_read_cmdlet_fails_rbac():
    available = [c for c in ALL_CMDLETS if c not in ("Get-TransportService", "Set-SendConnector")]
    by_name, _checks = judge(batch(available=available))
    assert by_name["rbac"]["status"] == "fail"
    assert "Get-TransportService" in by_name["rbac"]["found"] and "Set-SendConnector" in by_name["rbac"]["found"]


def test_rbac_compares_case_insensitively():
    by_name, _checks = judge(batch(available=[c.lower() for c in ALL_CMDLETS]))
    assert by_name["rbac"]["status"] == "pass"


def test_without_available_cmdlets_rbac_is_not_checked():
    by_name, _checks = judge(batch(available=None))
    assert by_name["rbac"]["status"] == "not_checked"


def test_a_read_refused_by_active_directory_fails_rbac_even_when_the_cmdlet_was_imported():
    raw = batch()
    refused = step(raw, "certificates")
    refused.update(status="error", objects=[], error_id="ADOperationException,GetExchangeCertificate",
                   error="Active Directory operation failed on DC01. Additional information: Insufficient access rights "
                         "to perform the operation.")
    by_name, _checks = judge(raw)
    assert by_name["rbac"]["status"] == "fail"
    assert by_name["rbac"]["found"] == "not available to this account: Get-ExchangeCertificate"
    assert by_name["certificate_fidelity"]["status"] == "not_checked"


def test_hybrid_configuration_failing_on_edge_is_not_a_refusal():
    available = [c for c in ALL_CMDLETS if "Hybrid" not in c]
    raw = batch(role="Edge", session="snapin", available=available)
    step(raw, "hybrid_configuration").update(
        status="error", objects=[], error="The term 'Get-HybridConfiguration' is not recognized as the name of a cmdlet",
        error_id="CommandNotFoundException")
    by_name, _checks = judge(raw)
    assert by_name["rbac"]["status"] == "pass" and by_name["reads"]["status"] == "pass"


def test_a_refused_read_fails_reads_and_rbac():
    raw = batch(available=None)
    refused = step(raw, "receive_connectors")
    refused.update(status="error", objects=[], error="Access is denied.", error_id="AccessDenied,GetReceiveConnector")
    by_name, checks = judge(raw)
    assert by_name["reads"]["status"] == "fail"
    assert "Get-ReceiveConnector failed: Access is denied." in by_name["reads"]["found"]
    assert by_name["rbac"]["status"] == "fail"
    assert environment.verdict(checks) == "fail"


def test_a_launch_that_failed_is_a_failed_read_and_nothing_passes():
    raw = {"failed": True, "steps": [], "msg": "the read launch on EX01 failed: could not open the Exchange session"}
    checks = environment.server_checks(raw, None, raw["msg"])
    by_name = {c["name"]: c for c in checks}
    assert by_name["reads"]["status"] == "fail"
    assert "could not open the Exchange session" in by_name["reads"]["found"]
    assert "pass" not in {c["status"] for c in checks}
    assert environment.verdict(checks) == "fail"


def test_session_rules_per_role():
    by_name, _checks = judge(batch(session="snapin"))
    assert by_name["session"]["status"] == "warn"
    by_name, _checks = judge(batch(role="Edge", session="remote"))
    assert by_name["session"]["status"] == "fail"
    by_name, _checks = judge(batch(session=None))
    assert by_name["session"]["status"] == "not_checked"


def test_edge_server_gets_the_edge_checks_and_edgesync_not_checked():
    available = [c for c in ALL_CMDLETS if "Hybrid" not in c]
    by_name, checks = judge(batch(role="Edge", session="snapin", available=available))
    assert [c["name"] for c in checks][-2:] == ["edge_transport_certificate", "edgesync"]
    assert by_name["rbac"]["status"] == "pass"  # no hybrid cmdlets on Edge, and none expected
    assert by_name["edge_transport_certificate"]["status"] == "pass"
    assert by_name["edgesync"]["status"] == "not_checked"
    assert "Mailbox servers" in by_name["edgesync"]["found"]
    assert "Test-EdgeSynchronization" in by_name["edgesync"]["action"]
    assert environment.verdict(checks) == "pass"


def edge_org(raw, statuses, edges=("EDGE01", "EDGE02")):
    """The Mailbox server's batch in an organisation with these Edge servers and Test-EdgeSynchronization results."""
    step(raw, "organization_servers")["objects"] += [{"Name": name, "IsEdgeServer": True} for name in edges]
    step(raw, "edgesync")["objects"] = [
        {"Name": name, "SyncStatus": status, "ConnectionResult": "Succeeded" if status != "Failed" else "InvalidCredentials",
         "FailureDetail": None if status == "Normal" else f"{name} detail"} for name, status in statuses.items()]
    return raw


def test_without_edge_servers_a_mailbox_server_has_no_edgesync_check():
    by_name, _checks = judge(batch())
    assert "edgesync" not in by_name


@pytest.mark.parametrize("statuses, edges, status, words", [
    ({"EDGE01": "Normal", "EDGE02": "Normal"}, ("EDGE01", "EDGE02"), "pass", "SyncStatus Normal for EDGE01, EDGE02"),
    ({"EDGE01": "Normal", "EDGE02": "Warning"}, ("EDGE01", "EDGE02"), "warn", "EDGE02 Warning (EDGE02 detail)"),
    ({"EDGE01": "Failed", "EDGE02": "Warning"}, ("EDGE01", "EDGE02"), "fail", "EDGE01 Failed (EDGE01 detail); EDGE02 Warning"),
    ({"EDGE01": "Normal"}, ("EDGE01", "EDGE02"), "warn", "no synchronization status for EDGE02"),
    ({}, ("EDGE01",), "warn", "no synchronization status for EDGE01"),
    ({"edge01": "Normal"}, ("EDGE01",), "pass", "SyncStatus Normal for edge01"),
    ({"EDGE01": "Inconclusive"}, ("EDGE01",), "warn", "EDGE01 Inconclusive"),
])
def test_a_mailbox_server_judges_every_edge_subscription(statuses, edges, status, words):
    by_name, checks = judge(edge_org(batch(), statuses, edges))
    check = by_name["edgesync"]
    assert check["status"] == status, check
    assert words in check["found"], check
    assert check["action"] if status != "pass" else not check["action"]
    assert environment.verdict(checks) == status


def test_edgesync_that_could_not_be_read_is_not_checked_never_pass():
    raw = edge_org(batch(), {"EDGE01": "Normal"}, ("EDGE01",))
    step(raw, "edgesync").update(status="error", objects=[], error="Access is denied.")
    by_name, _checks = judge(raw)
    assert by_name["edgesync"]["status"] == "not_checked"
    assert "Test-EdgeSynchronization failed: Access is denied." in by_name["edgesync"]["found"]
    raw = batch()
    step(raw, "organization_servers").update(status="error", objects=[], error="boom")
    by_name, _checks = judge(raw)
    assert by_name["edgesync"]["status"] == "not_checked" and "boom" in by_name["edgesync"]["found"]
    raw = batch()
    raw["steps"] = [s for s in raw["steps"] if s["id"] != "edgesync"]  # an older batch
    by_name, _checks = judge(raw)
    assert by_name["edgesync"]["status"] == "not_checked"


def test_edge_default_certificate_gone_or_expired_warns():
    raw = batch(role="Edge", session="snapin", certificates=[certificate(Thumbprint="A" * 40)])
    by_name, _checks = judge(raw)
    assert by_name["edge_transport_certificate"]["status"] == "warn"
    assert "not in the Edge's certificate store" in by_name["edge_transport_certificate"]["found"]
    raw = batch(role="Edge", session="snapin", certificates=[certificate(NotAfter="2026-01-01T00:00:00Z")])
    by_name, _checks = judge(raw)
    assert by_name["edge_transport_certificate"]["found"].endswith("has expired")


@pytest.mark.parametrize("probed, error, status", [
    ({"host": "h", "port": 25, "starttls_offered": True, "tls_established": True, "tls_version": "TLSv1.2",
      "thumbprint": THUMB}, None, "pass"),
    ({"host": "h", "port": 25, "starttls_offered": False, "tls_established": False}, None, "warn"),
    ({"host": "h", "port": 25, "starttls_offered": True, "tls_established": False, "error": "handshake"}, None, "warn"),
    ({"host": "h", "port": 25}, "connection refused", "fail"),
    (None, None, "not_checked"),
])
def test_probe_check(probed, error, status):
    assert environment.probe_check(probed, error)["status"] == status


def test_verdict_never_passes_when_nothing_was_checked():
    assert environment.verdict([{"status": "not_checked"}]) == "not_checked"
    assert environment.verdict([{"status": "not_checked"}, {"status": "pass"}]) == "pass"
    assert environment.verdict([{"status": "warn"}, {"status": "fail"}]) == "fail"


def test_document_is_valid_and_lines_name_every_server():
    servers = {}
    for name, raw in (("EX01", batch()), ("EX02", batch(certificates=[{"RawData": "MIIB"}]))):
        _by_name, checks = judge(raw)
        checks.append(environment.probe_check(None))
        servers[name] = {"server": name, "fqdn": None, "role": "Mailbox", "version": "15.2.1544.4", "session": "remote",
                         "available_cmdlets": list(ALL_CMDLETS), "checks": checks, "verdict": environment.verdict(checks)}
    doc = environment.document(servers, "2026-12-07T00:00:00Z", {"collection": "0.3.0", "ansible_core": "2.21.0"})
    SCHEMA.validate(doc)
    assert doc["verdict"] == "fail"
    lines = environment.summary_lines(servers)
    assert lines[0] == "EX01: PASS"
    assert "EX02: FAIL" in lines
    assert any(line.strip().startswith("fail") and "certificate_fidelity" in line for line in lines)


def test_report_refuses_a_dest_that_cannot_take_the_file(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert report._dest_problem(a_file) == f"dest '{a_file}' is a file, not a directory: give a directory for environment.json"
    under = a_file / "sub" / "dir"
    assert report._dest_problem(under) == (f"dest '{under}' cannot be written: '{a_file}' is not a writable directory; "
                                           "give a directory this user can write")
    assert report._dest_problem(tmp_path / "new" / "nested") is None
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_report_entry_of_a_host_without_result_fails_with_its_message():
    entry = report._entry("EX09", {"unreachable": True, "msg": "ntlm: auth method ntlm requires a password"})
    assert entry["verdict"] == "fail"
    assert entry["checks"][0]["found"] == "no result: ntlm: auth method ntlm requires a password"
    assert report._entry("EX09", None)["checks"][0]["found"].endswith("did not run on this host")
    doc = environment.document({"EX09": entry}, "2026-12-07T00:00:00Z", {"collection": None, "ansible_core": "2.19.0"})
    SCHEMA.validate(doc)
