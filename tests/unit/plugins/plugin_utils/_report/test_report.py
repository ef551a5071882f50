# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_report/report.py (report.json, changes.json, the exit rule) and filter probe_target.

Inputs are what role connector_tls registers, made by the collection's own code: facts annotated and analysed
as exchange_certificate_facts returns them, plans from receive_plan/send_plan as the converging modules return
them, real runs through facts_after, probes on smtp_probe.empty_result. The story: connectors name R10's
certificate for mail.contoso.com, its renewal from R11 is installed. Every document built is schema-checked.
"""

from __future__ import annotations

import copy
import json
import pathlib

import jsonschema
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.filter.probe_target import FilterModule
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import report_text
from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import receive_plan, send_plan
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import certificate_selection, findings
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import report, report_html, report_junit
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.facts_after import facts_after
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge_action import ConvergeActionBase

from ..facts_factories import (
    MAIL, OUTBOUND, R10, R11, R11_THUMB, R12, cert, hybrid_configuration, own_certificate_of, r11, r12,
    receive_connector, send_connector, server_facts)

ROOT = pathlib.Path(__file__).resolve().parents[5]
REPORT_SCHEMA = jsonschema.Draft202012Validator(json.loads((ROOT / "schemas/report-v1.schema.json").read_text()))
CHANGES_SCHEMA = jsonschema.Draft202012Validator(json.loads((ROOT / "schemas/changes-v1.schema.json").read_text()))
GENERATED = "2026-11-27T12:05:00Z"
R10_NAME, R11_NAME, R12_NAME = (f"<I>{i}<S>{MAIL}" for i in (R10, R11, R12))
HYBRID_CAPABILITY = "mail.protection.outlook.com:AcceptCloudServicesMail"
NO_ORG = {"runner": None, "plan": None, "send": None}
HOSTILE = 'EX01\\Relay "quoted" \'single\' <script>alert(1)</script> & \u202e' + "x" * 2000
# A lost host without a recognised cause: the report adds no advice (causes with advice: test_an_unreachable_host_says...).
UNREACHABLE_MSG = "Failed to connect to the host via winrm: the connection was lost"
FRONTEND, CLIENT = "EX01\\Default Frontend EX01", "EX01\\Client Frontend EX01"
OWN_THUMB = own_certificate_of("EX01")["thumbprint"]
STOPPED = "EX01\\Default Frontend EX01 changed since it was read: TlsCertificateName is now X"
RESTART_FAILED = "Restart-Service: Service 'MSExchangeFrontEndTransport' cannot be stopped"


# --- Registered results, from the collection's own code ---


def frontend(server="EX01", **overrides) -> dict:
    """Default Frontend <server> as the Hybrid Configuration Wizard leaves it, naming R11's certificate."""
    return receive_connector(**{"identity": f"{server}\\Default Frontend {server}", "name": f"Default Frontend {server}",
                                "server": server, "tls_certificate_name": R11_NAME, "hybrid": True,
                                "tls_domain_capabilities": [HYBRID_CAPABILITY], **overrides})


def client(server="EX01", **overrides) -> dict:
    """Client Frontend <server> on port 587."""
    return frontend(server, **{"identity": f"{server}\\Client Frontend {server}", "name": f"Client Frontend {server}",
                               "bindings": ["0.0.0.0:587"], "ports": [587], "hybrid": False,
                               "tls_domain_capabilities": [], **overrides})


def facts(server="EX01", connectors=None, certificates=None, expiring_days=30, **overrides) -> dict:
    """One server's facts as exchange_certificate_facts returns them: selection annotated, findings analysed."""
    result = server_facts(server, certificates=[own_certificate_of(server)] + (certificates if certificates is not None else [r11()]),
                          receive_connectors=connectors if connectors is not None else [frontend(server)], **overrides)
    certificate_selection.annotate(result)
    result["findings"] = findings.analyze(result, expiring_days=expiring_days)
    return result


def stale(server="EX01", **overrides) -> dict:
    """KB2989382: the frontend names R10's certificate, the renewal from R11 is installed (SMTP on it)."""
    return facts(server, [frontend(server, tls_certificate_name=R10_NAME)], **overrides)


def no_replacement(server="EX01") -> dict:
    """The frontend names R10's certificate and nothing on the server can replace it: the plan is blocked."""
    return facts(server, [frontend(server, tls_certificate_name=R10_NAME)], certificates=[])


def without_tls(server="EX01") -> dict:
    """AuthMechanism lacks Tls: an error finding no module of the collection fixes."""
    return facts(server, [frontend(server, auth_mechanism=["Integrated", "BasicAuth"])])


def gathered(server_facts_: dict) -> dict:
    return {"changed": False, "ansible_facts": {"exchange_tls": server_facts_}, "findings": server_facts_["findings"],
            "launches": 1}


def decided(plan) -> dict:
    """The check-mode result of receive_connector_tls / send_connector_tls for ``plan`` (blocked: failed)."""
    changes = [c.as_dict() for c in plan.changes]
    result = {"changed": bool(changes), "launches": 0, "plans": [d.as_dict() for d in plan.decisions],
              "smtp": [i.as_dict() for i in plan.smtp], "changes": changes}
    return ConvergeActionBase._blocked(result, plan)


def applied(before: dict, plan_result: dict) -> dict:
    """The real receive_connector_tls run that made every planned change (values read back)."""
    changes = copy.deepcopy(plan_result["changes"])
    return {"changed": bool(changes), "launches": 2, "plans": plan_result["plans"], "smtp": plan_result["smtp"],
            "changes": changes, "ansible_facts": {"exchange_tls": facts_after(before, changes)}}


def run(server_facts_: dict, remediate=False, scope=None, probes=(), restarts=(), plan_days=30) -> dict:
    """One host's registered results; ``remediate``: the real receive run applied the plan."""
    plan = decided(receive_plan.plan(server_facts_, expiring_days=plan_days))
    receive = applied(server_facts_, plan) if remediate and plan["changes"] else None
    return {"gathered": gathered(server_facts_), "scope": scope, "receive_plan": plan, "receive": receive,
            "probes": list(probes), "restarts": list(restarts)}


def org_of(fleet: dict, runner="EX01", send=False) -> dict:
    """The organisation's check-mode plan from every host's facts; ``send``: the real run made its changes."""
    plan = decided(send_plan.plan(fleet, runner, update_hybrid_configuration=True))
    result = None
    if send:
        result = {"changed": True, "launches": 2, "plans": plan["plans"], "smtp": [], "changes": copy.deepcopy(plan["changes"])}
    return {"runner": runner, "plan": plan, "send": result}


def org_host(server, send_name=R10_NAME, certificates=None, connectors=()) -> dict:
    """A hybrid source server of the connector to Microsoft 365 (named ``send_name``)."""
    return facts(server, list(connectors), certificates,
                 send_connectors=[send_connector(tls_certificate_name=send_name)],
                 hybrid_configuration=hybrid_configuration(tls_certificate_name=send_name))


