"""The fleet benchmark: launches per host and wall time against the lower bound.

    make bench                                   # N=50,200 x L=5,0, forks 50
    .venv/bin/python -m bench.run --sizes 50 --latencies 0 --runs audit
    make bench BENCH_ARGS="--sizes 200 --latencies 5 --runs floor,audit"
    make bench BENCH_ARGS="--sizes 200,1000 --latencies 0 --runs floor,audit --profile bench-results/profile"

For every fleet size N and launch latency L it generates a synthetic fleet
(bench/fleet.py), and for each run (the floor, bench/floor.yml: one launch per
host and nothing else; the role's audit; the role's remediation; and the baseline
KB procedure, bench/kb_procedure.yml) starts a fresh lab on a fresh
copy of that fleet, runs ``ansible-playbook -f F`` against it and measures:

- wall time of the playbook;
- launches per host from the lab's state (min/median/max), and writes;
- the lower bound ceil(N/F) x launches x L (launches = the median per host) and
  wall / lower bound;
- controller CPU (user+sys of ansible-playbook and every process it started,
  from getrusage of the waited child), per host;
- peak memory: the largest single controller process (ru_maxrss), the whole
  controller tree (sum of PSS, sampled every 0.25 s), and the lab (VmHWM);
- for remediations, whether the fleet ends healthy (every receive connector and
  send connector names a certificate in the store) and how often each
  organisation object was written.

Writes bench-results/<timestamp>.json and prints a table with each target and
whether it holds. Nothing here asserts: the numbers are the result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import pathlib
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

import yaml
from ansible.release import __version__ as ansible_core_version

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from bench import fleet as fleet_mod

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
RUNS = ("floor", "audit", "remediate", "kb")
PLAYBOOKS = {
    "floor": str(ROOT / "bench" / "floor.yml"),
    "audit": "exchange.transport_tls.audit",
    "remediate": "exchange.transport_tls.remediate",
    "kb": str(ROOT / "bench" / "kb_procedure.yml"),
}
ORG_CMDLETS = {"Set-SendConnector", "Set-HybridConfiguration"}
WRITE_CMDLETS = {"Set-ReceiveConnector", "Set-SendConnector", "Set-HybridConfiguration", "Enable-ExchangeCertificate",
                 "Restart-Service"}
AUDIT_RATIO_TARGET = 1.25
# Issue 20's targets, each against the floor measured in the same run (a shared machine makes absolute figures noisy).
AUDIT_FLOOR_WALL_TARGET = 1.10       # audit wall / floor wall, N >= 200, L > 0
AUDIT_FLOOR_CPU_TARGET = 1.5         # audit CPU per host / floor's
REMEDIATE_CPU_PER_HOST_TARGET = 0.30
# At the largest N the audit's CPU per host may not exceed the N=200 figure by more than measurement noise.
SCALING_TOLERANCE = 1.10


class TreeSampler(threading.Thread):
    """Peak of the summed PSS of a process and its descendants (forks share pages: RSS would overcount)."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _tree_pss(self.pid))
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def _children() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = pathlib.Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _proc_bytes(path: str, key: str) -> int:
    """A "Key:  N kB" line of a /proc file, in bytes (0 when the process or line is gone)."""
    try:
        for line in pathlib.Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_pss(pid: int) -> int:
    tree, total, todo = _children(), 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, []))
        total += _proc_bytes(f"/proc/{p}/smaps_rollup", "Pss")
    return total


class LabProcess:
    """``exchange-lab serve`` in its own process, so its memory and CPU are its own."""

    def __init__(self, scenario: pathlib.Path, work: pathlib.Path):
        self.work = work
        self.inventory, self.state, self.journal = work / "inventory.ini", work / "state.yml", work / "journal.jsonl"
        self.log = (work / "lab.log").open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "exchange-lab"), "serve", str(scenario), "--inventory", str(self.inventory),
             "--state", str(self.state), "--journal", str(self.journal)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=work)
        deadline = time.monotonic() + 300
        while not self.inventory.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the lab did not start: {(work / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> Dict[str, float]:
        peak = _proc_bytes(f"/proc/{self.proc.pid}/status", "VmHWM")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.log.close()
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"peak_rss_bytes": peak, "cpu_seconds": round(cpu, 2)}


def run_playbook(kind: str, lab: LabProcess, forks: int, work: pathlib.Path, profile: Optional[pathlib.Path] = None) -> Dict[str, Any]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "ansible-playbook"), "-i", str(lab.inventory), "-f", str(forks), PLAYBOOKS[kind]]
    if profile is not None:
        # cProfile (process time) in the main process and every worker: bench/profile_hook.py.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "bench.profile_hook", str(profile)] + cmd[1:]
    if kind in ("audit", "remediate"):
        cmd += ["-e", f"connector_tls_report_dir={work / 'reports'}"]
    log = work / f"{kind}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        wall = time.perf_counter() - start
        tree_peak = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rc": rc, "wall_seconds": round(wall, 2), "controller_cpu_seconds": round(cpu, 2),
            "controller_peak_process_bytes": after.ru_maxrss * 1024, "controller_peak_tree_pss_bytes": tree_peak,
            "log_tail": log.read_text()[-1500:] if rc not in (0, 2) else ""}


