"""tests/integration/targets against exchange-lab: the behaviour specs a real Exchange lab runs with ansible-test.

Each target runs as ansible-test runs a Windows role target (a play on group `windows`, no fact
gathering, the target as its role), from a roles path that is the targets directory, with the lab's
inventory plus a `windows` group. Then the whole set runs through `ansible-test windows-integration
--inventory`, as docs/verify-environment.md tells a user to run it against a real lab.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS
from ...gates.test_doc_examples import block

BIN = pathlib.Path(sys.executable).parent
TARGETS_DIR = ROOT / "tests" / "integration" / "targets"
TARGETS = sorted(p.name for p in TARGETS_DIR.iterdir() if p.is_dir())
pytestmark = pytest.mark.ansible
# receive_connector_tls needs a connector that names a certificate in its store: on the demo fleet,
# EX02's (EX01's and EDGE01's name certificates that are gone, which is the demo's point).
WINDOWS_HOSTS = {"receive_connector_tls": ["EX02"]}


def windows_inventory(lab, hosts: list[str] | None, path: pathlib.Path) -> pathlib.Path:
    """The lab's inventory with a `windows` group (ansible-test's group for Windows targets)."""
    lines = lab.inventory_path.read_text().splitlines()
    if hosts is None:
        text = "\n".join(lines) + "\n\n[windows:children]\nmailbox\nedge\n"
    else:
        # A host in [windows] only: the others are left out of the play altogether.
        kept = [line for line in lines if line.split(" ", 1)[0] not in {"EX01", "EX02", "EDGE01"}
                or line.split(" ", 1)[0] in hosts]
        text = "\n".join(kept) + "\n\n[windows:children]\nmailbox\nedge\n"
    path.write_text(text)
    return path


def state(lab) -> dict:
    doc = yaml.safe_load(lab.state_path.read_text())
    return {s["name"]: s for s in doc["servers"]}


def exchange_state(lab) -> str:
    doc = yaml.safe_load(lab.state_path.read_text())
    doc.pop("now", None)
    for server in doc["servers"]:
        for key in ("launches", "writes", "restarts", "events"):
            server.pop(key, None)
    return yaml.safe_dump(doc, sort_keys=True)


def test_targets_have_the_ansible_test_windows_layout():
    assert TARGETS == ["exchange_certificate_facts", "exchange_environment_facts", "receive_connector_tls"]
    for name in TARGETS:
        aliases = (TARGETS_DIR / name / "aliases").read_text().split()
        assert "windows" in aliases and any(a.startswith("shippable/windows/group") for a in aliases), name
        assert (TARGETS_DIR / name / "tasks" / "main.yml").is_file()
        assert yaml.safe_load((TARGETS_DIR / name / "meta" / "main.yml").read_text()) == {"dependencies": []}


@pytest.mark.parametrize("target", TARGETS)
def test_target_passes_against_the_lab(running_lab, tmp_path, target):
    lab = running_lab(SCENARIOS / "demo.yml")
    hosts = WINDOWS_HOSTS.get(target)
    inventory = windows_inventory(lab, hosts, tmp_path / "inventory.winrm")
    playbook = tmp_path / f"{target}.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "windows", "gather_facts": False, "roles": [target]}]))
    before = exchange_state(lab)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(TARGETS_DIR),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    played = hosts or ["EX01", "EX02", "EDGE01"]
    for host in played:
        assert re.search(rf"^{host} +: ok=[1-9]\d* .*unreachable=0 +failed=0 ", output, re.M), output
    # Every target ends with Exchange as it began; only receive_connector_tls writes (and puts it back).
    assert exchange_state(lab) == before
    writes = {name: server.get("writes", 0) for name, server in state(lab).items()}
    if target == "receive_connector_tls":
        assert writes["EX02"] == 2 and writes["EX01"] == writes["EDGE01"] == 0, writes
    else:
        assert set(writes.values()) == {0}, writes


@pytest.mark.current_leg_only  # the targets themselves run on both legs above; this is ansible-test's own run of them
def test_ansible_test_windows_integration_runs_the_targets_against_the_lab(running_lab, tmp_path):
    """The command docs/verify-environment.md gives, on a copy laid out as ansible-test wants it.

    tools/run_ansible_test.py makes that copy (the page's checkout under ansible_collections/...);
    the page's inventory is the lab's with a `windows` group, and --python is this venv's.
    """
    (command,) = [line for line in block("docs/verify-environment.md", "ansible-test windows-integration").splitlines()
                  if line.startswith("ansible-test ")]
    args = shlex.split(command)[1:]
    assert args[:3] == ["windows-integration", "--inventory", "$PWD/inventory.winrm"] and "--python" in args, args
    lab = running_lab(SCENARIOS / "demo.yml")
    inventory = windows_inventory(lab, ["EX02"], tmp_path / "inventory.winrm")
    args[2] = str(inventory)
    args[args.index("--python") + 1] = "%d.%d" % sys.version_info[:2]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_ansible_test.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    for target in TARGETS:
        assert f"Running {target} integration test role" in output, output[-6000:]
    assert "ansible-test windows-integration: passed" in output
    assert state(lab)["EX02"].get("writes", 0) == 2