def hybrid_fleet(ex02=None) -> dict:
    """EX01 (a healthy frontend) and EX02, the two source servers of the connector to Microsoft 365 naming R10's certificate."""
    return {"EX01": org_host("EX01", connectors=[frontend()]), "EX02": ex02 or org_host("EX02")}


def probe(phase="before", thumbprint=None, offered=True, **overrides) -> dict:
    """smtp_tls_probe's result (+ the phase the role adds); ``thumbprint``: TLS was established, it was presented."""
    result = dict(smtp_probe.empty_result("127.0.0.1", 25), changed=False, connected=True, starttls_offered=offered,
                  banner="220 mail.contoso.com Microsoft ESMTP MAIL Service ready", attempts=1, elapsed=0.2, matched=None)
    if thumbprint:
        result.update(tls_established=True, thumbprint=thumbprint, subject=MAIL, issuer=R11, domains=["mail.contoso.com"],
                      not_before="2026-10-19T00:00:00Z", not_after="2027-01-17T00:00:00Z", tls_version="TLSv1.2",
                      cipher="ECDHE-RSA-AES256-GCM-SHA384")
    result.update(overrides)
    return dict(result, phase=phase)


def failed_probe(phase="before") -> dict:
    message = ("Cannot connect to 127.0.0.1:25: connection refused. Check the host name and port, that the SMTP"
               " service runs, and that no firewall blocks the port from the host this task runs on.")
    return dict(smtp_probe.empty_result("127.0.0.1", 25), failed=True, msg=message, error=message, changed=False,
                attempts=1, elapsed=0.0, matched=None, phase=phase)


def restart(failed=False) -> dict:
    result = {"changed": True, "launches": 1, "steps": [], "service": "MSExchangeFrontEndTransport",
              "reason": "STARTTLS did not come back after the change"}
    if failed:
        result.update(changed=False, failed=True, msg=RESTART_FAILED)
    return result


def read_org(runs: dict) -> dict:
    """An organisation its runner read and found nothing to decide in (no send connector, no hybrid configuration)."""
    plan = {"changed": False, "launches": 0, "plans": [], "smtp": [], "changes": []}
    return {"runner": next(iter(sorted(runs)), None), "plan": plan, "send": None}


def build(mode, runs, org=None, check_mode=False, scope=None, expiring_days=30, exempt=None) -> dict:
    """report.build, checked against report-v1.schema.json (and JSON-serialisable) every time."""
    doc = report.build(mode, check_mode, GENERATED, runs, read_org(runs) if org is None else org, scope, expiring_days, exempt)
    REPORT_SCHEMA.validate(json.loads(json.dumps(doc)))
    assert doc["summary"]["hosts"] == len(runs) == sum(v for k, v in doc["summary"].items() if k != "hosts")
    return doc


def changes_doc(mode, check_mode, planned, runs=None, org=None) -> dict:
    doc = report.changes_document(mode, check_mode, GENERATED, planned, runs, org)
    CHANGES_SCHEMA.validate(json.loads(json.dumps(doc)))
    return doc


def connector(host: dict, identity: str) -> dict:
    (found,) = [c for c in host["connectors"] if c["identity"] == identity]
    return found


# --- Host statuses ---


def test_a_healthy_host_is_compliant() -> None:
    doc = build("audit", {"EX01": run(facts(), probes=[probe(thumbprint=R11_THUMB)])})
    host = doc["hosts"]["EX01"]
    assert (doc["status"], host["status"], host["message"]) == ("compliant", "compliant", None)
    assert host["server"] == {"name": "EX01", "fqdn": "ex01.contoso.com", "role": "Mailbox", "version": "15.2.1544.4"}
    assert connector(host, FRONTEND)["status"] == "compliant" and host["findings"] == []
    assert report.exit_failure(doc, fail_on_drift=True) is None


def test_an_error_finding_is_drift_with_what_a_remediation_would_write() -> None:
    host = build("audit", {"EX01": run(stale())})["hosts"]["EX01"]
    assert host["status"] == "drift" and host["changes"] == []
    (finding,) = host["findings"]
    assert (finding["code"], finding["current"], finding["expected"], finding["in_scope"]) == (
        "tls_certificate_name_not_found", R10_NAME, R11_NAME, True)
    assert connector(host, FRONTEND)["findings"] == ["tls_certificate_name_not_found"]
    assert [(p["status"], p["expected"]) for p in host["plans"]] == [("change", R11_NAME)]


def test_a_warning_with_a_proposal_is_drift() -> None:
    # R11's certificate expires in 51 days; within 60 the renewal from R12 is proposed. No plan: the finding decides.
    expiring = facts(certificates=[r11(), r12()], expiring_days=60)
    (finding,) = expiring["findings"]
    assert (finding["code"], finding["severity"], finding["expected"]) == ("tls_certificate_expiring_soon", "warning", R12_NAME)
    host = build("audit", {"EX01": dict(run(expiring), receive_plan=None)})["hosts"]["EX01"]
    assert (host["status"], connector(host, FRONTEND)["status"]) == ("drift", "drift")


def test_a_warning_without_a_proposal_does_not_make_drift() -> None:
    event = {"id": 12014, "provider": "MSExchangeFrontEndTransport", "level": "Error", "time_created": "2026-11-27T08:00:00Z",
             "message": f"Microsoft Exchange could not find a certificate that contains the domain name {R10_NAME}"}
    host = build("remediate", {"EX01": run(facts(events=[event]))})["hosts"]["EX01"]
    assert [(f["code"], f["severity"], f["expected"]) for f in host["findings"]] == [("transport_tls_event", "warning", None)]
    assert (host["status"], host["message"]) == ("compliant", None)


def test_a_blocked_plan_wins_over_drift_and_says_why() -> None:
    # Only a self-signed certificate for mail.contoso.com: it can replace R10's for the client connector, not
    # for the hybrid frontend (public certificates only).
    self_signed = cert(issuer=MAIL, subject=MAIL, root_ca_type="Registry", not_after="2031-11-01T00:00:00Z")
    server = facts(connectors=[frontend(tls_certificate_name=R10_NAME), client(tls_certificate_name=R10_NAME)],
                   certificates=[self_signed])
    host = build("audit", {"EX01": run(server)})["hosts"]["EX01"]
    assert host["status"] == "blocked"
    assert {c["identity"]: c["status"] for c in host["connectors"]} == {FRONTEND: "blocked", CLIENT: "drift"}
    assert host["message"].startswith(f"{FRONTEND}: No certificate on EX01 can replace {R10_NAME}")
    assert "Install (import) the renewed certificate" in host["message"]


@pytest.mark.parametrize("gather, status, message, launches", [
    ({"unreachable": True, "changed": False, "msg": UNREACHABLE_MSG}, "unreachable", UNREACHABLE_MSG, 0),
    ({"failed": True, "changed": False, "launches": 1, "msg": "reading EX01 failed: access denied"},
     "error", "reading EX01 failed: access denied", 1),
    ({"skipped": True, "changed": False}, "error", "facts were not gathered on this host (an earlier task stopped it)", 0),
    (None, "error", "facts were not gathered on this host (an earlier task stopped it)", 0),
])
def test_a_host_without_facts_says_what_happened(gather, status, message, launches) -> None:
    doc = build("audit", {"EX01": run(facts()), "EX02": {"gathered": gather, "scope": None, "receive_plan": None}})
    host = doc["hosts"]["EX02"]
    assert (host["status"], host["message"], host["server"], host["launches"]) == (status, message, None, launches)
    assert doc["status"] == "error" and doc["summary"][status] == 1 and doc["summary"]["compliant"] == 1


