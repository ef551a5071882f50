"""The connector_tls role's entry points: main (audit or remediate) and audit (no task that can write).

The audit entry point exists so a compliance run carries no write task at all, and so
each host is not charged a worker process for tasks an audit would skip
(docs/performance.md). These tests read the task files as Ansible would import them.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "connector_tls"
# Modules that change a server unless the task pins check mode.
CONVERGING = {"exchange.transport_tls.receive_connector_tls", "exchange.transport_tls.send_connector_tls"}
WRITERS = {"exchange.transport_tls.exchange_command"}
NOT_MODULES = {"name", "register", "when", "loop", "vars", "run_once", "delegate_to", "check_mode", "ignore_errors",
               "ignore_unreachable", "tags", "changed_when", "failed_when", "no_log"}


def tasks_of(entry: str) -> list:
    """The tasks of tasks/<entry>.yml with its static imports expanded, in order."""
    out = []
    for task in yaml.safe_load((ROLE / "tasks" / f"{entry}.yml").read_text()):
        if "ansible.builtin.import_tasks" in task:
            out.extend(tasks_of(task["ansible.builtin.import_tasks"][: -len(".yml")]))
        else:
            out.append(task)
    return out


def module_of(task: dict) -> str:
    return next(key for key in task if key not in NOT_MODULES)


def test_the_audit_entry_point_has_no_task_that_can_write():
    tasks = tasks_of("audit")
    modules = [module_of(t) for t in tasks]
    assert not WRITERS & set(modules), modules
    for task in tasks:
        if module_of(task) in CONVERGING:
            assert task.get("check_mode") is True, f"{task['name']} would write outside check mode"
    # The role's per-host step only in its audit stage (read, plan in check mode, probe), and still the report.
    stages = [t[m].get("stage") for t in tasks for m in [module_of(t)] if m == "exchange.transport_tls.connector_tls_server"]
    assert stages == ["audit"]
    assert "exchange.transport_tls.connector_tls_report" in modules


def test_the_audit_entry_point_is_main_without_the_remediation_and_restart_tasks():
    main = [t["name"] for t in tasks_of("main")]
    audit = [t["name"] for t in tasks_of("audit")]
    extra = [name for name in audit if name not in main]
    assert extra == ["Check that the audit entry point is asked to audit"]
    # Same order as in main; what is left out is exactly what an audit would skip.
    assert [n for n in main if n in audit] == [n for n in audit if n in main]
    left_out = {t["name"] for t in tasks_of("remediate") + tasks_of("restart")}
    assert set(main) - set(audit) == left_out


def test_both_entry_points_take_the_same_variables():
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert set(specs) == {"main", "audit"}
    assert specs["audit"]["options"] == specs["main"]["options"]
    assert specs["main"]["options"]["connector_tls_mode"]["choices"] == ["audit", "remediate"]


def test_the_audit_playbook_uses_the_audit_entry_point():
    play = yaml.safe_load((ROOT / "playbooks" / "audit.yml").read_text())[-1]
    imports = [t["ansible.builtin.import_role"] for t in play["tasks"] if "ansible.builtin.import_role" in t]
    assert imports == [{"name": "exchange.transport_tls.connector_tls", "tasks_from": "audit"}]
    assert "roles" not in play


def test_ansible_doc_shows_both_entry_points():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-doc"), "-t", "role",
                           "exchange.transport_tls.connector_tls"], cwd=ROOT, env=dict(env, PAGER="cat"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    # The entry point's name is emphasised (ANSI bold or *...*), whatever the terminal.
    assert re.findall(r"ENTRY POINT: \W*(\w+)", proc.stdout) == ["main", "audit"]
    assert proc.stdout.count("connector_tls_scope") >= 2


@pytest.mark.parametrize("playbook", ["audit.yml", "remediate.yml"])
def test_each_fleet_playbook_first_checks_that_its_target_matches_a_host(playbook):
    # A play whose pattern matches nothing is skipped with exit status 0; the first play must fail instead.
    first = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())[0]
    (task,) = first["tasks"]
    assert first["hosts"] == "localhost"
    assert "inventory_hostnames" in task["ansible.builtin.assert"]["that"] and "connector_tls_target" in task["ansible.builtin.assert"]["that"]