def launches(state: Dict[str, Any]) -> Dict[str, int]:
    return {s["name"]: int(s.get("launches", 0)) for s in state["servers"]}


def journal_facts(journal: pathlib.Path) -> Dict[str, Any]:
    """Per server: launches that wrote, launches that only touched organisation objects; org writes per object."""
    org_writes: Dict[str, int] = {}
    org_only: Dict[str, int] = {}
    smtp_hosts = set()
    if not journal.exists():
        return {"organization_writes": {}, "organization_only_launches": {}, "smtp_enabled_on": []}
    for line in journal.read_text(encoding="utf-8").split("\n"):
        if not line:
            continue
        entry = json.loads(line)
        if entry.get("check_mode") or "steps" not in entry:
            continue
        cmdlets = [s["cmdlet"] for s in entry["steps"]]
        for s in entry["steps"]:
            if s["cmdlet"] in ORG_CMDLETS and not entry.get("failed"):
                key = f"{s['cmdlet']} {s['parameters'].get('Identity', '')}".strip()
                org_writes[key] = org_writes.get(key, 0) + 1
            if s["cmdlet"] == "Enable-ExchangeCertificate":
                smtp_hosts.add(entry["server"])
        writes = [c for c in cmdlets if c in WRITE_CMDLETS]
        if writes and all(c in ORG_CMDLETS for c in writes):
            org_only[entry["server"]] = org_only.get(entry["server"], 0) + 1
    return {"organization_writes": org_writes, "organization_only_launches": org_only,
            "smtp_enabled_on": sorted(smtp_hosts)}


def healthy(state: Dict[str, Any]) -> Dict[str, int]:
    """What still names no usable certificate: receive connectors (on their server), send paths, the hybrid configuration.

    Names are compared as Exchange compares them (tls_name.names_match); a self-signed
    certificate's issuer is its subject.
    """
    names = {
        server["name"]: [tls_name.format_tls_certificate_name(c.get("issuer") or c["subject"], c["subject"])
                         for c in server["certificates"] if c.get("in_store", True) and c.get("has_private_key", True)]
        for server in state["servers"]
    }

    def stale(name: Optional[str], candidates: List[str]) -> bool:
        return bool(name) and not any(tls_name.names_match(name, c) for c in candidates)

    stale_receive = sum(1 for s in state["servers"] for rc in s["receive_connectors"]
                        if stale(rc.get("tls_certificate_name"), names[s["name"]]))
    stale_send = sum(1 for sc in state.get("send_connectors", []) for v in sc.get("outbound_tls", {}).values() if v != "ok")
    hybrid = (state.get("hybrid_configuration") or {}).get("tls_certificate_name")
    stale_hybrid = int(stale(hybrid, [n for server_names in names.values() for n in server_names]))
    return {"stale_receive_connectors": stale_receive, "send_connector_paths_failing": stale_send,
            "hybrid_configuration_stale": stale_hybrid}


