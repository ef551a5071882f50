"""`make demo`: the lab on the demo scenario; audit, remediate, audit again; a summary; the lab stopped.

Uses the lab and the collection as a user would: `exchange-lab serve` and its
inventory, and `ansible-playbook` with the collection's own playbooks from the
checkout's .venv. The summary is read from the reports the playbooks wrote.
"""

from __future__ import annotations

import json
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


def short(name: str | None) -> str:
    return "(none)" if name is None else name


def wrong(findings: list) -> list:
    """What a remediation acts on: errors, and warnings with a proposed fix."""
    return [f for f in findings if f["in_scope"] and (f["severity"] == "error" or f["expected"])]


def meaning(code: str) -> str:
    from ansible_collections.exchange.transport_tls.plugins.module_utils import findings, report
    return (findings.CODES.get(code) or (None, report.PROBE_CODES.get(code, code)))[1]


def change_line(c: dict) -> str:
    if c["property"] == "Services":
        return f"enabled {', '.join(sorted(set(c['after']) - set(c['before'] or [])))} on certificate {c['object']}" \
            f" (the default SMTP certificate was kept)"
    what = c["object"] if c["object_type"] != "hybrid_configuration" else "the hybrid configuration"
    return f"{what}: {c['property']}\n      was {short(c['before'])}\n      now {short(c['after'])}"


def summary(reports: dict) -> str:
    before, fix, after = reports["audit-before"], reports["remediate"], reports["audit-after"]
    lines = ["", "== Summary", "", "What was wrong (first audit):"]
    for host, entry in before["hosts"].items():
        found = wrong(entry["findings"])
        lines.append(f"  {host}: {entry['status']}" + ("" if found else " (nothing wrong)"))
        for f in found:
            lines.append(f"    - {f['object']}: {meaning(f['code'])}\n      ({f['code']}; it names {short(f['current'])})")
    for f in wrong(before["organization"]["findings"]):
        lines.append(f"  organisation: {f['object']}: {meaning(f['code'])} (seen from {', '.join(f['servers'])})")
    lines += ["", f"What the remediation changed (guarded writes, read back; also in {shown(OUT / 'remediate' / 'latest' / 'changes.json')}):"]
    changes = [(h, c) for h, e in fix["hosts"].items() for c in e["changes"]] + [
        ("organisation", c) for c in fix["organization"]["changes"]]
    for host, c in changes:
        lines.append(f"  {host}: {change_line(c)}")
    if not changes:
        lines.append("  nothing")
    lines += ["", "STARTTLS on port 25, as a sending server sees it (SMTP probe from this machine):"]
    for host in before["hosts"]:
        seen = []
        for report in (before, after):
            probes = report["hosts"][host]["probe"]
            p = probes[-1] if probes else None
            seen.append("not probed" if p is None else (
                f"offered, certificate {p['thumbprint']}" if p["thumbprint"] else
                ("offered, handshake failed" if p["starttls_offered"] else "NOT offered")))
        lines.append(f"  {host}: before: {seen[0]}; after: {seen[1]}")
    lines += ["", f"Verdict: first audit {before['status']}, remediation {fix['status']}, second audit {after['status']}."]
    lines += ["Reports of each step (report.html to open in a browser, report.json, junit.xml, changes.json):"]
    # Each run writes into its own run directory; latest names it.
    lines += [f"  {shown(OUT / name / 'latest')}/" for name, _playbook, _title in STEPS]
    return "\n".join(lines)


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
    reports, codes = {}, {}
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
            reports[name] = json.loads(path.read_text())
    finally:
        lab.send_signal(signal.SIGTERM)
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
    print(summary(reports))
    print(f"Lab stopped; its final state is in {shown(state)}. The demo took {time.monotonic() - started:.0f} s.")
    # The first audit is meant to fail (drift); the demo fails only if the fix or the second audit did.
    return 0 if codes["remediate"] == 0 and codes["audit-after"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
