# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""connector_tls_report: the role's fleet reports, written on the controller from every host's registered results."""

from __future__ import annotations

import datetime as dt
import json
import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import changes_doc, report, report_html, report_junit, run_dir
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import ScopeError, compile_expression
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import expiring_days_problem
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import report_text
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import checked_args

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "stage": {"type": "str", "choices": ["planned", "final"], "default": "final"},
    "mode": {"type": "str", "choices": ["audit", "remediate"], "required": True},
    "scope": {"type": "str"},
    "expiring_days": {"type": "int", "default": 30},
    "fail_on_drift": {"type": "bool", "default": True},
    "hosts": {"type": "list", "elements": "str"},
    "organization_host": {"type": "str"},
    "run_id": {"type": "str"},
    "exempt": {"type": "dict", "default": {}},
}
# What the role registers on each host (roles/connector_tls/tasks/*.yml); read, never changed. connector_tls_gathered is
# the audit step of plugins/action/connector_tls_server.py (the read, with the receive plan and the probe in it),
# connector_tls_receive its converge step (the change, with the probe after it and the restart decision).
_HOST_VARS = {
    "gathered": "connector_tls_gathered",
    "receive": "connector_tls_receive",
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = checked_args(self, ARGUMENT_SPEC)
        hostvars = task_vars.get("hostvars") or {}
        hosts = args["hosts"] if args["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        problem = _options_problem(args, hosts, hostvars)
        if problem:
            return dict(result, failed=True, msg=problem)
        runs = {h: self._host_run(hostvars[h]) for h in hosts}
        org = self._organization(args["organization_host"], hosts, hostvars)
        stamp = dt.datetime.now(dt.timezone.utc)
        now = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        check_mode = bool(self._task.check_mode)
        report_dir = os.path.abspath(args["dest"])
        planned = changes_doc.planned_changes(runs, org)
        try:
            # Each run its own directory: no run replaces another's record (the rollback input).
            run_id = run_dir.create(report_dir, stamp) if args["run_id"] is None else run_dir.existing(report_dir, args["run_id"])
            dest = os.path.join(report_dir, run_id)
            if args["stage"] == "planned":
                # Before any write is attempted: what the remediation is about to change, per host.
                doc = changes_doc.changes_document(args["mode"], check_mode, now, planned, run_id=run_id)
                run_dir.write_atomically(dest, "changes.json", _json(doc))
                run_dir.point_latest(report_dir, run_id)
                return dict(result, changed=False, dest=dest, run_id=run_id, report_dir=report_dir,
                            files=[os.path.join(dest, "changes.json")], planned=len(planned))
            doc = report.build(args["mode"], check_mode, now, runs, org, args["scope"], args["expiring_days"], args["exempt"])
            files = {
                "report.json": _json(doc),
                "junit.xml": report_junit.render(doc),
                "report.html": report_html.render(doc),
                "changes.json": _json(changes_doc.changes_document(args["mode"], check_mode, now, planned, runs, org, run_id=run_id)),
            }
            for name, text in files.items():
                run_dir.write_atomically(dest, name, text)
            run_dir.point_latest(report_dir, run_id)
        except ValueError as exc:
            return dict(result, failed=True, msg=f"run_id: {exc}")
        except OSError as exc:
            return dict(result, failed=True, msg=(
                f"cannot write the reports to {report_dir} (option dest, the role's connector_tls_report_dir): {exc};"
                " dest must be a directory this controller can create and write"))
        failure = report.exit_failure(doc, args["fail_on_drift"])
        restarts = [f"{h}: {r['service']} ({r['reason']})" for h, v in doc["hosts"].items() for r in v["restarts"]]
        return dict(result, changed=False, dest=dest, run_id=run_id, report_dir=report_dir,
                    files=[os.path.join(dest, n) for n in files], restarts=restarts,
                    status=doc["status"], summary=doc["summary"], organization_status=doc["organization"]["status"],
                    failure=failure, host_failures=report.host_failures(doc, args["fail_on_drift"], hosts),
                    lines=report_text.summary_lines(doc, dest),
                    hosts={h: {"status": v["status"], "message": v["message"]} for h, v in doc["hosts"].items()})

    def _host_run(self, variables) -> dict:
        run = {key: _plain(variables.get(name)) for key, name in _HOST_VARS.items()}
        gathered, receive = run["gathered"] or {}, run["receive"] or {}
        run["receive_plan"] = gathered.get("receive_plan")
        # The in-scope connectors the audit step computed from connector_tls_scope (None: every connector).
        run["scope"] = gathered.get("scope")
        changed_here = bool(receive.get("changes")) and not receive.get("skipped") and not self._task.check_mode
        # The probe of the audit step, before any change; the converge step's, after the change (or again before, when
        # its write changed nothing); the one after a restart.
        probes = [dict(gathered.get("probe") or {}, phase="before")]
        if receive and not receive.get("skipped"):
            probes.append(dict(receive.get("probe") or {}, phase="after" if changed_here else "before"))
        probes.append(dict(_plain(variables.get("connector_tls_probe_again")) or {}, phase="after_restart"))
        run["probes"] = [p for p in probes if len(p) > 1 and not p.get("skipped")]
        made = _plain(variables.get("connector_tls_restart"))
        run["restarts"] = []
        if made and not made.get("skipped"):
            # The decision the converge step made, which restart.yml acted on: its reason is what the report says.
            decision = receive.get("restart") or {}
            target = receive.get("probe_target") or {}
            run["restarts"].append(dict(made, service=decision.get("service") or target.get("service"), reason=decision.get("reason")))
        return run

    def _organization(self, runner, hosts, hostvars) -> dict:
        plan = send = None
        for host in hosts:
            variables = hostvars[host]
            plan = plan or _ran(variables.get("connector_tls_send_plan"))
            send = send or _ran(variables.get("connector_tls_send"))
        return {"runner": runner or None, "plan": plan, "send": send}


def _options_problem(args: dict, hosts: list, hostvars) -> str | None:
    """What the argument spec cannot say about the options, checked before anything is written."""
    inventory = list(hostvars)
    unknown = [h for h in hosts if h not in hostvars]
    if unknown:
        return (f"hosts names hosts that are not in the inventory: {', '.join(unknown)};"
                f" the inventory hosts are: {', '.join(inventory)}")
    if not args["dest"] or not str(args["dest"]).strip():
        return "dest must be the directory for the reports, got an empty path"
    if expiring_days_problem(args["expiring_days"]):
        return expiring_days_problem(args["expiring_days"])
    host = args["organization_host"]
    if host is not None and host not in hostvars:
        return (f"organization_host {host!r} is not an inventory host; it must be the inventory name of the Mailbox"
                f" server where the organisation objects were decided, one of: {', '.join(inventory)}")
    if args["scope"] is not None:
        try:
            compile_expression(args["scope"])
        except ScopeError as exc:
            return f"scope (the role's connector_tls_scope, recorded in the reports): {exc}"
    return None


def _ran(value):
    value = _plain(value)
    return value if value and not value.get("skipped") else None


def _plain(value):
    """Registered results as plain JSON data (hostvars hand out lazy, tagged containers)."""
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError) as exc:
        raise AnsibleError(f"a registered result could not be read as data: {exc}") from None


def _json(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
