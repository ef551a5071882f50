"""Role connector_tls through its playbooks, as users run them: `ansible-playbook exchange.transport_tls.audit`.

Every shipped scenario: audit statuses and finding codes; the remediation's end
state in the lab's state file and STARTTLS seen by an SMTP client; a second
remediation that changes nothing; --check that changes nothing and plans the
same. Reports are checked against the shipped JSON Schema and parsed as JUnit.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import jsonschema
import junitparser
import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, scenario_variant, starttls
from tests.unit.plugins.plugin_utils._report.test_report_render import without_articles

BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.ansible
OUTBOUND = "Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00"
SCHEMA = json.loads((ROOT / "schemas/report-v1.schema.json").read_text())
CHANGES_SCHEMA = json.loads((ROOT / "schemas/changes-v1.schema.json").read_text())


def run(lab, out: pathlib.Path, playbook: str, *args: str) -> tuple[int, str, dict, dict]:
    """ansible-playbook exchange.transport_tls.<playbook>; returns rc, output, report.json and changes.json."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), f"exchange.transport_tls.{playbook}",
         "-e", f"connector_tls_report_dir={out}", "-e", "connector_tls_probe_wait=2", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert (out / "latest" / "report.json").exists(), output
    # Each run its own directory under connector_tls_report_dir; latest names the newest.
    out = out / "latest"
    report = json.loads((out / "report.json").read_text())
    changes = json.loads((out / "changes.json").read_text())
    assert changes["run_id"] == out.resolve().name
    jsonschema.validate(report, SCHEMA)
    jsonschema.validate(changes, CHANGES_SCHEMA)
    suites = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    assert {s.name for s in suites} == set(report["hosts"]) | {"organization"}
    assert "<script" not in (out / "report.html").read_text().lower()
    return proc.returncode, output, report, changes


def state_text(lab) -> str:
    """The lab's state without its own counters and clock, which are not Exchange state."""
    doc = yaml.safe_load(lab.state_path.read_text())
    doc.pop("now", None)
    for server in doc["servers"]:
        for key in ("launches", "writes", "restarts", "events"):
            server.pop(key, None)
    return yaml.safe_dump(doc, sort_keys=True)


def counters(lab) -> dict:
    doc = yaml.safe_load(lab.state_path.read_text())
    return {s["name"]: (s.get("launches", 0), s.get("writes", 0), s.get("restarts", 0)) for s in doc["servers"]}


def statuses(report: dict) -> dict:
    return {host: entry["status"] for host, entry in report["hosts"].items()}


def codes(report: dict) -> dict:
    return {host: sorted({f["code"] for f in entry["findings"]}) for host, entry in report["hosts"].items()}


def plans(report: dict) -> list:
    return sorted(
        (host, p["object"], p["status"], p["expected"]) for host, entry in report["hosts"].items() for p in entry["plans"]
    ) + sorted((p["object"], p["status"], p["expected"]) for p in report["organization"]["plans"])


# scenario: (audit statuses, audit finding codes per host, organisation status in the audit,
#            statuses after the remediation, restarts expected per host)
EXPECTED = {
    "demo": (
        {"EX01": "drift", "EX02": "compliant", "EDGE01": "drift"},
        {"EX01": ["tls_certificate_name_not_found", "transport_tls_event"], "EX02": [],
         "EDGE01": ["tls_certificate_name_not_found", "transport_tls_event"]},
        "drift", {"EX01": "remediated", "EX02": "compliant", "EDGE01": "remediated"}, {}),
    "edgesync": (
        {"EDGE01": "drift", "EX01": "compliant"},
        {"EDGE01": ["starttls_handshake_failed", "tls_certificate_smtp_not_enabled"], "EX01": []},
        "compliant", {"EDGE01": "remediated", "EX01": "compliant"}, {}),
    # Default Frontend announces the server's FQDN, so the policy's FQDN rule finds Exchange's own certificate
    # for it (the only usable one; the connector is not hybrid).
    "expired-12016": (
        {"EX01": "drift"}, {"EX01": ["tls_certificate_expired", "transport_tls_event"]},
        "compliant", {"EX01": "remediated"}, {}),
    "needs-restart": (
        {"EX01": "drift"}, {"EX01": ["tls_certificate_name_not_found", "transport_tls_event"]},
        "compliant", {"EX01": "remediated"}, {"EX01": 1}),
    "smtp-not-enabled": (
        {"EX01": "drift"}, {"EX01": ["starttls_handshake_failed", "tls_certificate_smtp_not_enabled"]},
        "compliant", {"EX01": "remediated"}, {}),
    "smtp-prompt": (
        {"EX01": "drift"}, {"EX01": ["starttls_handshake_failed", "tls_certificate_smtp_not_enabled"]},
        "compliant", {"EX01": "remediated"}, {}),
}
# Scenarios a remediation cannot fix: the report says why and nothing is written.
UNFIXABLE = {
    "no-certificate-12014": ({"EX01": "blocked"}, {"EX01": ["no_replacement_certificate", "tls_certificate_name_not_found", "transport_tls_event"]}, "compliant"),
    "selection": ({"EX01": "drift"}, {"EX01": ["tls_not_in_auth_mechanism"]}, "compliant"),
    "send-connector-sources": ({"EX01": "compliant", "EX02": "blocked"}, {"EX01": [], "EX02": []}, "blocked"),
    "edge-name-cap": ({"EDGE01": "blocked", "EX01": "compliant"},
                      {"EDGE01": ["tls_certificate_name_not_found", "transport_tls_event"], "EX01": []}, "blocked"),
}
# Scenarios with a test of their own below.
OWN_TEST = {"faults", "replication-lag"}


