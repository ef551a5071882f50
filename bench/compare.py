"""Two bench-results files side by side: wall time, ratio and controller CPU per host, before and after.

    python -m bench.compare bench-results/BEFORE.json bench-results/AFTER.json

Rows are matched by (run, N, L); a row in only one file is shown with blanks.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys


def _rows(path: pathlib.Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return {(r["run"], r["servers"], r["launch_seconds"]): r for r in data["rows"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"compare: {path} is not a bench-results file ({exc}); make bench writes them")


def _cell(row, key, fmt):
    value = None if row is None else row.get(key)
    return "" if value is None else format(value, fmt)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="compare")
    parser.add_argument("before", type=pathlib.Path)
    parser.add_argument("after", type=pathlib.Path)
    args = parser.parse_args(argv)
    before, after = _rows(args.before), _rows(args.after)
    order = ["floor", "audit", "remediate", "kb"]
    keys = sorted(set(before) | set(after), key=lambda k: (k[1], -k[2], order.index(k[0]) if k[0] in order else 9))
    print("| run | N | L s | wall s before | wall s after | ratio before | ratio after | CPU/host s before | CPU/host s after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        b, a = before.get(key), after.get(key)
        print(f"| {key[0]} | {key[1]} | {key[2]:g} | {_cell(b, 'wall_seconds', '.1f')} | {_cell(a, 'wall_seconds', '.1f')} | "
              f"{_cell(b, 'ratio', '.2f')} | {_cell(a, 'ratio', '.2f')} | {_cell(b, 'controller_cpu_per_host_seconds', '.3f')} | "
              f"{_cell(a, 'controller_cpu_per_host_seconds', '.3f')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
