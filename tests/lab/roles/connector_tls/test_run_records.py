"""Issue 19 items 3, 4 and 7: every run keeps its own record, an interrupted run is rolled back, a forged record is refused.

The role and rollback.yml through ansible-playbook against the lab; the lab's state file is the
proof (tracked() keys every property the collection may change).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, scenario_variant
from .test_audit_and_remediate import BIN, run
from .test_fleet_faults import FLEET, tracked
from ...playbooks.test_rollback import R10, R11, journal

pytestmark = pytest.mark.ansible


def env() -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


def rollback(lab, *args: str) -> tuple[int, str]:
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.rollback", *args],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def restorable(doc: dict) -> dict:
    """tracked() without what no rollback can undo: SMTP enabled on a certificate stays (Enable-ExchangeCertificate only adds)."""
    return {k: v for k, v in tracked(doc).items() if k[2] != "Services"}


def state(lab) -> dict:
    return yaml.safe_load(lab.state_path.read_text())


def test_two_remediations_keep_both_records_and_the_first_rolls_back_exactly(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    original = restorable(state(lab))
    reports = tmp_path / "reports"
    rc, output, _report, first = run(lab, reports, "remediate")
    assert rc == 0 and {c["status"] for c in first["changes"]} == {"applied"}, output
    remediated = restorable(state(lab))
    assert remediated != original
    rc, output, _report, second = run(lab, reports, "remediate")
    assert rc == 0 and second["changes"] == [], output
    rc, output, _report, audit = run(lab, reports, "audit")
    assert audit["changes"] == []

    runs = sorted(p.name for p in reports.iterdir() if p.name != "latest")
    assert len(runs) == 3 and runs == [first["run_id"], second["run_id"], audit["run_id"]]
    assert os.readlink(reports / "latest") == audit["run_id"]
    # Nothing overwritten: the first run's record is still the one it wrote.
    assert json.loads((reports / first["run_id"] / "changes.json").read_text()) == first

    # By default the newest run that changed something: the first, although two runs came after it.
    rc, output = rollback(lab, "-e", f"connector_tls_report_dir={reports}", "--check")
    assert rc == 0 and f"run {first['run_id']}" in output, output
    rc, output = rollback(lab, "-e", f"connector_tls_report_dir={reports}", "-e", f"connector_tls_run={first['run_id']}")
    assert rc == 0, output
    assert restorable(state(lab)) == original
    # The rollback's own report, next to the record, with the probe after restoring.
    (written,) = (reports / first["run_id"]).glob("rollback-*.json")
    outcome = json.loads(written.read_text())
    assert outcome["run_id"] == first["run_id"] and outcome["hosts"]["EX01"]["restored"]
    assert outcome["hosts"]["EX01"]["probe"]["connected"] is True
    # The old name matches no certificate on EX01 any more: the rollback says STARTTLS will fail again.
    assert f"warning: Receive connector EX01\\\\Default Frontend EX01: the name put back, '{R10}', matches no certificate" in output


def test_a_bad_run_id_is_refused_naming_it(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    (tmp_path / "reports").mkdir()
    rc, output = rollback(lab, "-e", f"connector_tls_report_dir={tmp_path / 'reports'}", "-e", "connector_tls_run=../../etc")
    assert rc != 0 and "connector_tls_run ../../etc cannot be used: '../../etc' is not a run id" in output, output
    assert journal(lab) == []


@pytest.mark.reliability("Faults", "role: controller killed mid-remediation (fleet5), then rollback restores every attempted write")
def test_a_controller_killed_mid_remediation_is_rolled_back_completely(running_lab, tmp_path):
    lab = running_lab(scenario_variant(tmp_path, FLEET, launch_seconds=4))
    original = restorable(state(lab))
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), "exchange.transport_tls.remediate",
         "-e", f"connector_tls_report_dir={reports}", "-e", "connector_tls_probe_wait=2"],
        cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        seen = ""
        while "Converge this server's drifted receive connectors" not in seen:
            assert proc.poll() is None and time.monotonic() < deadline, seen
            seen += proc.stdout.readline()
        time.sleep(1)
    finally:
        # The whole process group: ansible-playbook and its workers die as a cancelled AWX job's would.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    time.sleep(9)  # the launches already sent run to their end on the servers
    record = json.loads((reports / "latest" / "changes.json").read_text())
    assert record["complete"] is False and {c["status"] for c in record["changes"]} == {"attempted"}
    changed = {k for k, v in restorable(state(lab)).items() if original[k] != v}
    assert changed, "the kill came too late or too early: nothing was written"

    rc, output = rollback(lab, "-e", f"connector_tls_report_dir={reports}")
    assert rc == 0, output
    assert "is not complete" in output
    assert restorable(state(lab)) == original


def test_a_forged_record_is_refused_before_any_launch(running_lab, tmp_path):
    """Review F8: EX01 told to write an attacker's name onto EX02's connector, with the file's server field forged to match."""
    lab = running_lab(SCENARIOS / "demo.yml")
    before = state(lab)
    forged = tmp_path / "changes.json"
    forged.write_text(json.dumps({
        "schema": "exchange.transport_tls/changes/v1", "generated_at": "2026-11-27T12:00:00Z", "mode": "remediate",
        "check_mode": False, "complete": True, "changes": [
            {"host": "EX01", "server": "EX01", "object_type": "receive_connector", "object": "EX02\\Default Frontend EX02",
             "property": "TlsCertificateName", "before": "<I>CN=Attacker CA<S>CN=mail.contoso.com", "after": R11,
             "status": "applied", "message": None}]}))
    rc, output = rollback(lab, "-e", f"connector_tls_changes_file={forged}", "-e", "connector_tls_target=EX01")
    assert rc != 0
    assert ("cannot be used: the changes file is not valid: changes[0] (host EX01, receive_connector"
            " 'EX02\\\\\\\\Default Frontend EX02') is a connector of server EX02, but the entry's server is EX01") in output, output
    assert journal(lab) == [] and state(lab)["servers"] == before["servers"]
