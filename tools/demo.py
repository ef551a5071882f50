"""`make demo`: the lab on the demo scenario; audit, remediate, audit again; the lab stopped.

Uses the lab and the collection as a user would: `exchange-lab serve` and its
inventory, and `ansible-playbook` with the collection's own playbooks from the
checkout's .venv. What was wrong, what changed and STARTTLS before and after are
what the role itself prints at the end of each run; this script only starts the
lab, runs the playbooks and says where their reports are.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
# DEMO_OUTPUT: where the lab state and reports go (tests use a temporary directory).
OUT = pathlib.Path(os.environ.get("DEMO_OUTPUT") or ROOT / "demo-output").resolve()
STEPS = (
    ("audit-before", "playbooks/audit.yml", "1. Audit: what is wrong"),
    ("remediate", "playbooks/remediate.yml", "2. Remediate: fix it with guarded writes, prove it over SMTP"),
    ("audit-after", "playbooks/audit.yml", "3. Audit again: is it clean?"),
)


def start_lab(bindir: pathlib.Path, inventory: pathlib.Path, state: pathlib.Path) -> subprocess.Popen:
    lab = subprocess.Popen(
        [str(bindir / "exchange-lab"), "serve", str(ROOT / "tests/scenarios/demo.yml"),
         "--inventory", str(inventory), "--state", str(state), "--journal", str(OUT / "journal.jsonl")],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while not inventory.exists():
        if lab.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the lab did not start; see its output above")
        time.sleep(0.1)
    return lab


def shown(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> int:
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    inventory, state = OUT / "inventory.ini", OUT / "state.yml"
    # Only what an earlier demo left there: DEMO_OUTPUT may name a directory holding other files.
    for name, _playbook, _title in STEPS:
        shutil.rmtree(OUT / name, ignore_errors=True)
    for leftover in (inventory, state, OUT / "journal.jsonl"):
        leftover.unlink(missing_ok=True)
    bindir = pathlib.Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_FORCE_COLOR=os.environ.get("ANSIBLE_FORCE_COLOR", "0"))
    try:
        lab = start_lab(bindir, inventory, state)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    codes = {}
    try:
        print(f"\n== The lab serves tests/scenarios/demo.yml (EX01, EX02, EDGE01); inventory: {shown(inventory)}", flush=True)
        for name, playbook, title in STEPS:
            print(f"\n== {title}\n   ansible-playbook {playbook} -e connector_tls_report_dir={shown(OUT / name)}\n", flush=True)
            codes[name] = subprocess.call(
                [str(bindir / "ansible-playbook"), "-i", str(inventory), playbook,
                 "-e", f"connector_tls_report_dir={OUT / name}", "-e", "connector_tls_probe_wait=5"],
                cwd=ROOT, env=env)
            print(f"   exit status {codes[name]}", flush=True)
            path = OUT / name / "latest" / "report.json"
            if not path.exists():
                print(f"{playbook} wrote no report ({path}); see its output above", file=sys.stderr)
                return 1
    finally:
        lab.send_signal(signal.SIGTERM)
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
    print("\n== Reports of each step (report.html to open in a browser, report.json, junit.xml, changes.json):")
    for name, _playbook, title in STEPS:
        print(f"  {title}: {shown(OUT / name / 'latest')}/ (exit status {codes[name]})")
    print(f"Lab stopped; its final state is in {shown(state)}. The demo took {time.monotonic() - started:.0f} s.")
    # The first audit is meant to fail (drift); the demo fails only if the fix or the second audit did.
    return 0 if codes["remediate"] == 0 and codes["audit-after"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