def test_every_shipped_scenario_is_covered():
    # The hybrid-* scenarios have their own tests (test_hybrid_topologies.py).
    shipped = {p.stem for p in SCENARIOS.glob("*.yml") if not p.stem.startswith("hybrid-")}
    assert set(EXPECTED) | set(UNFIXABLE) | OWN_TEST == shipped


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_audit_check_remediate_and_rerun(scenario, running_lab, tmp_path):
    audit_statuses, audit_codes, org_status, fixed, restarts = EXPECTED[scenario]
    lab = running_lab(SCENARIOS / f"{scenario}.yml")
    initial = state_text(lab)

    rc, output, audit, _ = run(lab, tmp_path / "audit", "audit")
    assert rc != 0, "drift must fail the audit (connector_tls_fail_on_drift)"
    assert statuses(audit) == audit_statuses, output
    assert codes(audit) == audit_codes
    assert audit["organization"]["status"] == org_status
    assert {h: launches for h, (launches, _w, _r) in counters(lab).items()} == {h: 1 for h in audit_statuses}, "audit: one launch per host"
    assert state_text(lab) == initial

    rc, output, check, check_changes = run(lab, tmp_path / "check", "remediate", "--check")
    assert state_text(lab) == initial, "--check wrote something"
    assert statuses(check) == audit_statuses and plans(check) == plans(audit)
    assert {c["status"] for c in check_changes["changes"]} <= {"planned"}

    before = counters(lab)
    rc, output, fixed_report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0, output
    assert statuses(fixed_report) == fixed
    assert plans(fixed_report) == plans(audit), "the remediation followed another plan than the audit showed"
    # Every planned change was applied and read back; changes.json says so.
    planned = {(c["object_type"], c["object"], c["property"]) for c in check_changes["changes"]}
    made = [c for c in changes["changes"] if c["object_type"] != "service"]
    assert {(c["object_type"], c["object"], c["property"]) for c in made} == planned
    assert changes["complete"] is True and {c["status"] for c in changes["changes"]} <= {"applied"}
    # Each transport restart is on the record, naming the server and the service, and in the terminal output.
    recorded = {c["server"]: c["object"] for c in changes["changes"] if c["object_type"] == "service"}
    assert set(recorded) == set(restarts) and all(
        f"{h}: {r['service']} (" in output for h, e in fixed_report["hosts"].items() for r in e["restarts"]), output
    doc = yaml.safe_load(lab.state_path.read_text())
    for server in doc["servers"]:
        name = server["name"]
        assert server.get("restarts", 0) - before[name][2] == restarts.get(name, 0), name
        # The default SMTP certificate is the one the scenario started with; EdgeSync intact.
        original = yaml.safe_load(initial)
        assert server["internal_transport_certificate"] == next(
            s for s in original["servers"] if s["name"] == name)["internal_transport_certificate"]
        assert server.get("edgesync", "intact") != "broken"
        entry = fixed_report["hosts"][name]
        probe = entry["probe"][-1]
        expected = next(c["selected_certificate"] for c in entry["connectors"] if c["identity"] == probe["connector"])
        seen = starttls("127.0.0.1", lab.smtp[name].port)
        assert seen.offered and seen.thumbprint == expected == probe["thumbprint"], name
    for change in (c for c in changes["changes"] if c["property"] == "TlsCertificateName" and c["object_type"] == "receive_connector"):
        server, connector = change["object"].split("\\", 1)
        live = next(rc for s in doc["servers"] if s["name"] == server for rc in s["receive_connectors"] if rc["name"] == connector)
        assert live["tls_certificate_name"] == change["after"]

    settled = state_text(lab)
    rc, output, again, again_changes = run(lab, tmp_path / "again", "remediate")
    assert rc == 0, output
    assert set(statuses(again).values()) == {"compliant"}
    assert again_changes["changes"] == [] and state_text(lab) == settled
    assert all(entry["launches"] == 1 and entry["restarts"] == [] for entry in again["hosts"].values())


