"""Where the controller's CPU went, per task: merges the profiles bench/profile_hook.py wrote.

    python -m bench.profile_report OUTDIR [--top 25]

Prints, per task, the CPU seconds its workers spent (process time, so waiting
for a launch costs nothing), how many workers it forked and the mean per
worker; then the main process's total; then the functions with the most
cumulative CPU across all workers.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import pstats
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="profile_report")
    parser.add_argument("outdir", type=pathlib.Path)
    parser.add_argument("--top", type=int, default=25, help="how many functions to list (default 25)")
    args = parser.parse_args(argv)
    files = sorted(args.outdir.glob("worker-*.prof"))
    if not files:
        parser.error(f"{args.outdir} holds no worker-*.prof: run python -m bench.profile_hook {args.outdir} ... first")
    groups = collections.defaultdict(list)
    for path in files:
        groups[path.name.split("-")[1]].append(path)
    rows = []
    for task, paths in groups.items():
        total = sum(pstats.Stats(str(p)).total_tt for p in paths)
        name_file = args.outdir / f"task-{task}.name"
        rows.append((total, len(paths), name_file.read_text(encoding="utf-8") if name_file.exists() else task))
    print("| worker CPU s | workers | ms per worker | task |\n|---:|---:|---:|---|")
    for total, count, name in sorted(rows, reverse=True):
        print(f"| {total:.2f} | {count} | {1000 * total / count:.1f} | {name} |")
    workers = sum(r[0] for r in rows)
    main_prof = args.outdir / "main.prof"
    main_total = pstats.Stats(str(main_prof)).total_tt if main_prof.exists() else 0.0
    print(f"\nworkers: {workers:.2f} s in {len(files)} processes; main process: {main_total:.2f} s")
    if args.top <= 0:
        return 0
    merged = pstats.Stats(str(files[0]))
    for path in files[1:]:
        merged.add(str(path))
    merged.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
