"""No false green: every way a run could check nothing ends non-zero, naming the input to check.

What a person scheduling the audit in AWX or CI relies on: a typo in the scope, the
target, the inventory's group or a role variable; a fleet nobody could reach; a run
that read no Mailbox server; serial. Each case is run as users run the shipped
playbooks, against the demo lab, and each must fail (exit status non-zero) with a
message that names what to check. Cases refused before the gather task must not
have launched PowerShell anywhere.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SCENARIOS
from .test_audit_and_remediate import counters

BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.ansible


def playbook(lab, out: pathlib.Path, name: str, *args: str, inventory: pathlib.Path | None = None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory or lab.inventory_path), name,
         "-e", f"connector_tls_report_dir={out}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def launches(lab) -> int:
    return sum(n for n, _w, _r in counters(lab).values())


def test_a_scope_that_selects_nothing_fails_the_audit_although_every_host_read(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output = playbook(lab, tmp_path, "exchange.transport_tls.audit", "-e", "connector_tls_scope=receive_connector[?hybrid]")
    assert rc != 0, output
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert report["status"] == "error" and report["status"] != "compliant"
    assert any("connector_tls_scope selected no connector on any server" in p for p in report["problems"])
    assert "connector_tls_scope selected no connector" in output


@pytest.mark.parametrize("how", ["target typo", "group missing from the inventory"])
def test_a_target_that_matches_no_host_fails_before_any_launch(how, running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    args, inventory = [], None
    if how == "target typo":
        args = ["-e", "connector_tls_target=EX03"]
    else:
        inventory = tmp_path / "renamed.ini"
        inventory.write_text(lab.inventory_path.read_text().replace("[exchange:", "[exchange_servers:"))
    rc, output = playbook(lab, tmp_path / "out", "exchange.transport_tls.audit", *args, inventory=inventory)
    assert rc != 0, output
    assert "matches no host of the inventory" in output and "connector_tls_target" in output
    assert launches(lab) == 0


def test_an_unknown_role_variable_is_refused_before_any_launch_naming_the_nearest(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output = playbook(lab, tmp_path, "exchange.transport_tls.remediate", "-e", "connector_tls_restart_transprot=never")
    assert rc != 0, output
    assert "connector_tls_restart_transprot is not a variable of role exchange.transport_tls.connector_tls" in output
    assert "did you mean connector_tls_restart_transport?" in output
    assert launches(lab) == 0


def test_serial_is_refused_before_any_launch(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    play = tmp_path / "serial.yml"
    play.write_text(
        "- hosts: exchange\n  gather_facts: false\n  serial: 1\n  roles:\n"
        "    - role: exchange.transport_tls.connector_tls\n")
    rc, output = playbook(lab, tmp_path / "out", str(play))
    assert rc != 0, output
    assert "serial is not supported" in output
    assert launches(lab) == 0


def test_an_unreachable_fleet_fails_and_never_calls_the_organisation_compliant(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    inventory = tmp_path / "closed.ini"
    # Every server's WinRM port closed: port 9 (discard) is not served on this machine.
    lines = [" ".join(w if not w.startswith("ansible_port=") else "ansible_port=9" for w in line.split(" "))
             for line in lab.inventory_path.read_text().splitlines()]
    inventory.write_text("\n".join(lines) + "\n")
    rc, output = playbook(lab, tmp_path, "exchange.transport_tls.audit", inventory=inventory)
    assert rc != 0, output
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert set(h["status"] for h in report["hosts"].values()) == {"unreachable"}
    assert report["organization"]["status"] == "error" and "were not read" in report["organization"]["message"]


def test_a_run_narrowed_to_an_edge_server_says_the_organisation_was_not_read(running_lab, tmp_path):
    lab = running_lab(SCENARIOS / "demo.yml")
    rc, output = playbook(lab, tmp_path, "exchange.transport_tls.audit", "-e", "connector_tls_target=EDGE01")
    assert rc != 0, output
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    assert list(report["hosts"]) == ["EDGE01"]
    assert report["organization"]["status"] == "error"
    assert "connector_tls_organization_host" in report["organization"]["message"]