@pytest.mark.parametrize("scenario", sorted(UNFIXABLE))
def test_what_cannot_be_fixed_is_reported_and_nothing_changes(scenario, running_lab, tmp_path):
    audit_statuses, audit_codes, org_status = UNFIXABLE[scenario]
    lab = running_lab(SCENARIOS / f"{scenario}.yml")
    initial = state_text(lab)
    rc, output, audit, _ = run(lab, tmp_path / "audit", "audit")
    assert rc != 0 and statuses(audit) == audit_statuses and codes(audit) == audit_codes, output
    assert audit["organization"]["status"] == org_status
    rc, output, check, _ = run(lab, tmp_path / "check", "remediate", "--check")
    assert state_text(lab) == initial and plans(check) == plans(audit)
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0, "a remediation that leaves something blocked must fail"
    assert state_text(lab) == initial and changes["changes"] == []
    assert "blocked" in set(statuses(report).values()) | {report["organization"]["status"]}
    assert plans(report) == plans(audit)


@pytest.mark.reliability("Faults", "role: the shipped faults scenario (http_500 on the audit read), reported error, then a clean audit")
def test_faults_scenario_reports_the_error_then_recovers(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "faults.yml")
    rc, output, audit, _ = run(lab, tmp_path / "audit", "audit")
    assert rc != 0 and statuses(audit) == {"EX01": "error"}
    assert "500" in audit["hosts"]["EX01"]["message"] and audit["hosts"]["EX01"]["server"] is None
    # The fault hit one launch; the next audit reads the server.
    rc, output, again, _ = run(lab, tmp_path / "again", "audit")
    assert rc == 0 and statuses(again) == {"EX01": "compliant"}, output


def test_send_connector_blocked_names_the_server_lacking_the_certificate(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "send-connector-sources.yml")
    initial = state_text(lab)
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0
    organization = report["organization"]
    assert organization["status"] == "blocked" and "EX02" in organization["message"]
    assert report["hosts"]["EX02"]["status"] == "blocked" and report["hosts"]["EX01"]["status"] == "compliant"
    (plan,) = [p for p in organization["plans"] if p["object_type"] == "send_connector"]
    assert plan["status"] == "blocked" and plan["source_servers"]["EX02"]["status"] == "missing"
    assert state_text(lab) == initial and changes["changes"] == []
    failures = [case for suite in junitparser.JUnitXml.fromfile(str(tmp_path / "remediate/latest/junit.xml"))
                if suite.name == "organization" for case in suite if case.result]
    assert failures and any("EX02" in (r.message or "") + (r.text or "") for case in failures for r in case.result)


@pytest.mark.reliability("Faults", "role: http_500 on one of three hosts during remediation, the others remediated")
def test_a_failing_host_is_reported_and_the_others_finish(running_lab, tmp_path):
    path = scenario_variant(tmp_path, "demo.yml", faults={"EX02": [{"kind": "http_500"}]})
    lab = running_lab(path)
    rc, output, report, _ = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0
    assert report["hosts"]["EX02"]["status"] == "error" and "500" in report["hosts"]["EX02"]["message"]
    assert report["hosts"]["EX01"]["status"] == "remediated" and report["hosts"]["EDGE01"]["status"] == "remediated"
    assert report["summary"] == {"hosts": 3, "compliant": 0, "drift": 0, "remediated": 2, "blocked": 0, "error": 1, "unreachable": 0}