def test_a_remediation_that_leaves_no_drift_is_remediated() -> None:
    # SMTP is enabled on R11's certificate first, then the frontend names it.
    before = stale(certificates=[r11(services=["IIS"])])
    doc = build("remediate", {"EX01": run(before, remediate=True, probes=[probe("after", thumbprint=R11_THUMB)])})
    host = doc["hosts"]["EX01"]
    assert (doc["status"], host["status"], host["message"], host["findings"]) == ("remediated", "remediated", None, [])
    assert sorted((c["object_type"], c["property"]) for c in host["changes"]) == [
        ("certificate", "Services"), ("receive_connector", "TlsCertificateName")]
    frontend_ = connector(host, FRONTEND)
    assert frontend_["status"] == "remediated" and frontend_["tls_certificate_name"] == {"before": R10_NAME, "after": R11_NAME}
    assert frontend_["selected_certificate"] == R11_THUMB and frontend_["starttls_offered"] is True
    assert host["launches"] == 3  # the read, the SMTP enabling, the guarded write


def test_drift_left_after_a_remediation_is_blocked_naming_the_codes() -> None:
    doc = build("remediate", {"EX01": run(without_tls())})
    host = doc["hosts"]["EX01"]
    assert host["status"] == "blocked"
    assert host["message"] == ("still drifted after the remediation, and no module of this collection fixes it:"
                               " tls_not_in_auth_mechanism. Act on the findings' messages by hand, or, for a connector"
                               " that is so by design, exempt it with the reason (connector_tls_exempt).")
    assert report.exit_failure(doc, fail_on_drift=False) == "1 host(s) blocked"


def test_an_exempt_connector_is_reported_exempt_with_its_reason_and_fails_nothing() -> None:
    # The same by-design connector without TLS, exempted: neither drift nor blocked, in an audit or a remediation.
    for mode in ("audit", "remediate"):
        doc = build(mode, {"EX01": run(without_tls())}, exempt={FRONTEND.upper(): "partners submit without TLS on this connector by contract"})
        host = doc["hosts"]["EX01"]
        (connector,) = [c for c in host["connectors"] if c["identity"] == FRONTEND]
        assert connector["status"] == "exempt" and connector["exempt"] == "partners submit without TLS on this connector by contract"
        assert [f["exempt"] for f in host["findings"] if f["object"] == FRONTEND] == [connector["exempt"]]
        assert host["status"] == "compliant", host
        assert report.host_failures(doc, True, ["EX01"]) == {}
    # Without the exemption the same facts fail the audit: the test above is not vacuous.
    assert build("audit", {"EX01": run(without_tls())})["hosts"]["EX01"]["status"] == "drift"


def test_an_exempt_connector_is_a_skipped_junit_case_and_shown_with_its_reason() -> None:
    why = "partners submit without TLS on this connector by contract"
    doc = build("audit", {"EX01": run(without_tls())}, exempt={FRONTEND: why})
    junit = report_junit.render(doc)
    assert f'<skipped message="exempt: {why}"' in junit and "<failure" not in junit
    page = report_html.render(doc)
    assert why in page and ">exempt<" in page
    lines = report_text.summary_lines(doc)
    assert f"  EX01: {FRONTEND}: {why}" in lines and "Exempt (connector_tls_exempt; not counted as drift):" in lines
    assert "  nothing: every host read is compliant" in lines


@pytest.mark.parametrize("mode, check_mode", [("audit", False), ("remediate", True)])
def test_a_planned_change_is_drift_when_nothing_is_written(mode, check_mode) -> None:
    # Findings at 30 days see nothing; the plan (at 60 days) moves to R12's renewal.
    server = facts(certificates=[r11(), r12()])
    assert server["findings"] == []
    runs = {"EX01": run(server, plan_days=60)}
    if check_mode:  # even a result of the receive task under --check wrote nothing
        runs["EX01"]["receive"] = applied(server, runs["EX01"]["receive_plan"])
    host = build(mode, runs, check_mode=check_mode)["hosts"]["EX01"]
    assert (host["status"], host["changes"]) == ("drift", [])
    assert build("remediate", {"EX01": run(server, plan_days=60)})["hosts"]["EX01"]["status"] == "compliant"


@pytest.mark.parametrize("task, result, message", [
    ("receive", {"changed": False, "failed": True, "launches": 1, "plans": [], "smtp": [], "changes": [], "msg": STOPPED},
     "the remediation stopped: " + STOPPED),
    ("receive_plan", {"failed": True, "changed": False, "plans": [], "changes": [], "msg": "facts describe server EX02"},
     "deciding the receive connectors failed: facts describe server EX02"),
    ("restarts", [restart(failed=True)], "restarting MSExchangeFrontEndTransport failed: " + RESTART_FAILED),
])
def test_a_failed_task_is_an_error_with_its_message(task, result, message) -> None:
    runs = {"EX01": run(stale(), remediate=task == "restarts")}
    runs["EX01"][task] = result
    host = build("remediate", runs)["hosts"]["EX01"]
    assert (host["status"], host["message"]) == ("error", message)
    if task == "receive":
        assert connector(host, FRONTEND)["status"] == "error"
    if task == "restarts":
        assert host["restarts"] == [{"service": "MSExchangeFrontEndTransport", "reason": "STARTTLS did not come back after the change"}]


LOST = {"unreachable": True, "changed": False, "msg": UNREACHABLE_MSG}  # what Ansible registers: no "failed" key


@pytest.mark.parametrize("task, message", [
    ("receive", "the host became unreachable: " + UNREACHABLE_MSG),
    ("restarts", "restarting MSExchangeFrontEndTransport failed: " + UNREACHABLE_MSG),
])
def test_a_task_that_lost_the_host_is_an_error(task, message) -> None:
    runs = {"EX01": run(stale(), remediate=True)}
    runs["EX01"][task] = [dict(LOST, service="MSExchangeFrontEndTransport", reason="always")] if task == "restarts" else LOST
    host = build("remediate", runs)["hosts"]["EX01"]
    assert (host["status"], host["message"]) == ("error", message)


def test_a_send_run_that_lost_the_runner_is_an_error() -> None:
    fleet = hybrid_fleet()
    organization = build("remediate", {"EX01": run(fleet["EX01"])}, dict(org_of(fleet), send=LOST))["organization"]
    assert (organization["status"], organization["message"]) == (
        "error", "the send connector remediation stopped: " + UNREACHABLE_MSG)


def test_a_change_not_applied_because_the_host_was_lost_says_so() -> None:
    runs = {"EX01": dict(run(stale()), receive=LOST)}
    doc = changes_doc("remediate", False, report.planned_changes(runs, NO_ORG), runs, NO_ORG)
    assert {(c["status"], c["message"]) for c in doc["changes"]} == {("not_applied", UNREACHABLE_MSG)}


