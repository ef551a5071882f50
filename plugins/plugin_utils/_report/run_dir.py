# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run directories under connector_tls_report_dir: one per run, named by its run id, and a ``latest`` pointer.

A run's changes.json is the input of its rollback, so no run may replace another's:
each run writes into ``<report_dir>/<run id>``. The run id is the UTC start time to the
millisecond (``20261207T233904.123Z``), which sorts as the runs happened; a second run
in the same millisecond gets ``-2`` (the directory is created exclusively, so two
controllers sharing a directory cannot pick the same id). ``latest`` is a relative
symbolic link to the newest run directory, replaced atomically; on a file system
without symbolic links it is a text file holding the run id.

Controller-side, standard library only.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import tempfile
from typing import List, Optional

LATEST = "latest"
RUN_ID = re.compile(r"\A[0-9]{8}T[0-9]{6}\.[0-9]{3}Z(?:-[0-9]{1,4})?\Z")
EXAMPLE = "20261207T233904.123Z"
CHANGES = "changes.json"
# changes.json statuses that mean something may have been written, so a rollback has work to look at.
_WRITTEN = ("applied", "attempted", "unknown")


def is_run_id(value: object) -> bool:
    return isinstance(value, str) and bool(RUN_ID.match(value))


def _sort_key(run_id: str) -> tuple:
    base, _sep, suffix = run_id.partition("-")
    return base, int(suffix or 1)


def create(report_dir: str, when: dt.datetime) -> str:
    """Make a new run directory under ``report_dir`` (created if missing) and return its run id."""
    os.makedirs(report_dir, exist_ok=True)
    base = when.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.") + f"{when.microsecond // 1000:03d}Z"
    for number in range(1, 10000):
        run_id = base if number == 1 else f"{base}-{number}"
        try:
            os.mkdir(os.path.join(report_dir, run_id), 0o755)
        except FileExistsError:
            continue
        return run_id
    raise OSError(errno.EEXIST, f"no free run directory for {base} in {report_dir}")


def existing(report_dir: str, run_id: str) -> str:
    """``run_id`` when it names a run directory under ``report_dir``; ValueError otherwise."""
    if not is_run_id(run_id):
        raise ValueError(f"{run_id!r} is not a run id; a run id looks like {EXAMPLE!r} (a directory name under {report_dir})")
    if not os.path.isdir(os.path.join(report_dir, run_id)):
        raise ValueError(f"there is no run {run_id!r} under {report_dir}; runs there: {', '.join(runs(report_dir)[-5:]) or 'none'}")
    return run_id


def point_latest(report_dir: str, run_id: str) -> None:
    """Make ``latest`` name ``run_id``, atomically (a reader never finds it missing)."""
    path = os.path.join(report_dir, LATEST)
    tmp = os.path.join(report_dir, f".{LATEST}.{os.getpid()}")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    try:
        os.symlink(run_id, tmp)
    except OSError:
        # No symbolic links here (some SMB or FAT mounts): the run id in a text file instead.
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(run_id + "\n")
    if os.path.isdir(path) and not os.path.islink(path):
        raise OSError(errno.EISDIR, f"{path} is a directory, not the latest-run pointer; move it away")
    os.replace(tmp, path)


def latest(report_dir: str) -> Optional[str]:
    """The run id ``latest`` names, or None."""
    path = os.path.join(report_dir, LATEST)
    if os.path.islink(path):
        target = os.path.basename(os.readlink(path))
    elif os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            target = handle.read().strip()
    else:
        return None
    return target if is_run_id(target) else None


def runs(report_dir: str) -> List[str]:
    """The run ids under ``report_dir``, oldest first."""
    try:
        names = os.listdir(report_dir)
    except OSError:
        return []
    return sorted((n for n in names if is_run_id(n) and os.path.isdir(os.path.join(report_dir, n))), key=_sort_key)


def _wrote_something(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        return False
    changes = doc.get("changes") if isinstance(doc, dict) else None
    return isinstance(changes, list) and any(isinstance(c, dict) and c.get("status") in _WRITTEN for c in changes)


def changes_file(report_dir: str, run: Optional[str] = None) -> str:
    """The changes.json of run ``run``, or (None/empty) of the newest run that changed or tried to change something.

    ValueError names what was looked for and what exists.
    """
    if run:
        return os.path.join(report_dir, existing(report_dir, run), CHANGES)
    found = [r for r in runs(report_dir) if _wrote_something(os.path.join(report_dir, r, CHANGES))]
    if not found:
        raise ValueError(
            f"no run under {report_dir} changed anything (no changes.json with an applied, attempted or unknown change"
            f" among {len(runs(report_dir))} run(s)); name the run (connector_tls_run) or the file (connector_tls_changes_file)")
    return os.path.join(report_dir, found[-1], CHANGES)


__all__ = ["EXAMPLE", "LATEST", "changes_file", "create", "existing", "is_run_id", "latest", "point_latest", "runs"]


def write_atomically(dest: str, name: str, text: str) -> None:
    """Write dest/name so that a reader (CI, a browser, a bug report) never sees half a file, and a failed write
    leaves the previous file: a temporary file in the same directory, then one rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=dest)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(dest, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