@pytest.mark.reliability("Faults", "role: a host nobody answers for (closed port) is reported unreachable, the others audited")
def test_an_unreachable_host_still_appears(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    inventory = lab.inventory_path.read_text().replace(
        f"EX02 ansible_host=127.0.0.1 ansible_port={lab.winrm['EX02'].port}", "EX02 ansible_host=127.0.0.1 ansible_port=9")
    assert inventory != lab.inventory_path.read_text()
    lab.inventory_path.write_text(inventory)
    rc, output, report, _ = run(lab, tmp_path / "audit", "audit")
    assert rc != 0
    assert report["hosts"]["EX02"]["status"] == "unreachable" and report["hosts"]["EX02"]["message"]
    assert report["hosts"]["EX01"]["status"] == "drift"


def test_scope_limits_what_is_changed(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate", "-e", "connector_tls_scope=receive_connectors[?hybrid]")
    edge = report["hosts"]["EDGE01"]["connectors"][0]
    assert edge["status"] == "out_of_scope" and edge["tls_certificate_name"]["before"] == edge["tls_certificate_name"]["after"]
    assert report["hosts"]["EX01"]["status"] == "remediated"
    # Send connectors are out of this scope: planned nowhere, changed nowhere (the SMTP enable's default-certificate
    # swap, put back by the same launch, is on the record as transport_service).
    assert {c["object_type"] for c in changes["changes"]} <= {"receive_connector", "certificate", "transport_service"}
    assert all(c["object"].startswith("EX01") or c["server"] == "EX01" for c in changes["changes"])


@pytest.mark.reliability("Invalid options", "role: an invalid connector_tls_scope fails naming it, no launch")
def test_an_invalid_scope_fails_before_any_server_is_contacted(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.audit",
         "-e", f"connector_tls_report_dir={tmp_path / 'r'}", "-e", "connector_tls_scope=receive_connectors[?"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "connector_tls_scope" in proc.stdout + proc.stderr
    assert all(launches == 0 for launches, _w, _r in counters(lab).values())


@pytest.mark.reliability("Invalid options", "role: the audit with mode=remediate, a bad restart choice: named, no launch")
def test_audit_refuses_to_remediate_and_bad_role_input_is_named(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for extra, word in ((["-e", "connector_tls_mode=remediate"], "connector_tls_mode"),
                        (["-e", "connector_tls_restart_transport=sometimes"], "connector_tls_restart_transport")):
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.audit",
             "-e", f"connector_tls_report_dir={tmp_path / 'r'}", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0 and word in proc.stdout + proc.stderr
    assert all(launches == 0 for launches, _w, _r in counters(lab).values())


@pytest.mark.reliability("Faults", "role: a write launch that hangs (timeout): changes.json on disk before it, not_applied after")
def test_planned_changes_are_on_disk_while_the_write_is_under_way(running_lab, tmp_path):
    """EX01's write launch hangs (a `timeout` fault): changes.json already lists every planned change."""
    path = scenario_variant(tmp_path, "demo.yml", faults={"EX01": [{"kind": "timeout", "cmdlet": "Set-ReceiveConnector"}]})
    lab = running_lab(path, winrm_read_timeout=8)
    out = tmp_path / "remediate"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.remediate",
         "-e", f"connector_tls_report_dir={out}", "-e", "connector_tls_probe_wait=2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not [line for line in lab.journal_path.read_text().splitlines() if "Set-ReceiveConnector" in line] \
                if lab.journal_path.exists() else True:
            assert proc.poll() is None and time.monotonic() < deadline, "the write launch never started"
            time.sleep(0.2)
        during = json.loads((out / "latest" / "changes.json").read_text())
    finally:
        output = proc.communicate(timeout=120)[0]
    jsonschema.validate(during, CHANGES_SCHEMA)
    assert during["complete"] is False and {c["status"] for c in during["changes"]} == {"attempted"}
    planned = {(c["object_type"], c["object"]) for c in during["changes"]}
    assert ("receive_connector", "EX01\\Default Frontend EX01") in planned
    assert ("send_connector", OUTBOUND) in planned and ("hybrid_configuration", "Hybrid Configuration") in planned
    after = json.loads((out / "latest" / "changes.json").read_text())
    assert after["run_id"] == during["run_id"], "the final record is written into the planned record's run directory"
    assert after["complete"] is True and proc.returncode != 0, output
    (ex01,) = [c for c in after["changes"] if c["object"] == "EX01\\Default Frontend EX01"]
    assert ex01["status"] == "not_applied" and ex01["message"]


@pytest.mark.reliability("Faults", "role: access_denied on the connector write: not_applied with the reason, live value unchanged")
def test_a_failed_write_is_recorded_as_not_applied(running_lab, tmp_path):
    """A write that fails leaves changes.json saying what was planned and what did not happen."""
    path = scenario_variant(tmp_path, "demo.yml", faults={"EX01": [{"kind": "access_denied", "cmdlet": "Set-ReceiveConnector"}]})
    lab = running_lab(path)
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0
    by_object = {(c["object_type"], c["object"]): c for c in changes["changes"]}
    failed = by_object[("receive_connector", "EX01\\Default Frontend EX01")]
    assert failed["status"] == "not_applied" and "Insufficient access rights" in failed["message"]
    # SMTP was enabled (its own launch, before the connector write): recorded as applied.
    assert any(c["object_type"] == "certificate" and c["server"] == "EX01" and c["status"] == "applied" for c in changes["changes"])
    assert report["hosts"]["EX01"]["status"] == "error"
    live = yaml.safe_load(lab.state_path.read_text())["servers"][0]["receive_connectors"][0]
    assert live["tls_certificate_name"] == failed["before"]


def test_junit_and_html_name_every_host_and_failure(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    initial = state_text(lab)
    # As AWX runs a compliance job: the audit under --check, reporting only.
    rc, output, report, _ = run(lab, tmp_path / "audit", "audit", "--check", "-e", "connector_tls_fail_on_drift=false")
    assert rc == 0 and report["status"] == "drift" and report["check_mode"] is True, "fail_on_drift=false only reports"
    assert state_text(lab) == initial
    assert statuses(report) == {"EX01": "drift", "EX02": "compliant", "EDGE01": "drift"}
    assert {h: launches for h, (launches, _w, _r) in counters(lab).items()} == {"EX01": 1, "EX02": 1, "EDGE01": 1}
    tree = ET.parse(tmp_path / "audit/latest/junit.xml").getroot()
    suites = {s.get("name"): s for s in tree.iter("testsuite")}
    ex01 = {c.get("name"): c for c in suites["EX01"].iter("testcase")}
    failure = ex01["EX01\\Default Frontend EX01"].find("failure")
    assert failure is not None and "tls_certificate_name_not_found" in (failure.get("type") or "") + (failure.text or "")
    assert all(c.find("failure") is None for c in suites["EX02"].iter("testcase"))
    html = (tmp_path / "audit/latest/report.html").read_text()
    # The only addresses in the page are the links to Microsoft's articles (a fixed table of the renderer).
    html = without_articles(html)
    assert "EX01\\Default Frontend EX01" in html and "http://" not in html and "https://" not in html


def test_rollback_undoes_a_remediation_from_the_changes_json_it_wrote(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    original = yaml.safe_load(lab.state_path.read_text())
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0 and {c["status"] for c in changes["changes"]} == {"applied"}, output
    remediated = yaml.safe_load(lab.state_path.read_text())
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollback",
         "-e", f"connector_tls_changes_file={tmp_path / 'remediate/latest/changes.json'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    now = yaml.safe_load(lab.state_path.read_text())

    def names(doc):
        receive = {(s["name"], rc["name"]): rc["tls_certificate_name"] for s in doc["servers"] for rc in s["receive_connectors"]}
        send = {sc["name"]: sc["tls_certificate_name"] for sc in doc.get("send_connectors") or []}
        return receive, send, (doc.get("hybrid_configuration") or {}).get("tls_certificate_name")

    assert names(remediated) != names(original) and names(now) == names(original)
    # SMTP stays enabled on the renewals: no cmdlet removes a service; the run said it skipped it.
    assert "SMTP" in next(c for c in now["servers"][0]["certificates"] if c["id"] == "le-r11")["services"]
    assert "cannot be undone" in proc.stdout or "skipped" in proc.stdout


def test_a_scope_with_the_cloud_send_connector_changes_it_once(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    scope = "[receive_connectors[?hybrid], send_connectors[?cloud]][]"
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate", "-e", json.dumps({"connector_tls_scope": scope}))
    assert rc == 0, output
    assert report["hosts"]["EDGE01"]["connectors"][0]["status"] == "out_of_scope"
    changed = {(c["object_type"], c["object"]) for c in changes["changes"]}
    assert ("send_connector", OUTBOUND) in changed and ("hybrid_configuration", "Hybrid Configuration") in changed
    assert not [c for c in changes["changes"] if c["object"].startswith("EDGE01") or c["server"] == "EDGE01"]
    assert report["organization"]["status"] == "remediated"
    # Each host's facts stay its own (ansible/ansible#87148: a run_once set_fact shares them on 2.21):
    # no restart of a service the host does not have, and EX01 decided the organisation objects.
    assert all(entry["restarts"] == [] for entry in report["hosts"].values())
    assert report["organization"]["runner"] == "EX01"


def journal_since(lab, seen: int) -> list[dict]:
    return [json.loads(line) for line in lab.journal_path.read_text().splitlines()[seen:]]


def test_with_replication_lag_the_smtp_enable_and_writes_pin_one_domain_controller(running_lab, tmp_path):
    # replication_lag_seconds: 15 and two domain controllers: a read served by the other one than the write sees
    # the old value for 15 s. The remediation must not report a false "default not restored", must never leave
    # the renewed certificate as the default SMTP certificate, and must read every write back as written.
    lab = running_lab(SCENARIOS / "replication-lag.yml")
    initial = yaml.safe_load(lab.state_path.read_text())
    rc, output, audit, _ = run(lab, tmp_path / "audit", "audit")
    assert statuses(audit) == {"EX01": "drift", "EX02": "compliant"} and audit["organization"]["status"] == "drift", output
    seen = len(lab.journal_path.read_text().splitlines())

    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc == 0, output
    assert "not restored" not in output and "putting the previous default" not in output
    assert statuses(report) == {"EX01": "remediated", "EX02": "compliant"} and report["organization"]["status"] == "remediated"
    assert changes["complete"] is True and {c["status"] for c in changes["changes"]} == {"applied"}
    doc = yaml.safe_load(lab.state_path.read_text())
    r11 = {s["name"]: next(c for c in s["certificates"] if c["id"] == "le-r11") for s in doc["servers"]}
    for server in doc["servers"]:
        # The default SMTP certificate is the one the scenario started with, and SMTP is on the renewed certificate.
        assert server["internal_transport_certificate"] == "selfsigned" == next(
            s for s in initial["servers"] if s["name"] == server["name"])["internal_transport_certificate"]
        assert "SMTP" in r11[server["name"]]["services"], server["name"]
    name = "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    assert doc["servers"][0]["receive_connectors"][0]["tls_certificate_name"] == name
    assert doc["send_connectors"][0]["tls_certificate_name"] == name
    assert starttls("127.0.0.1", lab.smtp["EX01"].port).thumbprint == r11["EX01"]["thumbprint"]

    # Every launch that wrote named one domain controller, the same for all its Exchange cmdlets; reads-only
    # launches (the facts) were served by either.
    writing = [e for e in journal_since(lab, seen) if any(not s["cmdlet"].startswith("Get-") for s in e["steps"])]
    assert writing, "the remediation wrote nothing"
    for entry in writing:
        controllers = {s["parameters"].get("DomainController") for s in entry["steps"] if s["cmdlet"] != "Get-WinEvent"}
        assert len(controllers) == 1 and controllers <= {"dc1.contoso.lab", "dc2.contoso.lab"}, entry["steps"]
    restores = [s for e in writing for s in e["steps"] if s["cmdlet"] == "Enable-ExchangeCertificate"
                and s["parameters"]["Thumbprint"] != r11[e["server"]]["thumbprint"]]
    assert restores and all(s["parameters"]["Services"] == "SMTP" for s in restores), "the restore names SMTP only"


def test_an_edge_name_over_256_characters_is_blocked_with_the_reason_and_nothing_changes(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "edge-name-cap.yml")
    initial = state_text(lab)
    rc, output, report, changes = run(lab, tmp_path / "remediate", "remediate")
    assert rc != 0 and state_text(lab) == initial and changes["changes"] == []
    (send,) = [p for p in report["organization"]["plans"] if p["object_type"] == "send_connector"]
    (receive,) = report["hosts"]["EDGE01"]["plans"]
    for plan in (send, receive):
        assert plan["status"] == "blocked"
        assert "289 characters" in plan["reason"] and "at most 256" in plan["reason"] and "KB 4052493" in plan["reason"]
        assert "shorter" in plan["reason"], "the reason says what to do"
    assert send["source_servers"]["EDGE01"]["thumbprint"] is not None
    assert "Install the certificate" not in send["reason"], "the certificate is installed; its name is the problem"
    # The lab's state keeps the Edge's own copy, still the old name.
    doc = yaml.safe_load(lab.state_path.read_text())
    assert doc["send_connectors"][0]["edge_copies"] == {"EDGE01": doc["send_connectors"][0]["tls_certificate_name"]}