# --- Scope ---


def test_out_of_scope_connectors_are_reported_but_do_not_count() -> None:
    server = facts(connectors=[frontend(), client(tls_certificate_name=R10_NAME)])
    runs = {"EX01": run(server, scope=[FRONTEND.upper()])}
    host = build("audit", runs, scope="receive_connectors[?ports[0]==`25`]")["hosts"]["EX01"]
    assert host["status"] == "compliant"
    assert {c["identity"]: (c["status"], c["in_scope"]) for c in host["connectors"]} == {
        FRONTEND: ("compliant", True), CLIENT: ("out_of_scope", False)}
    assert [(f["object"], f["in_scope"]) for f in host["findings"]] == [(CLIENT, False)]
    assert [p["object"] for p in host["plans"]] == [FRONTEND]
    # The client connector's change is planned by the sweep but not for this run.
    assert report.scoped_changes(runs["EX01"]["receive_plan"], runs["EX01"]["scope"]) == []
    assert report.planned_changes(runs, NO_ORG) == []
    assert [c["object"] for c in report.planned_changes({"EX01": run(server)}, NO_ORG)] == [CLIENT]


def test_the_hybrid_configuration_follows_the_send_connectors_scope() -> None:
    fleet = hybrid_fleet()
    org = org_of(fleet)
    outside = {"EX01": run(fleet["EX01"], scope=[FRONTEND]), "EX02": run(fleet["EX02"], scope=[])}
    organization = build("audit", outside, org)["organization"]
    assert organization["status"] == "compliant" and organization["plans"] == []
    assert {(f["object_type"], f["in_scope"]) for f in organization["findings"]} == {
        ("send_connector", False), ("hybrid_configuration", False)}
    assert report.planned_changes(outside, org) == []
    inside = {"EX01": run(fleet["EX01"], scope=[OUTBOUND.lower()]), "EX02": run(fleet["EX02"], scope=[])}
    organization = build("audit", inside, org)["organization"]
    assert organization["status"] == "drift"
    assert [p["object_type"] for p in organization["plans"]] == ["send_connector", "hybrid_configuration"]
    assert {c["object_type"] for c in report.planned_changes(inside, org)} == {"send_connector", "hybrid_configuration"}


# --- The organisation ---


def test_organisation_findings_are_merged_across_hosts() -> None:
    fleet = hybrid_fleet()
    doc = build("audit", {h: run(f) for h, f in fleet.items()}, org_of(fleet))
    organization = doc["organization"]
    assert (organization["status"], organization["runner"]) == ("drift", "EX01")
    send = [f for f in organization["findings"] if f["object_type"] == "send_connector"]
    assert [(f["code"], f["object"], f["servers"], f["expected"]) for f in send] == [
        ("tls_certificate_name_not_found", OUTBOUND, ["EX01", "EX02"], R11_NAME)]
    # Hosts report only their own objects.
    assert all(f["object_type"] not in report.ORGANIZATION_TYPES for h in doc["hosts"].values() for f in h["findings"])
    assert report.exit_failure(doc, fail_on_drift=False) is None
    assert report.exit_failure(doc, fail_on_drift=True) == "organisation objects drift"


def test_the_send_run_is_applied_to_every_hosts_facts() -> None:
    fleet = hybrid_fleet()
    doc = build("remediate", {h: run(f) for h, f in fleet.items()}, org_of(fleet, send=True))
    organization = doc["organization"]
    assert (doc["status"], organization["status"], organization["findings"]) == ("remediated", "remediated", [])
    assert [(c["object_type"], c["after"]) for c in organization["changes"]] == [
        ("send_connector", R11_NAME), ("hybrid_configuration", R11_NAME)]
    for host in doc["hosts"].values():
        assert host["status"] == "compliant" and host["changes"] == []
        (renewal,) = [c for c in host["certificates"] if c["thumbprint"] == R11_THUMB]
        assert OUTBOUND in renewal["used_by"]


def test_a_blocked_send_connector_names_the_source_server_that_lacks_the_certificate() -> None:
    fleet = hybrid_fleet(org_host("EX02", certificates=[]))
    doc = build("audit", {h: run(f) for h, f in fleet.items()}, org_of(fleet))
    organization = doc["organization"]
    assert organization["status"] == "blocked"
    (send,) = [p for p in organization["plans"] if p["object_type"] == "send_connector"]
    assert send["status"] == "blocked" and send["source_servers"]["EX02"]["thumbprint"] is None
    assert organization["message"].startswith(f"{OUTBOUND}: not every source server can use {R11_NAME}: EX02: ")
    # The fix is on EX02: that host is blocked too, and says why; the other source server is not.
    assert doc["hosts"]["EX02"]["status"] == "blocked" and OUTBOUND in doc["hosts"]["EX02"]["message"]
    assert "454 4.7.5" in doc["hosts"]["EX02"]["message"] and doc["hosts"]["EX01"]["status"] != "blocked"
    assert report.exit_failure(doc, fail_on_drift=True) == "1 host(s) blocked, organisation objects blocked"
    # An audit with fail_on_drift=false only reports; a real remediation that ends blocked always fails.
    assert report.exit_failure(doc, fail_on_drift=False) is None
    remediated = build("remediate", {h: run(f) for h, f in fleet.items()}, org_of(fleet))
    assert report.exit_failure(remediated, fail_on_drift=False) == "1 host(s) blocked, organisation objects blocked"


@pytest.mark.parametrize("key, result, message", [
    ("send", {"failed": True, "changed": False, "changes": [], "msg": "guard failed"},
     "the send connector remediation stopped: guard failed"),
    ("plan", {"failed": True, "changed": False, "plans": [], "changes": [], "msg": "EDGE01 is an Edge Transport server"},
     "deciding the send connectors failed: EDGE01 is an Edge Transport server"),
])
def test_a_failed_organisation_task_is_an_error(key, result, message) -> None:
    fleet = hybrid_fleet()
    org = dict(org_of(fleet), **{key: result})
    doc = build("remediate", {"EX01": run(fleet["EX01"])}, org)
    assert (doc["status"], doc["organization"]["status"], doc["organization"]["message"]) == ("error", "error", message)
    assert report.exit_failure(doc, fail_on_drift=False) == "organisation objects error"


# --- The SMTP probe ---


EDGE_INTERNAL = "EDGE01\\Default internal receive connector EDGE01"
RELAY = frontend(identity="EX01\\Relay EX01", transport_role="HubTransport", hybrid=False, tls_domain_capabilities=[])


