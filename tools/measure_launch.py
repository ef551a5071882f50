"""Measure what one exchange_command launch costs against the lab, from the controller.

    .venv/bin/python tools/measure_launch.py [--tasks 20] [--scenario tests/scenarios/demo.yml]

Starts the lab in this process, runs a playbook of 1 task and one of 1 + N
tasks (each task one exchange_command launch per host), and prints the
per-task cost (difference / N) next to the playbook's fixed cost, plus the
median of one pywinrm run_ps cycle. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import winrm
import yaml

from exchange_lab.server import Lab, LabThread

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent


def playbook(path: pathlib.Path, tasks: int) -> None:
    step = {"cmdlet": "Get-ReceiveConnector", "parameters": {"Server": "{{ inventory_hostname }}"}, "properties": ["Identity", "TlsCertificateName"]}
    body = [{"name": f"launch {i}", "exchange.transport_tls.exchange_command": {"steps": [step]}} for i in range(tasks)]
    path.write_text(yaml.safe_dump([{"hosts": "exchange", "gather_facts": False, "tasks": body}]))


def timed(cmd: list[str]) -> float:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", default=str(ROOT / "tests/scenarios/demo.yml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        with LabThread(Lab(args.scenario, inventory_path=tmp / "inv.ini")) as lab:
            hosts = len(lab.org.servers)
            one, many = tmp / "one.yml", tmp / "many.yml"
            playbook(one, 1)
            playbook(many, 1 + args.tasks)
            base = [BIN / "ansible-playbook", "-i", tmp / "inv.ini", "-f", str(hosts)]
            t1 = statistics.median(timed([*map(str, base), str(one)]) for _ in range(args.repeat))
            tn = statistics.median(timed([*map(str, base), str(many)]) for _ in range(args.repeat))
            server = next(iter(lab.org.servers.values()))
            session = winrm.Session(
                f"http://127.0.0.1:{lab.winrm[server.name].port}/wsman", auth=(lab.username, lab.password), transport="basic"
            )
            cycles = []
            for _ in range(50):
                start = time.perf_counter()
                session.run_ps("Get-Date")
                cycles.append(time.perf_counter() - start)
    import ansible.release

    print(f"ansible-core {ansible.release.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {hosts} hosts, forks {hosts}")
    print(f"playbook with 1 task:            {t1:6.2f} s (median of {args.repeat})")
    print(f"playbook with {1 + args.tasks} tasks:           {tn:6.2f} s")
    print(f"one exchange_command task:       {(tn - t1) / args.tasks * 1000:6.0f} ms for {hosts} hosts "
          f"({(tn - t1) / args.tasks / hosts * 1000:.0f} ms per host-launch)")
    print(f"pywinrm run_ps cycle (5 requests, new connection): median {statistics.median(cycles) * 1000:.1f} ms of 50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
