"""playbooks/verify_environment.yml as users run it, against the lab.

The demo fleet, the same fleet with one server's certificates in the remote and raw_data
views (a session without serializationLevel=Full, and one whose serialization signing
failed), --check, an unreachable SMTP port, and bad input refused before any launch.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, scenario_variant
from ...gates.test_doc_examples import bash, block, user_env

BIN = pathlib.Path(sys.executable).parent
SCHEMA = json.loads((ROOT / "schemas/environment-v1.schema.json").read_text())
pytestmark = pytest.mark.ansible


def run(lab, out: pathlib.Path, *args: str) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.verify_environment",
         "-e", f"verify_environment_report_dir={out}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def environment_json(out: pathlib.Path) -> dict:
    doc = json.loads((out / "environment.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    return doc


def checks(doc: dict, server: str) -> dict:
    return {c["name"]: c["status"] for c in doc["servers"][server]["checks"]}


def launches_and_writes(lab) -> dict:
    doc = yaml.safe_load(lab.state_path.read_text())
    return {s["name"]: (s.get("launches", 0), s.get("writes", 0)) for s in doc["servers"]}


def variant(tmp_path: pathlib.Path, **properties: str) -> pathlib.Path:
    """demo.yml with certificate_properties set on some servers ({server: view})."""
    doc = yaml.safe_load((SCENARIOS / "demo.yml").read_text())
    for server in doc["servers"]:
        if server["name"] in properties:
            server["certificate_properties"] = properties[server["name"]]
    path = tmp_path / "variant-demo.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_demo_fleet_verdict_per_server(running_lab, tmp_path, check_mode):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "out"
    rc, output = run(lab, out, *(["--check"] if check_mode else []))
    assert rc == 0, output
    doc = environment_json(out)
    assert {name: entry["verdict"] for name, entry in doc["servers"].items()} == {
        "EX01": "warn", "EX02": "pass", "EDGE01": "warn",
    }
    # EX01's and EDGE01's connectors name certificates that are gone: reachable, no STARTTLS. That is
    # the audit's finding, not a broken environment.
    assert checks(doc, "EX01")["smtp_starttls"] == "warn"
    # EDGE01 is subscribed and EdgeSync works: each Mailbox server tests it (Test-EdgeSynchronization runs there).
    assert checks(doc, "EX02") == dict.fromkeys(
        ["reads", "session", "version", "certificate_fidelity", "enum_form", "rbac", "edgesync", "smtp_starttls"], "pass")
    assert checks(doc, "EX01")["edgesync"] == "pass"
    assert checks(doc, "EDGE01")["edge_transport_certificate"] == "pass"
    assert checks(doc, "EDGE01")["edgesync"] == "not_checked"
    assert doc["servers"]["EDGE01"]["session"] == "snapin" and doc["servers"]["EX01"]["session"] == "remote"
    assert doc["servers"]["EX01"]["version"] == "15.2.1544.4"
    assert "EX02: PASS" in output and "EX01: WARN" in output
    # Read-only, one launch per server.
    assert launches_and_writes(lab) == {"EX01": (1, 0), "EX02": (1, 0), "EDGE01": (1, 0)}


@pytest.mark.parametrize("view, found", [
    ("remote", "Services, Status, RootCAType missing on"),
    ("raw_data", "only RawData arrived"),
])
def test_a_server_without_full_fidelity_fails_and_the_others_do_not(running_lab, tmp_path, view, found):
    lab = running_lab(variant(tmp_path, EX02=view))
    out = tmp_path / "out"
    rc, output = run(lab, out)
    assert rc != 0, output
    doc = environment_json(out)
    fidelity = next(c for c in doc["servers"]["EX02"]["checks"] if c["name"] == "certificate_fidelity")
    assert fidelity["status"] == "fail"
    assert found in fidelity["found"]
    assert "remediation blocks" in fidelity["meaning"]
    assert doc["servers"]["EX02"]["verdict"] == "fail"
    assert doc["servers"]["EX01"]["verdict"] == "warn" and doc["servers"]["EDGE01"]["verdict"] == "warn"
    assert "EX02 failed the environment check" in output


def test_a_failure_on_one_server_is_that_servers_verdict_only(running_lab, tmp_path):
    """A session that cannot open on EX01, a refused read on EX02, WinRM refusing the login on EDGE01."""
    faults = {"EX01": [{"kind": "snapin_missing"}], "EX02": [{"kind": "access_denied", "cmdlet": "Get-ReceiveConnector"}],
              "EDGE01": [{"kind": "auth_failure"}]}
    lab = running_lab(scenario_variant(tmp_path, "demo.yml", faults=faults))
    out = tmp_path / "out"
    rc, output = run(lab, out)
    assert rc != 0, output
    doc = environment_json(out)
    assert {name: entry["verdict"] for name, entry in doc["servers"].items()} == {"EX01": "fail", "EX02": "fail", "EDGE01": "fail"}
    reads = {name: next(c for c in entry["checks"] if c["name"] == "reads") for name, entry in doc["servers"].items()}
    assert "could not open the Exchange session" in reads["EX01"]["found"]
    assert reads["EX02"]["found"].startswith("Get-ReceiveConnector failed:")
    assert reads["EDGE01"]["found"].startswith("no result:")
    # What could still be judged on EX02 was: the other reads ran in the same launch, and the probe.
    assert checks(doc, "EX02")["certificate_fidelity"] == "pass" and checks(doc, "EX02")["smtp_starttls"] == "pass"
    assert checks(doc, "EX02")["rbac"] == "fail"
    assert checks(doc, "EX01")["smtp_starttls"] == "warn"


def test_unreachable_smtp_port_fails(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "out"
    rc, output = run(lab, out, "-e", "exchange_smtp_port=1", "-e", "connector_tls_target=EX02")
    assert rc != 0, output
    doc = environment_json(out)
    assert set(doc["servers"]) == {"EX02"}
    assert checks(doc, "EX02")["smtp_starttls"] == "fail"


def test_without_probe_smtp_is_not_checked(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "out"
    rc, output = run(lab, out, "-e", "verify_environment_probe=false", "-e", "connector_tls_target=EX02")
    assert rc == 0, output
    assert checks(environment_json(out), "EX02")["smtp_starttls"] == "not_checked"


@pytest.mark.parametrize("args, message", [
    (["-e", "verify_environment_probe=maybe"], "argument 'probe' is of type str and we were unable to convert to bool"),
    (["-e", "connector_tls_mode=remediate"], "only reads (connector_tls_mode=audit), got connector_tls_mode=remediate"),
    (["-e", "exchange_smtp_port=70000"], "probe_port must be between 1 and 65535, got 70000"),
])
def test_bad_input_is_refused_before_any_launch(running_lab, tmp_path, args, message):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "out"
    rc, output = run(lab, out, *args)
    assert rc != 0
    assert message in output, output
    assert all(launches == 0 for launches, _writes in launches_and_writes(lab).values())
    assert not (out / "environment.json").exists()


def test_a_report_dir_that_is_a_file_is_refused_before_any_launch(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "a-file"
    out.write_text("not a directory")
    rc, output = run(lab, out)
    assert rc != 0
    assert f"dest '{out}' is a file, not a directory" in output, output
    assert all(launches == 0 for launches, _writes in launches_and_writes(lab).values())


def test_the_verify_environment_page_commands_run(running_lab, tmp_path):
    """docs/verify-environment.md's commands as written, in a project directory whose `inventory` is the lab's."""
    lab = running_lab(SCENARIOS / "demo.yml")
    project = tmp_path / "project"
    project.mkdir()
    (project / "inventory").write_text(lab.inventory_path.read_text())
    proc = bash(block("docs/verify-environment.md", "ansible-playbook exchange.transport_tls.verify_environment"),
                project, user_env(), timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    doc = environment_json(project / "verify_environment")
    expected = [f"{name} {c['status']} {c['name']}: {c['found']}" for name, entry in doc["servers"].items()
                for c in entry["checks"] if c["status"] != "pass"]
    assert expected and all(line in proc.stdout.splitlines() for line in expected), output
    assert "EX02 " not in "\n".join(expected)  # the healthy server has nothing to show


def test_module_defaults_of_the_collection_group_reach_the_environment_module(running_lab, tmp_path):
    """exchange_environment_facts is in group/exchange.transport_tls.exchange, as deployment.md's examples use it."""
    lab = running_lab(SCENARIOS / "demo.yml")
    playbook = tmp_path / "defaults.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "EX02", "gather_facts": False,
        "module_defaults": {"group/exchange.transport_tls.exchange": {"domain_controller": "dc1.contoso.lab"}},
        "tasks": [{"exchange.transport_tls.exchange_environment_facts": {"probe": False}}],
    }]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), str(playbook)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    launches = [json.loads(line) for line in lab.journal_path.read_text().splitlines() if '"launch"' in line]
    (launch,) = [entry for entry in launches if entry["server"] == "EX02"]
    exchange_steps = [s for s in launch["steps"] if s["cmdlet"] != "Get-WinEvent"]
    assert exchange_steps and all(s["parameters"].get("DomainController") == "dc1.contoso.lab" for s in exchange_steps)