@pytest.mark.parametrize("server, expected", [
    (facts(connectors=[client(), RELAY, frontend(), frontend(identity="EX01\\Off", enabled=False)]),
     {"identity": FRONTEND, "starttls_offered": True, "expected_thumbprint": R11_THUMB, "service": "MSExchangeFrontEndTransport"}),
    (facts("EDGE01", [receive_connector(identity=EDGE_INTERNAL, server="EDGE01", transport_role="HubTransport")], role="Edge"),
     {"identity": EDGE_INTERNAL, "starttls_offered": True, "expected_thumbprint": R11_THUMB, "service": "MSExchangeTransport"}),
    (stale(), {"identity": FRONTEND, "starttls_offered": False, "expected_thumbprint": None, "service": "MSExchangeFrontEndTransport"}),
    (facts(connectors=[client(), RELAY]),  # no frontend connector on port 25: the hub one answers
     {"identity": "EX01\\Relay EX01", "starttls_offered": True, "expected_thumbprint": R11_THUMB, "service": "MSExchangeTransport"}),
    (facts(connectors=[client()]), None),
    (facts(connectors=[frontend(enabled=False)]), None),
])
def test_probe_target_is_the_connector_that_answers_on_port_25(server, expected) -> None:
    target = report.probe_target(server)
    keys = ("identity", "starttls_offered", "expected_thumbprint", "service")
    assert (target if target is None else {k: target[k] for k in keys}) == expected
    if target is not None:
        # Without the probe's address, the probe is taken to reach Microsoft 365's connector: nothing proven either way.
        assert (target["source"], target["proves_microsoft_365"]) == (None, None)
        assert target["microsoft_365"] == {k: expected[k] for k in ("identity", "starttls_offered", "expected_thumbprint")}


# --- Issue 18 decision 8: the connector Microsoft 365 reaches, and the one the probe reaches ---

# Exchange Online's outbound ranges (Microsoft 365 "URLs and IP address ranges", Exchange Online ID 9).
EXO_RANGES = ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17", "2a01:111:f400::/48", "2a01:111:f403::/48"]
LOOPBACK_RELAY = frontend(identity="EX01\\Relay EX01", name="Relay EX01", hybrid=False, tls_domain_capabilities=[],
                          remote_ip_ranges=["127.0.0.1"], tls_certificate_name=None)
CLOUD_ONLY = frontend(identity="EX01\\Hybrid EX01", name="Hybrid EX01", remote_ip_ranges=EXO_RANGES)


def test_a_connector_scoped_to_microsoft_365_is_the_one_hybrid_mail_reaches() -> None:
    # "Hybrid EX01" sorts after "Default Frontend EX01": the first port-25 connector is not the answer.
    server = facts(connectors=[frontend(tls_certificate_name=None), CLOUD_ONLY])
    target = report.probe_target(server)
    assert target["microsoft_365"]["identity"] == "EX01\\Hybrid EX01"
    assert target["identity"] == "EX01\\Hybrid EX01" and target["proves_microsoft_365"] is None
    # A probe from the controller's address reaches Default Frontend instead: that is said, not hidden.
    from_controller = report.probe_target(server, "192.0.2.10")
    assert from_controller["identity"] == FRONTEND and from_controller["proves_microsoft_365"] is False
    assert report.probe_target(server, "40.107.1.2")["proves_microsoft_365"] is True


def test_without_a_scoped_connector_microsoft_365_reaches_the_default_range_connector() -> None:
    target = report.probe_target(facts(connectors=[frontend(), LOOPBACK_RELAY]), "127.0.0.1")
    assert target["microsoft_365"]["identity"] == FRONTEND
    assert (target["identity"], target["expected_thumbprint"], target["source"]) == ("EX01\\Relay EX01", R11_THUMB, "127.0.0.1")
    assert target["proves_microsoft_365"] is False


def test_a_probe_that_reached_another_connector_proves_nothing_about_hybrid_mail() -> None:
    server = facts(connectors=[frontend(), dict(LOOPBACK_RELAY, fqdn="ex01.contoso.com")])
    relay_selects = next(c["selected_certificate"] for c in server["receive_connectors"] if c["identity"] == "EX01\\Relay EX01")
    assert relay_selects == OWN_THUMB
    # The relay presents the server's own certificate, exactly what its configuration selects: no mismatch...
    host = build("audit", {"EX01": run(server, probes=[probe(thumbprint=OWN_THUMB, source_address="127.0.0.1")])})["hosts"]["EX01"]
    # ...but Default Frontend, which Microsoft 365 reaches, was not probed: unknown, not compliant.
    assert [f["code"] for f in host["findings"]] == ["starttls_probe_other_connector"]
    assert host["status"] == "drift"
    assert host["message"] == (
        "The SMTP probe from 127.0.0.1 reached EX01\\Relay EX01, not the connector Microsoft 365 reaches"
        " (EX01\\Default Frontend EX01): it does not prove EX01\\Default Frontend EX01. Its RemoteIPRanges or bindings"
        " send the controller elsewhere; probe from an address EX01\\Default Frontend EX01 accepts (connector_tls_probe_host,"
        " connector_tls_probe_source) to prove it.")
    (entry,) = host["probe"]
    assert (entry["connector"], entry["microsoft_365_connector"], entry["proves_microsoft_365"], entry["source"]) == (
        "EX01\\Relay EX01", FRONTEND, False, "127.0.0.1")
    assert entry["expected_thumbprint"] == OWN_THUMB
    # The same probe reaching Default Frontend itself proves it.
    host = build("audit", {"EX01": run(facts(), probes=[probe(thumbprint=R11_THUMB, source_address="127.0.0.1")])})["hosts"]["EX01"]
    assert (host["status"], host["findings"], host["probe"][0]["proves_microsoft_365"]) == ("compliant", [], True)


def test_no_connector_accepting_microsoft_365_is_said() -> None:
    server = facts(connectors=[frontend(remote_ip_ranges=["10.0.0.0/8", "127.0.0.0/8"])])
    host = build("audit", {"EX01": run(server, probes=[probe(thumbprint=R11_THUMB, source_address="127.0.0.1")])})["hosts"]["EX01"]
    (finding,) = host["findings"]
    assert finding["code"] == "starttls_probe_other_connector" and host["status"] == "drift"
    assert "no receive connector on port 25 accepts Microsoft 365's addresses" in finding["message"]


@pytest.mark.parametrize("version, code", [("TLSv1", "starttls_tls_version_old"), ("TLSv1.1", "starttls_tls_version_old"),
                                           ("TLSv1.2", None), ("TLSv1.3", None)])
def test_a_tls_version_below_1_2_is_a_warning(version, code) -> None:
    result = probe(thumbprint=R11_THUMB, tls_version=version, cipher="ECDHE-RSA-AES256-SHA", source_address="127.0.0.1")
    host = build("audit", {"EX01": run(facts(), probes=[result])})["hosts"]["EX01"]
    assert [f["code"] for f in host["findings"]] == ([code] if code else [])
    assert host["probe"][0]["tls_version"] == version
    if code:
        assert host["findings"][0]["severity"] == "warning" and host["status"] == "compliant"
        assert host["findings"][0]["message"].startswith(f"127.0.0.1:25 negotiated {version} (ECDHE-RSA-AES256-SHA)")


TARGET = {"identity": FRONTEND, "starttls_offered": True, "expected_thumbprint": R11_THUMB,
          "service": "MSExchangeFrontEndTransport"}