def profile_run(kind: str, n: int, latency: float, forks: int, scenario: Dict[str, Any], dest: pathlib.Path) -> pathlib.Path:
    """The run once more under cProfile, apart from the timed one (profiling slows it); the report per task in a .txt."""
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-profile-{kind}-{n}-{latency:g}-"))
    out = dest / f"{kind}-N{n}-L{latency:g}"
    shutil.rmtree(out, ignore_errors=True)
    try:
        path = work / "fleet.yml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        lab = LabProcess(path, work)
        try:
            run_playbook(kind, lab, forks, work, profile=out)
        finally:
            lab.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = subprocess.run([sys.executable, "-m", "bench.profile_report", str(out), "--top", "30"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, check=False)
    text = dest / f"{kind}-N{n}-L{latency:g}.txt"
    text.write_text(report.stdout + report.stderr, encoding="utf-8")
    return text


def one_run(kind: str, n: int, latency: float, forks: int, scenario: Dict[str, Any], keep: Optional[pathlib.Path]) -> Dict[str, Any]:
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-{kind}-{n}-{latency:g}-"))
    try:
        path = work / "fleet.yml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        lab = LabProcess(path, work)
        try:
            result = run_playbook(kind, lab, forks, work)
        finally:
            result_lab = lab.stop()
        state = yaml.safe_load(lab.state.read_text())
        per_host = launches(state)
        journal = journal_facts(lab.journal)
        values = sorted(per_host.values())
        median = statistics.median(values)
        bound = math.ceil(n / forks) * median * latency
        row: Dict[str, Any] = {
            "run": kind, "servers": n, "forks": forks, "launch_seconds": latency, **result,
            "launches_per_host": {"min": values[0], "median": median, "max": values[-1]},
            "launches_total": sum(values),
            "lower_bound_seconds": round(bound, 2),
            "ratio": round(result["wall_seconds"] / bound, 3) if bound else None,
            "controller_cpu_per_host_seconds": round(result["controller_cpu_seconds"] / n, 4),
            "lab_peak_rss_bytes": result_lab["peak_rss_bytes"], "lab_cpu_seconds": result_lab["cpu_seconds"],
            **journal, "end_state": healthy(state),
            "host_launch_check": host_launch_check(kind, per_host, journal),
        }
        if keep:
            dest = keep / f"{kind}-{n}-{latency:g}"
            shutil.copytree(work, dest, dirs_exist_ok=True)
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def host_launch_check(kind: str, per_host: Dict[str, int], journal: Dict[str, Any]) -> Dict[str, Any]:
    """The issue's per-host targets: audit exactly 1; remediation at most 2, plus 2 where SMTP was enabled.

    Launches that wrote only organisation objects are counted apart (they are the
    organisation's, made once from one server), and reported as such.
    """
    if kind in ("audit", "floor"):
        over = {h: v for h, v in per_host.items() if v != 1}
        return {"target": "exactly 1 per host", "holds": not over, "exceptions": over}
    if kind == "remediate":
        over = {}
        for host, value in per_host.items():
            own = value - journal["organization_only_launches"].get(host, 0)
            allowed = 2 + (2 if host in journal["smtp_enabled_on"] else 0)
            if own > allowed:
                over[host] = {"launches": value, "organization_only": value - own, "allowed": allowed}
        return {"target": "at most 2, +2 where SMTP was enabled (organisation-only launches apart)",
                "holds": not over, "exceptions": over}
    return {"target": None, "holds": None, "exceptions": {}}


def machine() -> Dict[str, Any]:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_bytes": mem, "python": platform.python_version(),
            "ansible_core": ansible_core_version, "platform": platform.platform()}