@pytest.mark.parametrize("in_store, status", [(True, "pass"), (False, "warn")], ids=["in-store", "gone"])
def test_edge_default_certificate_in_the_store_or_gone(running_lab, tmp_path, in_store, status):
    """edgesync.yml: the Edge subscribed with its self-signed default certificate, which is there or was removed."""
    doc = yaml.safe_load((SCENARIOS / "edgesync.yml").read_text())
    (default,) = [c for c in doc["servers"][0]["certificates"] if c["id"] == doc["servers"][0]["internal_transport_certificate"]]
    default["in_store"] = in_store
    path = tmp_path / "variant-edgesync.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    lab = running_lab(path)
    out = tmp_path / "out"
    rc, output = run(lab, out)
    assert rc == 0, output  # a warning: the environment is usable, the Edge's certificate is not
    result = checks(environment_json(out), "EDGE01")
    assert result["edge_transport_certificate"] == status
    assert result["edgesync"] == "not_checked" and result["session"] == "pass"


@pytest.mark.parametrize("state, status, found", [
    ("broken", "fail", "EDGE01 Failed"),
    ("stale", "warn", "EDGE01 Warning"),
])
def test_edgesync_is_tested_from_every_mailbox_server(running_lab, tmp_path, state, status, found):
    """demo.yml with EDGE01's EdgeSync broken (its subscription no longer works), or a send connector EdgeSync has not
    copied to it yet: each Mailbox server's Test-EdgeSynchronization says so, and the run stays read-only."""
    doc = yaml.safe_load((SCENARIOS / "demo.yml").read_text())
    edge = next(s for s in doc["servers"] if s["name"] == "EDGE01")
    if state == "broken":
        edge["edgesync"] = "broken"
    else:
        connector = doc["send_connectors"][0]
        connector["source_transport_servers"] = ["EDGE01"]
        connector["edge_copies"] = {"EDGE01": "<I>CN=Old CA<S>CN=old.contoso.com"}
    path = tmp_path / "variant-demo.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    lab = running_lab(path)
    out = tmp_path / "out"
    rc, output = run(lab, out, "--check")
    assert (rc != 0) == (status == "fail"), output
    servers = environment_json(out)["servers"]
    for name in ("EX01", "EX02"):
        (check,) = [c for c in servers[name]["checks"] if c["name"] == "edgesync"]
        assert check["status"] == status and found in check["found"], check
        assert "Start-EdgeSynchronization" in check["action"]
        assert servers[name]["verdict"] == status
    assert checks({"servers": servers}, "EDGE01")["edgesync"] == "not_checked"
    assert launches_and_writes(lab) == {"EX01": (1, 0), "EX02": (1, 0), "EDGE01": (1, 0)}