@pytest.mark.parametrize("result, target, code", [
    (probe(offered=False), TARGET, "starttls_not_offered"),
    (probe(error="TLS handshake failed: sslv3 alert handshake failure"), TARGET, "starttls_handshake_failed"),
    (probe(thumbprint=OWN_THUMB), TARGET, "starttls_certificate_mismatch"),
    (probe(thumbprint=R11_THUMB), dict(TARGET, starttls_offered=False, expected_thumbprint=None), "starttls_certificate_mismatch"),
    (failed_probe(), TARGET, "smtp_probe_failed"),
    (failed_probe(), None, "smtp_probe_failed"),
    (probe(thumbprint=R11_THUMB), TARGET, None),
    (probe(offered=False), dict(TARGET, starttls_offered=False, expected_thumbprint=None), None),
    (probe(offered=False), None, None),
])
def test_probe_problem(result, target, code) -> None:
    problem = report.probe_problem(result, target)
    assert (problem or {}).get("code") == code
    if problem:
        assert problem["severity"] == "error" and problem["message"] and problem["in_scope"] is True
        assert problem["object"] == (target["identity"] if target else "127.0.0.1:25")


@pytest.mark.parametrize("mode, status", [("audit", "drift"), ("remediate", "error")])
def test_a_probe_that_disagrees_with_the_configuration(mode, status) -> None:
    host = build(mode, {"EX01": run(facts(), probes=[probe(thumbprint=OWN_THUMB)])})["hosts"]["EX01"]
    assert host["status"] == status
    assert host["message"].startswith(f"127.0.0.1:25 presented certificate {OWN_THUMB} (CN=mail.contoso.com)")
    assert [f["code"] for f in host["findings"]] == ["starttls_certificate_mismatch"]
    (entry,) = host["probe"]
    assert (entry["connector"], entry["expected_thumbprint"], entry["thumbprint"]) == (FRONTEND, R11_THUMB, OWN_THUMB)


def test_a_failed_probe_is_an_error_in_any_mode() -> None:
    host = build("audit", {"EX01": run(facts(), probes=[failed_probe()])})["hosts"]["EX01"]
    assert host["status"] == "error" and host["message"].startswith("The SMTP probe of 127.0.0.1:25 failed: Cannot connect")
    assert host["probe"][0]["connected"] is False and host["probe"][0]["error"].startswith("Cannot connect")


def test_only_the_last_probe_decides() -> None:
    probes = [probe("after", offered=False), probe("after_restart", thumbprint=R11_THUMB)]
    host = build("remediate", {"EX01": run(stale(), remediate=True, probes=probes, restarts=[restart()])})["hosts"]["EX01"]
    assert (host["status"], host["message"], host["findings"]) == ("remediated", None, [])
    assert [(p["phase"], p["starttls_offered"]) for p in host["probe"]] == [("after", False), ("after_restart", True)]
    assert [r["service"] for r in host["restarts"]] == ["MSExchangeFrontEndTransport"]
    # The other way round the last probe is the verdict too.
    host = build("remediate", {"EX01": run(stale(), remediate=True, probes=probes[::-1])})["hosts"]["EX01"]
    assert [f["code"] for f in host["findings"]] == ["starttls_not_offered"] and host["status"] == "error"


# --- changes.json ---


def remediation():
    """EX01 needs SMTP on R11 and a rename, EX02 a rename; the organisation its send connector and hybrid configuration."""
    fleet = {"EX01": org_host("EX01", connectors=[frontend(tls_certificate_name=R10_NAME)], certificates=[r11(services=["IIS"])]),
             "EX02": org_host("EX02", connectors=[frontend("EX02", tls_certificate_name=R10_NAME)])}
    return fleet, {h: run(f) for h, f in fleet.items()}, org_of(fleet)


def test_changes_before_any_write_are_all_planned() -> None:
    _fleet, runs, org = remediation()
    planned = report.planned_changes(runs, org)
    assert [(c["host"], c["object_type"]) for c in planned] == [
        ("EX01", "receive_connector"), ("EX01", "certificate"), ("EX01", "transport_service"), ("EX02", "receive_connector"),
        ("EX01", "send_connector"), ("EX01", "hybrid_configuration")]
    # The default SMTP certificate swap that Enable-ExchangeCertificate -Force makes is planned too (issue 19 item 2),
    # with its before/after, marked as put back by the same launch.
    (swap,) = [c for c in planned if c["object_type"] == "transport_service"]
    assert (swap["object"], swap["property"], swap["after"], swap["server"]) == ("EX01", "InternalTransportCertificateThumbprint", R11_THUMB, "EX01")
    assert swap["before"] != R11_THUMB and "restored by the same launch" in swap["message"]
    doc = changes_doc("remediate", False, planned)
    # Recorded before the write launches: a run killed after this point leaves entries a rollback checks and restores.
    assert doc["complete"] is False and {c["status"] for c in doc["changes"]} == {"attempted"}
    assert {c["status"] for c in changes_doc("remediate", True, planned)["changes"]} == {"planned"}
    assert report.changes_document("remediate", False, GENERATED, planned, run_id="20261207T233904.123Z")["run_id"] == (
        "20261207T233904.123Z")


def test_a_write_whose_outcome_is_unknown_is_recorded_unknown() -> None:
    """A lost reply (converging modules' unknown_changes): neither applied nor not_applied; rollback checks its guard."""
    fleet, runs, org = remediation()
    planned = report.planned_changes(runs, org)
    unsure = applied(fleet["EX01"], runs["EX01"]["receive_plan"])
    runs["EX01"]["receive"] = {"changed": False, "failed": True, "msg": "Read timed out", "changes": [],
                               "unknown_changes": unsure["changes"]}
    doc = changes_doc("remediate", False, planned, runs, org)
    ex01 = {(c["object_type"], c["status"]) for c in doc["changes"] if c["host"] == "EX01" and c["object_type"] not in (
        "send_connector", "hybrid_configuration")}
    assert ex01 == {("receive_connector", "unknown"), ("certificate", "unknown"), ("transport_service", "unknown")}
    assert all("may have been applied" in c["message"] for c in doc["changes"] if c["status"] == "unknown")


def test_restarts_are_on_the_record_naming_the_service() -> None:
    runs = {"EX01": run(stale(), remediate=True, restarts=[restart()]),
            "EX02": run(stale("EX02"), remediate=True, restarts=[restart(failed=True)])}
    doc = changes_doc("remediate", False, [], runs, NO_ORG)
    services = [(c["host"], c["server"], c["object_type"], c["object"], c["property"], c["status"]) for c in doc["changes"]
                if c["object_type"] == "service"]
    assert services == [("EX01", "EX01", "service", "MSExchangeFrontEndTransport", "Restart", "applied"),
                        ("EX02", "EX02", "service", "MSExchangeFrontEndTransport", "Restart", "not_applied")]
    assert doc["changes"][-2]["message"] == "STARTTLS did not come back after the change"
    assert changes_doc("remediate", True, [], runs, NO_ORG)["changes"] == []


