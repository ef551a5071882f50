# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run that receive_connector_tls and send_connector_tls share, once a plan is decided.

A plan (receive_plan / send_plan) says what changes. Applying it costs at
most two launches on top of the read: one that enables SMTP keeping the
default certificate (only when needed), then one of guarded writes and
read-backs. Check mode stops after the decision. The result has the same
shape in every case: plans, changes, smtp, launches, and diff in diff mode.
"""

from __future__ import annotations

import time
from typing import Callable, List, Optional

from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_enable
from ansible_collections.exchange.transport_tls.plugins.module_utils.converge import (
    Change,
    diff_entries,
    guard_failure_message,
    readback_value,
    renames,
    same_name,
    step_object,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils.exchange_action import BatchFailed, ExchangeActionBase


class ApplyFailed(Exception):
    def __init__(self, message: str, changes: List[Change]):
        super().__init__(message)
        self.changes = changes


class ConvergeActionBase(ExchangeActionBase):
    def converge(self, result: dict, plan, write_steps: Callable[[], List[dict]], args: dict, task_vars: dict,
                 launches: int) -> dict:
        """Apply ``plan`` (unless check mode) and fill ``result``; ``launches`` already spent reading."""
        planned = plan.changes
        result.update(plans=[d.as_dict() for d in plan.decisions], smtp=[i.as_dict() for i in plan.smtp],
                      launches=launches, changes=[c.as_dict() for c in planned], changed=bool(planned))
        if plan.warnings:
            result["warnings"] = list(plan.warnings)
        if self._task.diff and planned:
            result["diff"] = diff_entries(planned)
        if self._task.check_mode or not planned:
            return self._blocked(result, plan)
        made: List[Change] = []
        failure = None
        # One domain controller for every guard, write and read-back of the run (the user's, else the one the
        # facts came from), so a read never misses a write another domain controller has not replicated yet.
        if plan.domain_controller and not args.get("domain_controller"):
            args = dict(args, domain_controller=plan.domain_controller)
        try:
            if plan.smtp:
                result["launches"] += 1
                made.extend(self._enable_smtp(plan.smtp, args, task_vars, result))
            result["launches"] += 1
            made.extend(self._write(plan, write_steps(), args, task_vars))
        except ApplyFailed as exc:
            failure = _after_earlier_changes(str(exc), made)
            made.extend(exc.changes)
        # What happened, not what was planned: read back where the batch got that far.
        result.update(changes=[c.as_dict() for c in made], changed=bool(made), smtp=[i.as_dict() for i in plan.smtp])
        if self._task.diff:
            result["diff"] = diff_entries(made)
        if failure:
            return dict(result, failed=True, msg=failure)
        return self._blocked(result, plan)

    @staticmethod
    def _blocked(result: dict, plan) -> dict:
        blocked = plan.blocked
        if blocked:
            listing = "; ".join(f"{d.object}: {d.reason}" for d in blocked)
            result.update(failed=True, msg=f"{len(blocked)} object(s) cannot be converged and were left unchanged: {listing}")
        return result

    def _enable_smtp(self, items: List[smtp_enable.SmtpEnable], args: dict, task_vars: dict, result: dict) -> List[Change]:
        try:
            raw = self.run_batch(smtp_enable.enable_steps(items), args, task_vars)
        except BatchFailed as exc:
            # The value each guarded certificate would have had after this run: "already done" is said so.
            guard = guard_failure_message(exc.result, {("certificate", i.key): i.planned_change().after for i in items})
            if guard:
                raise ApplyFailed(guard, []) from None
            message = smtp_enable.failed_enable_message(items, exc.result)
            raise ApplyFailed(message, [c for i in items for c in i.changes()]) from None
        problem = smtp_enable.read_enable_result(items, raw)
        waited = 0
        for wait in smtp_enable.READBACK_WAITS:
            waiting = smtp_enable.unsettled(items)
            if not problem or not waiting:
                break
            time.sleep(wait)
            waited += wait
            result["launches"] += 1
            try:
                smtp_enable.record_readback(waiting, self.run_batch(smtp_enable.readback_steps(waiting), args, task_vars))
            except BatchFailed:
                pass    # a re-read that failed proves nothing either way; the next one may answer
            problem = smtp_enable.read_enable_result(items, raw, waited)
        made = [c for i in items for c in i.changes()]
        if problem:
            raise ApplyFailed(problem, made)
        return made

    def _write(self, plan, steps: List[dict], args: dict, task_vars: dict) -> List[Change]:
        changing = renames(plan.decisions)
        try:
            raw = self.run_batch(steps, args, task_vars)
        except BatchFailed as exc:
            raise ApplyFailed(self._write_failure(plan, exc.result), self._applied(plan, changing, exc.result)) from None
        made, wrong = [], []
        for d in changing:
            try:
                live = readback_value(raw, d.object_type, d.object, "TlsCertificateName")
            except KeyError:
                wrong.append(f"{d.object}: its read-back did not run")
                continue
            made.append(Change(d.object_type, d.object, "TlsCertificateName", d.current, live, plan.server))
            if not same_name(live, d.expected):
                wrong.append(f"{d.object}: {d.expected!r} was written but {live!r} was read back")
        if wrong:
            raise ApplyFailed("the write did not take: " + "; ".join(wrong), made)
        return made

    @staticmethod
    def _applied(plan, changing, raw: dict) -> List[Change]:
        done = {s["id"] for s in raw.get("steps") or [] if s.get("status") == "ok"}
        return [
            Change(d.object_type, d.object, "TlsCertificateName", d.current, d.expected, plan.server)
            for d in changing
            if f"set|{d.object_type}|{d.object}" in done
        ]

    @staticmethod
    def _write_failure(plan, raw: dict) -> str:
        stop = raw.get("stop") or {}
        entry = next((s for s in raw.get("steps") or [] if s.get("index") == stop.get("index")), {})
        parsed = step_object(entry.get("id"))
        if parsed and parsed[0] == "verify":
            item = next(i for i in plan.smtp if i.server == parsed[2])
            if stop.get("reason") != "guard":
                return (f"reading the default SMTP certificate of {item.server} again before writing failed:"
                        f" {_sentence(entry.get('error') or stop.get('message'))} It was read back as {item.default_thumbprint}"
                        " right after SMTP was enabled. No connector was written; run again.")
            live = next((m.get("actual") for m in stop.get("mismatches") or []), None)
            return smtp_enable.not_restored_message(item, live, "it was no longer the default when the connectors were to be written")
        guard = guard_failure_message(raw, {(d.object_type, d.object): d.expected for d in renames(plan.decisions)})
        if guard:
            return guard
        if parsed and parsed[0] == "guard":
            return (f"reading {parsed[1].replace('_', ' ')} {parsed[2]} again before writing failed:"
                    f" {_sentence(entry.get('error') or stop.get('message'))} Nothing was written. Gather facts again and rerun.")
        done = [s["id"].split("|", 2)[2] for s in raw.get("steps") or [] if s.get("status") == "ok" and str(s.get("id")).startswith("set|")]
        return (f"{_sentence(stop.get('message') or raw.get('msg') or 'the write batch failed')}"
                f" Written before the failure: {', '.join(done) or 'nothing'}; later writes did not run.")


def _after_earlier_changes(message: str, made: List[Change]) -> str:
    """A failure message that does not hide the SMTP enabling an earlier launch of the run did."""
    earlier = [c for c in made if c.object_type in ("certificate", "transport_service")]
    if not earlier:
        return message
    listing = ", ".join(f"{c.object} ({c.property})" for c in earlier)
    return (message.replace("Nothing was written.", "Nothing more was written.")
            + f" Earlier in this run, before this failure: {listing} changed (see 'changes').")


def _sentence(text: object) -> str:
    """Error text as one sentence: Exchange's messages end with a period already, others do not."""
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def facts_from(value: object, option: str = "facts") -> Optional[dict]:
    """The exchange_tls facts in ``value``: a registered exchange_certificate_facts result, or the facts themselves."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be the registered result of exchange.transport_tls.exchange_certificate_facts, got {type(value).__name__}")
    if value.get("failed") or value.get("unreachable") or value.get("skipped"):
        state = "skipped" if value.get("skipped") else "failed"
        raise ValueError(f"{option} is the result of a task that {state} ({value.get('msg') or 'no message'}); there are no facts to decide from")
    facts = (value.get("ansible_facts") or {}).get("exchange_tls") if "ansible_facts" in value else value
    keys = ("collected_at", "server", "certificates", "receive_connectors", "send_connectors")
    if not isinstance(facts, dict) or any(k not in facts for k in keys):
        raise ValueError(
            f"{option} must be the registered result of exchange.transport_tls.exchange_certificate_facts (or its"
            f" ansible_facts.exchange_tls); it lacks {', '.join(k for k in keys if not isinstance(facts, dict) or k not in facts)}"
        )
    return facts
