# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_environment_report: every host's environment checks in one environment.json, and the verdict lines."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.release import __version__ as ansible_core_version

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import environment
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import run_dir
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import checked_args

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "stage": {"type": "str", "choices": ["check", "write"], "default": "write"},
    "hosts": {"type": "list", "elements": "str"},
    "result_var": {"type": "str", "default": "verify_environment_result"},
}
FILE_NAME = "environment.json"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        try:
            args = checked_args(self, ARGUMENT_SPEC)
        except AnsibleActionFail as exc:
            return dict(result, failed=True, msg=str(exc))
        if not args["dest"].strip():
            return dict(result, failed=True, msg="dest must be the directory for environment.json, got an empty string")
        dest = pathlib.Path(os.path.abspath(args["dest"]))
        hostvars = task_vars.get("hostvars") or {}
        hosts = args["hosts"] if args["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        problem = _dest_problem(dest) or _hosts_problem(hosts, hostvars)
        if problem:
            return dict(result, failed=True, msg=problem)
        if args["stage"] == "check":
            return dict(result, dest=str(dest))
        servers = {host: _entry(host, (hostvars.get(host) or {}).get(args["result_var"])) for host in hosts}
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = environment.document(servers, now, {"collection": _collection_version(), "ansible_core": ansible_core_version})
        path = dest / FILE_NAME
        _write(path, doc)
        failing = sorted(host for host, entry in servers.items() if entry["verdict"] in ("fail", "not_checked"))
        return dict(result, path=str(path), verdict=doc["verdict"], lines=environment.summary_lines(servers),
                    failing_servers=failing, servers={h: e["verdict"] for h, e in servers.items()})


def _entry(host: str, registered: object) -> dict:
    """A host's environment entry from what exchange_environment_facts registered; a host without one fails."""
    if isinstance(registered, dict) and isinstance(registered.get("environment"), dict):
        entry = dict(registered["environment"])
        entry.setdefault("server", host)
        return entry
    msg = registered.get("msg") if isinstance(registered, dict) else None
    found = f"no result: {msg}" if msg else "no result: exchange_environment_facts did not run on this host"
    checks = [{"name": "reads", "status": "fail", "found": found,
               "meaning": "nothing is known about this server", "action": "fix what the message names, then run again"}]
    return {"server": host, "fqdn": None, "role": None, "version": None, "session": None, "available_cmdlets": None,
            "checks": checks, "verdict": "fail"}


def _hosts_problem(hosts: list, hostvars) -> str | None:
    unknown = [host for host in hosts if host not in hostvars]
    if unknown:
        return (f"hosts names hosts that are not in the inventory: {', '.join(unknown)}; "
                f"inventory hosts: {', '.join(sorted(hostvars))}")
    return None


def _dest_problem(dest: pathlib.Path) -> str | None:
    """Refused before any server is read: a report directory that cannot take environment.json."""
    if dest.exists() and not dest.is_dir():
        return f"dest {str(dest)!r} is a file, not a directory: give a directory for {FILE_NAME}"
    existing = dest
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return (f"dest {str(dest)!r} cannot be written: {str(existing)!r} is not a writable directory; "
                f"give a directory this user can write")
    return None


def _write(path: pathlib.Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_dir.write_atomically(str(path.parent), path.name, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _collection_version() -> str | None:
    root = pathlib.Path(__file__).resolve().parents[2]
    manifest = root / "MANIFEST.json"
    try:
        if manifest.exists():
            return json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"]
        for line in (root / "galaxy.yml").read_text(encoding="utf-8").splitlines():
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    except (OSError, ValueError, KeyError):
        return None
    return None