def test_changes_after_say_what_happened_to_each() -> None:
    fleet, runs, org = remediation()
    planned = report.planned_changes(runs, org)
    runs["EX01"]["receive"] = applied(fleet["EX01"], runs["EX01"]["receive_plan"])
    org["send"] = {"changed": True, "launches": 1, "plans": [], "smtp": [], "changes": copy.deepcopy(org["plan"]["changes"])}
    doc = changes_doc("remediate", False, planned, runs, org)
    assert doc["complete"] is True
    assert [(c["host"], c["object_type"], c["status"], c["message"]) for c in doc["changes"] if c["object_type"] != "transport_service"] == [
        ("EX01", "receive_connector", "applied", None), ("EX01", "certificate", "applied", None),
        ("EX02", "receive_connector", "not_applied", "not attempted: the task that makes it did not run (the host failed earlier)"),
        ("EX01", "send_connector", "applied", None), ("EX01", "hybrid_configuration", "applied", None)]
    # The swap was put back by the same launch: applied, and the value after is the value before (nothing to roll back).
    (swap,) = [c for c in doc["changes"] if c["object_type"] == "transport_service"]
    assert swap["status"] == "applied" and swap["before"] == swap["after"] != R11_THUMB
    assert swap["message"].startswith(f"{R11_THUMB} was the default SMTP certificate for a moment")


@pytest.mark.parametrize("mode, check_mode", [("audit", False), ("remediate", True)])
def test_changes_stay_planned_when_nothing_is_written(mode, check_mode) -> None:
    fleet, runs, org = remediation()
    planned = report.planned_changes(runs, org)
    if check_mode:  # a result of the receive task under --check wrote nothing
        runs["EX01"]["receive"] = applied(fleet["EX01"], runs["EX01"]["receive_plan"])
    doc = changes_doc(mode, check_mode, planned, runs, org)
    assert doc["complete"] is True and doc["changes"] == planned


def test_an_unplanned_change_is_recorded_as_applied() -> None:
    fleet, runs, org = remediation()
    runs["EX01"]["receive"] = applied(fleet["EX01"], runs["EX01"]["receive_plan"])
    doc = changes_doc("remediate", False, [], runs, NO_ORG)
    assert [(c["host"], c["object_type"], c["status"]) for c in doc["changes"]] == [
        ("EX01", "receive_connector", "applied"), ("EX01", "certificate", "applied")]
    assert {c["message"] for c in doc["changes"]} == {"not in the plan: the server changed between plan and write"}


def test_a_not_applied_change_carries_its_own_tasks_failure() -> None:
    _fleet, runs, org = remediation()
    planned = report.planned_changes(runs, org)
    runs["EX01"]["receive"] = {"changed": False, "failed": True, "changes": [], "msg": "receive: guard failed"}
    org["send"] = {"changed": False, "failed": True, "changes": [], "msg": "send: guard failed"}
    doc = changes_doc("remediate", False, planned, runs, org)
    assert {(c["object_type"], c["message"]) for c in doc["changes"] if c["host"] == "EX01"} == {
        ("receive_connector", "receive: guard failed"), ("certificate", "receive: guard failed"),
        ("transport_service", "receive: guard failed"), ("send_connector", "send: guard failed"), ("hybrid_configuration", "send: guard failed")}


# --- The exit rule, and what passes through ---


def test_exit_failure_counts_what_needs_a_person() -> None:
    runs = {"EX01": run(no_replacement()), "EX02": run(stale("EX02")), "EX03": {"gathered": {"failed": True, "msg": "x"}},
            "EX04": {"gathered": {"unreachable": True, "msg": UNREACHABLE_MSG}}}
    doc = build("audit", runs)
    assert doc["summary"] == {"hosts": 4, "compliant": 0, "drift": 1, "remediated": 0, "blocked": 1, "error": 1, "unreachable": 1}
    # Reporting only (an audit with fail_on_drift=false): what the run could not read still fails it.
    assert report.exit_failure(doc, fail_on_drift=False) == "1 host(s) error, 1 host(s) unreachable"
    assert report.exit_failure(doc, fail_on_drift=True) == (
        "1 host(s) error, 1 host(s) unreachable, 1 host(s) blocked, 1 host(s) drift")
    drift_only = build("audit", {"EX02": run(stale("EX02"))})
    assert report.exit_failure(drift_only, fail_on_drift=False) is None
    assert report.exit_failure(drift_only, fail_on_drift=True) == "1 host(s) drift"


def test_a_hostile_connector_name_passes_through_unchanged() -> None:
    server = facts(connectors=[frontend(), client(identity=HOSTILE, name=HOSTILE.split("\\")[1], tls_certificate_name=R10_NAME)])
    runs = {"EX01": run(server)}
    doc = build("audit", runs)
    host = doc["hosts"]["EX01"]
    assert connector(host, HOSTILE)["status"] == "drift"
    assert [f["object"] for f in host["findings"]] == [HOSTILE]
    assert [p["object"] for p in host["plans"] if p["status"] == "change"] == [HOSTILE]
    assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc
    (change,) = changes_doc("remediate", False, report.planned_changes(runs, NO_ORG))["changes"]
    assert change["object"] == HOSTILE


def test_build_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode must be 'audit' or 'remediate', got 'fix'"):
        report.build("fix", False, GENERATED, {}, NO_ORG)


# Each kind of host (organisation): its registered results by mode, and its status (audit, remediate).
HOST_KINDS = {
    "compliant": (lambda remediate: run(facts(), remediate=remediate), ("compliant", "compliant")),
    "stale": (lambda remediate: run(stale(), remediate=remediate), ("drift", "remediated")),
    "no_replacement": (lambda remediate: run(no_replacement()), ("blocked", "blocked")),
    "without_tls": (lambda remediate: run(without_tls()), ("drift", "blocked")),
    "unreachable": (lambda remediate: {"gathered": {"unreachable": True, "msg": UNREACHABLE_MSG}}, ("unreachable", "unreachable")),
    "gather_failed": (lambda remediate: {"gathered": {"failed": True, "msg": "denied"}}, ("error", "error")),
}
ORG_FLEET = hybrid_fleet()
ORG_KINDS = {
    # Read by a Mailbox server that found no send connector and no hybrid configuration.
    "nothing": (lambda remediate: read_org({"EX01": None}), ("compliant", "compliant")),
    # Never read: no Mailbox server answered, or the run was narrowed to Edge servers.
    "unread": (lambda remediate: NO_ORG, ("error", "error")),
    "stale": (lambda remediate: org_of(ORG_FLEET, send=remediate), ("drift", "remediated")),
    "blocked": (lambda remediate: org_of(hybrid_fleet(org_host("EX02", certificates=[]))),
                ("blocked", "blocked")),
    "failed": (lambda remediate: dict(NO_ORG, runner="EX01", plan={"failed": True, "msg": "no facts"}), ("error", "error")),
}
ORDER = ["compliant", "remediated", "drift", "blocked", "error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(HOST_KINDS)), min_size=1, max_size=6), st.sampled_from(sorted(ORG_KINDS)),
       st.sampled_from(["audit", "remediate"]))
