"""Run ansible-playbook with cProfile in the main process and in every forked worker.

    python -m bench.profile_hook OUTDIR ansible-playbook-args...

Each worker (one per task and host) writes OUTDIR/worker-<task>-<pid>.prof (and the
task's name in OUTDIR/task-<task>.name), the main
process OUTDIR/main.prof; ``python -m bench.profile_report OUTDIR`` merges them.
cProfile with process time, not wall time: a worker waiting for its launch costs
nothing here, so the numbers are the controller's CPU. It needs nothing beyond the
standard library, and each worker's file is named after its task.
"""

from __future__ import annotations

import cProfile
import os
import pathlib
import sys
import time

_MAIN = cProfile.Profile(time.process_time)


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    from ansible.executor.process import worker

    original = worker.WorkerProcess._run

    def profiled(self):
        # The fork inherited the main process's active profiler: stop it here first.
        _MAIN.disable()
        profile = cProfile.Profile(time.process_time)
        try:
            return profile.runcall(original, self)
        finally:
            # The task's position in the play names the file, so a report can group by task.
            task = f"{self._task._uuid[-12:]}"
            profile.dump_stats(str(out / f"worker-{task}-{os.getpid()}.prof"))
            with open(out / f"task-{task}.name", "w", encoding="utf-8") as fh:
                fh.write(self._task.get_name())

    worker.WorkerProcess._run = profiled
    from ansible.cli.playbook import main as playbook_main

    sys.argv = ["ansible-playbook", *sys.argv[2:]]
    try:
        return _MAIN.runcall(playbook_main)
    finally:
        _MAIN.dump_stats(str(out / "main.prof"))


if __name__ == "__main__":
    sys.exit(main())
