# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""connector_tls_rollback: undo a connector_tls run on one host; read, decide and write in plugin_utils/_converge/rollback.py."""

from __future__ import annotations

import json
import os

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import rollback
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout import plan as rollout
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import run_dir
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import Change, diff_entries
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    BatchFailed,
    ExchangeActionBase,
)

ARGUMENT_SPEC = {
    "changes_file": {"type": "path"},
    "run": {"type": "str"},
    "report_dir": {"type": "path", "default": "./connector_tls_report"},
    "phase": {"type": "str", "default": "all", "choices": ["all", "names", "imports"]},
    **SESSION_SPEC,
}


class ActionModule(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(changed=False, launches=0)
        args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
        try:
            path, changes = load(args)
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        host = str(task_vars.get("inventory_hostname", ""))
        check_mode = bool(self._task.check_mode)
        result.update(changes_file=path, run_id=changes.get("run_id"), complete=bool(changes.get("complete")))
        if args["phase"] == "imports":
            plan = {"restore": [], "already": [], "not_applied": [], "conflicts": [], "warnings": [], "problem": None}
            outcome = {"restored": [], "would_restore": [], "skipped": [], "failed": False, "message": None,
                       "check_mode": check_mode, "already_restored": [], "not_applied": [], "warnings": []}
        else:
            reads = rollback.read_steps(changes, host)
            read = self._tolerant(reads, args, task_vars, result) if reads else {"skipped": True}
            plan = rollback.decide(read, changes, host)
            steps = rollback.rollback_steps(changes, host, check_mode, plan)
            written = self._tolerant(steps, args, task_vars, result) if steps else {"skipped": True}
            outcome = rollback.outcome(written, changes, host, check_mode, plan)
        outcome.update(imports_removed=[], imports_would_remove=[], imports_kept=[], imports_already_removed=[])
        if args["phase"] != "names":
            self._undo_imports(changes, host, check_mode, outcome, args, task_vars, result)
        done = outcome["would_restore"] if check_mode else outcome["restored"]
        # Under its own key: Ansible reserves a result's skipped (a boolean) and warnings (displayed, then dropped).
        result.update(outcome=outcome, plan=plan, changed=bool(done), failed=outcome["failed"])
        if self._task.diff and done:
            # Before is what the run left, after is what the rollback puts (or would put) back.
            result["diff"] = diff_entries([Change(t["object_type"], t["object"], t["property"], t["after"], t["before"], t.get("server"))
                                           for t in done])
        if outcome["imports_removed"] or outcome["imports_would_remove"]:
            result["changed"] = True
        if outcome["failed"]:
            result["msg"] = outcome["message"]
        return result

    def _undo_imports(self, changes, host, check_mode, outcome, args, task_vars, result) -> None:
        """Take out what the run imported, after the names, where the retire's rules find nothing that needs it.

        One read launch and (not in check mode) one guarded removal launch per imported certificate. The names of
        every host go back first (playbooks/rollback.yml runs phase names on all hosts, then phase imports), since a
        send connector restored by one host frees the import on another. In check mode nothing was put back, so the
        decision is made on the read as the rollback of every host's names would leave it.
        """
        notes = []
        names = [t.as_dict() for h in sorted({c["host"] for c in changes["changes"]}) for t in rollback.targets(changes, h)
                 if t.property == rollback.TLS_NAME]
        for change in rollback.imports(changes, host):
            thumbprint, server = change["object"].upper(), change["server"]
            entry = {"server": server, "thumbprint": thumbprint}
            if outcome["failed"]:
                outcome["imports_kept"].append(dict(entry, kept_because=["the names were not put back, so it may still be needed"]))
                continue
            read = self._tolerant(rollout.retire_read_steps(server, thumbprint, None), args, task_vars, result)
            if read.get("failed"):
                outcome["imports_kept"].append(dict(entry, kept_because=[f"reading what might need it failed: {read.get('msg')}"]))
                continue
            if check_mode:
                read = rollout.as_restored(read, names)
            decision = rollout.decide_retirement(read, server, thumbprint, None, None)
            if not decision.present:
                outcome["imports_already_removed"].append(entry)
            elif decision.kept_because:
                outcome["imports_kept"].append(dict(entry, kept_because=list(decision.kept_because)))
            elif check_mode:
                outcome["imports_would_remove"].append(entry)
            else:
                written = self._tolerant(rollout.retire_steps(decision), args, task_vars, result)
                if rollout.removed(written, thumbprint):
                    outcome["imports_removed"].append(entry)
                    continue
                stop = written.get("stop") or {}
                why = ("something it rests on changed since it was read, so nothing was removed" if stop.get("reason") == "guard"
                       else written.get("msg") or "the read-back still finds it")
                outcome["imports_kept"].append(dict(entry, kept_because=[f"the removal did not take: {why}"]))
                outcome["failed"] = True
                notes.append(f"removing the imported certificate {thumbprint} from {server} failed: {why}")
        for kind, words in (("imports_removed", "removed"), ("imports_would_remove", "would be removed"),
                            ("imports_already_removed", "already removed")):
            if outcome[kind]:
                notes.append(f"{len(outcome[kind])} imported certificate(s) {words}")
        if outcome["imports_kept"]:
            notes.append(f"{len(outcome['imports_kept'])} imported certificate(s) kept: " + "; ".join(
                f"{k['thumbprint']} because {', '.join(k['kept_because'])}" for k in outcome["imports_kept"]))
        if notes:
            outcome["message"] = " ".join(filter(None, [outcome["message"], "; ".join(notes) + "."]))

    def _tolerant(self, steps, args, task_vars, result) -> dict:
        """One launch; a failed or stopped batch is a result the rollback explains, not an exception."""
        result["launches"] += 1
        try:
            return self.run_batch(steps, args, task_vars)
        except BatchFailed as exc:
            return dict(exc.result, failed=True)


def load(args: dict):
    """The changes file to undo (path, document); ValueError names the input and why it cannot be used."""
    if args["changes_file"] is not None and args["run"] is not None:
        raise ValueError("Name the run to undo by its run id (run, a directory under report_dir) or its record (changes_file), not both;"
                         " with neither, the newest run that changed something is undone")
    if args["changes_file"] is not None:
        given = f"changes file {args['changes_file']}"
        path = args["changes_file"]
    else:
        given = f"connector_tls_run {args['run'] or '(not set)'}"
        report_dir = os.path.realpath(os.path.expanduser(args["report_dir"]))
        try:
            path = run_dir.changes_file(report_dir, args["run"] or None)
        except ValueError as exc:
            raise ValueError(f"{given} cannot be used: {exc}") from None
    # A relative path is relative to the directory ansible-playbook runs in.
    path = os.path.realpath(os.path.expanduser(path))
    given = f"changes file {path}"
    try:
        with open(path, encoding="utf-8") as handle:
            changes = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{given} cannot be used: File not found") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{given} cannot be used: {exc}") from None
    try:
        rollback.validate(changes)
    except ValueError as exc:
        raise ValueError(f"{given} cannot be used: {exc}") from None
    return path, changes