def test_the_fleet_is_the_worst_of_its_hosts_and_organisation(kinds, org_kind, mode) -> None:
    remediate = mode == "remediate"
    runs = {f"host-{i}": HOST_KINDS[kind][0](remediate) for i, kind in enumerate(kinds)}
    org_build, org_expected = ORG_KINDS[org_kind]
    doc = build(mode, runs, org_build(remediate))
    expected = {f"host-{i}": HOST_KINDS[kind][1][remediate] for i, kind in enumerate(kinds)}
    assert {h: v["status"] for h, v in doc["hosts"].items()} == expected
    assert doc["organization"]["status"] == org_expected[remediate]
    assert all(doc["summary"][s] == list(expected.values()).count(s) for s in report.HOST_STATUSES)
    everything = [("error" if s == "unreachable" else s) for s in expected.values()] + [org_expected[remediate]]
    assert doc["status"] == max(everything, key=ORDER.index)
    # Without fail_on_drift, blocked fails only a real remediation (it did not converge).
    passing = ("compliant", "remediated", "drift") if remediate else ("compliant", "remediated", "drift", "blocked")
    assert (report.exit_failure(doc, fail_on_drift=False) is None) == (doc["status"] in passing)


# --- Filter probe_target ---

probe_target_filter = FilterModule().filters()["probe_target"]


def test_the_filter_takes_facts_or_the_registered_result() -> None:
    server = facts()
    assert probe_target_filter(server) == probe_target_filter(gathered(server)) == report.probe_target(server)
    assert probe_target_filter(facts(connectors=[client()])) is None


@pytest.mark.parametrize("value, named", [
    (None, "NoneType"), ("EX01", "str"), ({"ansible_facts": {}}, "NoneType"), ({"server": {}}, "dict"),
    ({"skipped": True, "changed": False}, "dict"), ([facts()], "list"),
])
def test_the_filter_refuses_anything_else_clearly(value, named) -> None:
    with pytest.raises(AnsibleFilterError, match=f"probe_target expects one server's exchange_tls facts .*, got {named}$"):
        probe_target_filter(value)


def test_the_filter_takes_the_probes_source_address() -> None:
    server = facts(connectors=[frontend(), LOOPBACK_RELAY])
    assert probe_target_filter(server, " 127.0.0.1 ") == report.probe_target(server, "127.0.0.1")
    assert probe_target_filter(server, "127.0.0.1")["identity"] == "EX01\\Relay EX01"
    assert probe_target_filter(server, None) == probe_target_filter(server, "") == report.probe_target(server)
    with pytest.raises(AnsibleFilterError, match="probe_target's source must be the IP address .*; got 'controller.local'$"):
        probe_target_filter(server, "controller.local")


@pytest.mark.parametrize("fleet", [hybrid_fleet(), {"EX01": facts()}], ids=["organisation drift", "nothing to report"])
def test_an_organisation_no_mailbox_server_read_is_an_error_never_compliant(fleet) -> None:
    # Every Mailbox server unreachable, or the run narrowed to Edge servers: the send connectors and the hybrid
    # configuration were not read, so the report must not call them compliant, and the run must fail.
    doc = build("audit", {h: run(f) for h, f in fleet.items()}, NO_ORG)
    organization = doc["organization"]
    assert (doc["status"], organization["status"], organization["runner"]) == ("error", "error", None)
    assert "were not read" in organization["message"] and "connector_tls_organization_host" in organization["message"]
    assert "organisation objects error" in report.exit_failure(doc, fail_on_drift=False)


def test_a_scope_that_selects_no_connector_anywhere_fails_the_run_naming_it() -> None:
    # A field-name typo (hybrid for hybrids) selects nothing on every host: the run checked nothing.
    doc = build("audit", {"EX01": run(stale(), scope=[]), "EX02": run(facts("EX02"), scope=[])},
                scope="receive_connectors[?hybrids]")
    assert doc["status"] == "error"
    (problem,) = doc["problems"]
    assert "connector_tls_scope selected no connector on any server" in problem and "hybrids" in problem
    assert problem in report.exit_failure(doc, fail_on_drift=False)
    shown = "selected no connector on any server"
    assert shown in report_html.render(doc) and shown in report_junit.render(doc)


def test_a_scope_that_selects_something_somewhere_is_no_run_problem() -> None:
    doc = build("audit", {"EX01": run(stale(), scope=[FRONTEND]), "EX02": run(facts("EX02"), scope=[])},
                scope="receive_connectors[?server=='EX01']")
    assert doc["problems"] == [] and doc["status"] == "drift"


@pytest.mark.parametrize("message, words", [
    ("Failed to connect to the host via winrm: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url:"
     " /wsman (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to establish a new"
     " connection: [Errno 111] Connection refused'))", "ansible_port"),
    ("Failed to connect to the host via winrm: HTTPSConnectionPool(host='ex01', port=5986): Max retries exceeded (Caused by"
     " ConnectTimeoutError(..., 'Connection to ex01 timed out. (connect timeout=30)'))", "the firewall lets the controller in"),
    ("Failed to connect to the host via winrm: HTTPConnectionPool(host='ex99.contoso.com', port=5985): Max retries exceeded"
     " (Caused by NameResolutionError(\"Failed to resolve 'ex99.contoso.com' ([Errno -2] Name or service not known)\"))",
     "cannot resolve"),
])
def test_an_unreachable_host_says_what_to_check_as_a_wrong_password_does(message, words) -> None:
    doc = build("audit", {"EX01": {"gathered": {"unreachable": True, "msg": message}}})
    shown = doc["hosts"]["EX01"]["message"]
    assert shown.startswith(message) and words in shown and shown.endswith("then run again.")


def test_the_run_fails_exactly_the_hosts_that_need_a_person() -> None:
    # EX01 blocked (no replacement), EX02 compliant, EX03 unreachable; the organisation read and clean on EX02.
    runs = {"EX01": run(no_replacement()), "EX02": run(facts("EX02")),
            "EX03": {"gathered": {"unreachable": True, "msg": UNREACHABLE_MSG}}}
    org = dict(read_org(runs), runner="EX02")
    doc = build("audit", runs, org)
    failures = report.host_failures(doc, True, ["EX01", "EX02", "EX03"])
    assert set(failures) == {"EX01", "EX03"}
    assert failures["EX01"].startswith("blocked: ") and failures["EX03"].startswith("unreachable: " + UNREACHABLE_MSG)
    # Drift alone, reported only: nobody fails.
    drifting = build("audit", {"EX01": run(stale())})
    assert report.host_failures(drifting, False, ["EX01"]) == {} and report.exit_failure(drifting, False) is None
    assert report.host_failures(drifting, True, ["EX01"]) == {"EX01": "drift: tls_certificate_name_not_found"}


def test_the_organisation_and_the_run_fail_on_a_host_of_the_play() -> None:
    # No Mailbox server read the organisation: it is an error, attached to the first host, as a run problem is.
    runs = {"EDGE01": run(facts("EDGE01"), scope=[]), "EX01": run(facts(), scope=[])}
    doc = build("audit", runs, NO_ORG, scope="receive_connectors[?hybrids]")
    failures = report.host_failures(doc, True, ["EDGE01", "EX01"])
    assert list(failures) == ["EDGE01"]
    assert "organisation objects error" in failures["EDGE01"] and "connector_tls_scope selected no connector" in failures["EDGE01"]