def targets(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for row in rows:
        check = row["host_launch_check"]
        if check["target"]:
            out.append({"target": f"{row['run']} N={row['servers']} L={row['launch_seconds']:g}: launches {check['target']}",
                        "holds": check["holds"], "detail": check["exceptions"] or ""})
        if row["run"] in ("remediate", "kb"):
            # For the baseline these say whether the comparison is fair: it must fix the same fleet.
            run = f"{row['run']} N={row['servers']} L={row['launch_seconds']:g}"
            writes = row["organization_writes"]
            once = bool(writes) and all(v == 1 for v in writes.values())
            out.append({"target": f"{run}: organisation objects changed once", "holds": once, "detail": writes})
            fixed = not any(row["end_state"].values())
            out.append({"target": f"{run}: fleet ends healthy", "holds": fixed, "detail": row["end_state"]})
        if row["run"] == "audit" and row["launch_seconds"] and row["servers"] >= 200:
            out.append({"target": f"audit N={row['servers']} F={row['forks']} L={row['launch_seconds']:g}: wall / lower bound "
                                  f"<= {AUDIT_RATIO_TARGET}", "holds": row["ratio"] is not None and row["ratio"] <= AUDIT_RATIO_TARGET,
                        "detail": f"{row['ratio']}"})
    out.extend(floor_targets(rows))
    return out


def floor_row(rows: List[Dict[str, Any]], row: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The floor run of the same N and L, measured in the same bench run, or None."""
    return next((r for r in rows if r["run"] == "floor" and r["servers"] == row["servers"]
                 and r["launch_seconds"] == row["launch_seconds"]), None)


def versus_floor(rows: List[Dict[str, Any]], row: Dict[str, Any]) -> Dict[str, Optional[float]]:
    """wall / floor's wall and CPU per host / floor's (None without a floor run of the same N and L)."""
    floor = floor_row(rows, row)
    if floor is None or row["run"] == "floor":
        return {"wall": None, "cpu": None}
    wall = row["wall_seconds"] / floor["wall_seconds"] if floor["wall_seconds"] else None
    cpu = (row["controller_cpu_per_host_seconds"] / floor["controller_cpu_per_host_seconds"]
           if floor["controller_cpu_per_host_seconds"] else None)
    return {"wall": None if wall is None else round(wall, 3), "cpu": None if cpu is None else round(cpu, 3)}


def floor_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Issue 20: the audit near the floor, the remediation's CPU per host, and cost linear in the fleet."""
    out = []
    for row in rows:
        run = f"{row['run']} N={row['servers']} F={row['forks']} L={row['launch_seconds']:g}"
        ratio = versus_floor(rows, row)
        if row["run"] == "audit" and ratio["wall"] is not None and row["launch_seconds"] and row["servers"] >= 200:
            out.append({"target": f"{run}: wall / floor's wall <= {AUDIT_FLOOR_WALL_TARGET}",
                        "holds": ratio["wall"] <= AUDIT_FLOOR_WALL_TARGET, "detail": f"{ratio['wall']}"})
        if row["run"] == "audit" and ratio["cpu"] is not None:
            out.append({"target": f"{run}: CPU per host / floor's <= {AUDIT_FLOOR_CPU_TARGET}",
                        "holds": ratio["cpu"] <= AUDIT_FLOOR_CPU_TARGET, "detail": f"{ratio['cpu']}"})
        if row["run"] == "remediate":
            cpu = row["controller_cpu_per_host_seconds"]
            out.append({"target": f"{run}: CPU per host <= {REMEDIATE_CPU_PER_HOST_TARGET} s",
                        "holds": cpu <= REMEDIATE_CPU_PER_HOST_TARGET, "detail": f"{cpu}"})
        if row["run"] == "audit" and row["servers"] > 200:
            base = next((r for r in rows if r["run"] == "audit" and r["servers"] == 200
                         and r["launch_seconds"] == row["launch_seconds"]), None)
            if base is not None:
                cpu, ref = row["controller_cpu_per_host_seconds"], base["controller_cpu_per_host_seconds"]
                out.append({"target": f"{run}: finishes (rc 0 or 2) with CPU per host <= {SCALING_TOLERANCE} x N=200's",
                            "holds": row["rc"] in (0, 2) and cpu <= SCALING_TOLERANCE * ref, "detail": f"{cpu} vs {ref}"})
    return out


def table(rows: List[Dict[str, Any]]) -> str:
    head = ("run", "N", "L s", "wall s", "launches/host min/med/max", "bound s", "ratio", "audit/floor", "CPU s", "CPU/host s",
            "CPU/host / floor's", "ctl peak proc MiB", "ctl tree PSS MiB", "lab peak MiB", "rc")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lp = r["launches_per_host"]
        floor = versus_floor(rows, r)
        lines.append("| " + " | ".join(str(x) for x in (
            r["run"], r["servers"], f"{r['launch_seconds']:g}", f"{r['wall_seconds']:.1f}",
            f"{lp['min']}/{lp['median']:g}/{lp['max']}", f"{r['lower_bound_seconds']:g}",
            "" if r["ratio"] is None else f"{r['ratio']:.2f}",
            f"{floor['wall']:.2f}" if r["run"] == "audit" and floor["wall"] is not None else "",
            f"{r['controller_cpu_seconds']:.1f}", f"{r['controller_cpu_per_host_seconds']:.3f}",
            "" if floor["cpu"] is None else f"{floor['cpu']:.2f}", f"{r['controller_peak_process_bytes'] / 2**20:.0f}",
            f"{r['controller_peak_tree_pss_bytes'] / 2**20:.0f}", f"{r['lab_peak_rss_bytes'] / 2**20:.0f}", r["rc"])) + " |")
    return "\n".join(lines)


def target_lines(checks: List[Dict[str, Any]]) -> str:
    lines = []
    for c in checks:
        detail = c["detail"] if isinstance(c["detail"], str) else json.dumps(c["detail"], sort_keys=True)
        lines.append(f"- {'holds' if c['holds'] else 'DOES NOT HOLD'}: {c['target']}" + (f" ({detail})" if detail else ""))
    return "\n".join(lines)


DOC_START, DOC_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def write_doc(doc: pathlib.Path, result: Dict[str, Any], rows: List[Dict[str, Any]], checks: List[Dict[str, Any]],
              json_name: str) -> None:
    """Replace the part of ``doc`` between the two markers with this run's table; the prose stays."""
    text = doc.read_text(encoding="utf-8")
    if DOC_START not in text or DOC_END not in text:
        raise SystemExit(f"bench: {doc} has no {DOC_START} ... {DOC_END} markers to write the table between")
    m = result["machine"]
    block = "\n".join([
        DOC_START,
        f"Run {result['started']} with `make bench` (`python -m bench.run {' '.join(result['argv'])}`), "
        f"results in `bench-results/{json_name}` (not committed).",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model'] or 'model unknown'}), {m['memory_bytes'] / 2**30:.0f} GiB, "
        f"Python {m['python']}, ansible-core {m['ansible_core']}, {m['platform']}.",
        "",
        table(rows),
        "",
        target_lines(checks),
        DOC_END,
    ])
    head, rest = text.split(DOC_START, 1)
    tail = rest.split(DOC_END, 1)[1]
    doc.write_text(head + block + tail, encoding="utf-8")


def _csv(kind):
    def parse(text: str):
        try:
            values = [kind(v) for v in text.split(",") if v]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, got {text!r}")
        if not values or any(v < 0 for v in values):
            raise argparse.ArgumentTypeError(f"expected non-negative values, got {text!r}")
        return values
    return parse


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The bench's options, checked (an unknown run, no forks, a size below 1 end with a usage error)."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=_csv(int), default=[50, 200], help="fleet sizes N (default 50,200)")
    parser.add_argument("--latencies", type=_csv(float), default=[5.0, 0.0], help="launch seconds L (default 5,0)")
    parser.add_argument("--forks", type=int, default=50, help="ansible forks F (default 50)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which runs, from {','.join(RUNS)}")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench-results", help="where the JSON goes")
    parser.add_argument("--keep", type=pathlib.Path, help="copy each run's lab state, journal, logs and reports here")
    parser.add_argument("--doc", type=pathlib.Path, help="rewrite the table between the bench-table markers of this file")
    parser.add_argument("--profile", type=pathlib.Path, metavar="DIR",
                        help="also run each chosen run once more under cProfile (bench/profile_hook.py), apart from the timed"
                             " runs, and write where each task's controller CPU goes to DIR/<run>-N<n>-L<l>.txt")
    args = parser.parse_args(argv)
    runs = [r for r in args.runs.split(",") if r]
    unknown = [r for r in runs if r not in RUNS]
    if unknown or not runs:
        parser.error(f"--runs: unknown {unknown or 'empty list'}; valid: {', '.join(RUNS)}")
    if args.forks < 1:
        parser.error(f"--forks must be at least 1, got {args.forks}")
    if any(n < 1 for n in args.sizes):
        parser.error(f"--sizes must be at least 1, got {args.sizes}")
    args.runs = runs
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    runs = args.runs
    started = dt.datetime.now(dt.timezone.utc)
    rows = []
    for n in args.sizes:
        for latency in args.latencies:
            scenario = fleet_mod.fleet(n, latency)
            for kind in runs:
                print(f"bench: {kind} N={n} L={latency:g} F={args.forks} ...", file=sys.stderr, flush=True)
                row = one_run(kind, n, latency, args.forks, scenario, args.keep)
                row["expected_changes"] = fleet_mod.expected_changes(scenario)
                rows.append(row)
                print(f"bench:   wall {row['wall_seconds']} s, rc {row['rc']}, launches {row['launches_per_host']}",
                      file=sys.stderr, flush=True)
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    row["profile"] = str(profile_run(kind, n, latency, args.forks, scenario, args.profile))
                    print(f"bench:   profile {row['profile']}", file=sys.stderr, flush=True)
    checks = targets(rows)
    given = list(sys.argv[1:] if argv is None else argv)
    result = {"format": 1, "started": started.isoformat(timespec="seconds"), "argv": given,
              "machine": machine(), "rows": rows, "targets": checks}
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    print()
    print(target_lines(checks))
    if args.doc:
        write_doc(args.doc, result, rows, checks, dest.name)
        print(f"table written to {args.doc}")
    print(f"\nwritten: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
