"""`make demo`: start the lab on the demo scenario, run the read-only playbook, stop the lab.

Uses the lab as a user would: the `exchange-lab serve` command and its
inventory, and `ansible-playbook` from the checkout's .venv.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "demo-output"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    inventory, state = OUT / "inventory.ini", OUT / "state.yml"
    inventory.unlink(missing_ok=True)
    bindir = pathlib.Path(sys.executable).parent
    lab = subprocess.Popen(
        [str(bindir / "exchange-lab"), "serve", str(ROOT / "tests/scenarios/demo.yml"),
         "--inventory", str(inventory), "--state", str(state), "--journal", str(OUT / "journal.jsonl")],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not inventory.exists():
            if lab.poll() is not None or time.monotonic() > deadline:
                print("the lab did not start; see its output above", file=sys.stderr)
                return 1
            time.sleep(0.1)
        print(f"\n== The lab serves tests/scenarios/demo.yml; inventory: {inventory.relative_to(ROOT)}\n", flush=True)
        env = dict(os.environ, ANSIBLE_FORCE_COLOR=os.environ.get("ANSIBLE_FORCE_COLOR", "0"))
        return subprocess.call(
            [str(bindir / "ansible-playbook"), "-i", str(inventory), "playbooks/show_tls.yml"], cwd=ROOT, env=env
        )
    finally:
        lab.send_signal(signal.SIGTERM)
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
        print(f"\n== Lab stopped; its final state is in {state.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
