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
from typing import Callable, List, Optional, Tuple

from ansible.errors import AnsibleError

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    Change,
    READBACK,
    SET,
    diff_entries,
    guard_failure_message,
    readback_value,
    renames,
    same_name,
    sentence,
    step_id,
    step_kind,
    step_object,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import BatchFailed, ExchangeActionBase

# How a flattened AllowedServices value ("IIS, SMTP", or a list) reads as names: smtp_enable's own reading, not a second one.
_service_names = smtp_enable._services  # pylint: disable=protected-access


class ApplyFailed(Exception):
    def __init__(self, message: str, changes: List[Change], unknown: Optional[List[Change]] = None, rereads: int = 0):
        super().__init__(message)
        self.changes = changes
        self.unknown = unknown or []     # changes that may or may not have happened: after is the value sent
        self.rereads = rereads           # launches made to find out what a failed launch did


class _Unsure(Exception):
    """A launch that writes failed in a way that does not prove what it did: its reply was lost or unreadable
    (MODULE FAILURE, a second JSON document, a dropped connection), or a write step itself failed."""

    def __init__(self, cause: str, stopped_at_restore: Optional[str] = None):
        super().__init__(cause)
        self.cause = cause
        self.stopped_at_restore = stopped_at_restore   # the restore step's own error, when that is what failed


class ConvergeActionBase(ExchangeActionBase):
    def converge(self, result: dict, plan, write_steps: Callable[[], List[dict]], args: dict, task_vars: dict,
                 launches: int) -> dict:
        """Apply ``plan`` (unless check mode) and fill ``result``; ``launches`` already spent reading."""
        planned = plan.changes
        result.update(plans=[d.as_dict() for d in plan.decisions], smtp=[i.as_dict() for i in plan.smtp],
                      launches=launches, changes=[c.as_dict() for c in planned], changed=bool(planned), unknown_changes=[])
        if plan.warnings:
            result["warnings"] = list(plan.warnings)
        if self._task.diff and planned:
            result["diff"] = diff_entries(planned)
        if self._task.check_mode or not planned:
            return self._blocked(result, plan)
        made: List[Change] = []
        unknown: List[Change] = []
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
            unknown.extend(exc.unknown)
            result["launches"] += exc.rereads
        # What happened, not what was planned: read back where the batch got that far. A change that may have
        # happened is reported apart (unknown_changes) and counts as a change: "nothing changed" would be a claim.
        result.update(changes=[c.as_dict() for c in made], changed=bool(made or unknown), smtp=[i.as_dict() for i in plan.smtp],
                      unknown_changes=[c.as_dict() for c in unknown])
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

    def _launch(self, steps: List[dict], args: dict, task_vars: dict) -> dict:
        """run_batch for a launch that writes; _Unsure when what it did cannot be told from what came back."""
        try:
            return self.run_batch(steps, args, task_vars)
        except BatchFailed as exc:
            raw = exc.result
            if raw.get("unreachable") or not isinstance(raw.get("steps"), list):
                # No payload result: the launch may have run to the end (a lost or unparseable reply).
                raise _Unsure(sentence(raw.get("msg") or "exchange_command returned no result")) from None
            stop = raw.get("stop") or {}
            entry = next((s for s in raw["steps"] if s.get("index") == stop.get("index")), {})
            if stop.get("reason") == "error" and not str(entry.get("cmdlet") or "Get-").startswith("Get-"):
                # A write step that threw may have written before it threw (Exchange does not say).
                parsed = step_object(entry.get("id"))
                restore = (entry.get("error") or stop.get("message")) if parsed and parsed[0] == "restore" else None
                raise _Unsure(sentence(stop.get("message") or raw.get("msg")), restore) from None
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # The connection failed: AnsibleConnectionFailure, or what the connection plugin lets through as is (the
            # winrm plugin passes requests' ConnectionError and pywinrm's WinRMTransportError on). The launch may
            # have run all the same, and raising would lose what earlier launches of this task did.
            raise _Unsure(_error_text(exc)) from None

    def _reread(self, steps: List[dict], args: dict, task_vars: dict) -> Tuple[dict, Optional[str]]:
        """One new launch of the read-back steps of ``steps``: what the objects hold now, and why some could not be read."""
        reads = [dict(s, continue_on_error=True) for s in steps if step_kind(s.get("id")) == READBACK]
        try:
            return self.run_batch(reads, args, task_vars), None
        except BatchFailed as exc:
            raw = exc.result
            return (raw if isinstance(raw.get("steps"), list) else {}), sentence(raw.get("msg") or "exchange_command returned no result")
        except Exception as exc:  # pylint: disable=broad-exception-caught
            return {}, _error_text(exc)

    def _enable_smtp(self, items: List[smtp_enable.SmtpEnable], args: dict, task_vars: dict, result: dict) -> List[Change]:
        steps = smtp_enable.enable_steps(items)
        try:
            raw = self._launch(steps, args, task_vars)
        except _Unsure as unsure:
            raise self._settle_smtp(items, steps, unsure, args, task_vars) from None
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

    def _settle_smtp(self, items: List[smtp_enable.SmtpEnable], steps: List[dict], unsure: _Unsure, args: dict,
                     task_vars: dict) -> ApplyFailed:
        """What an enabling launch of unknown outcome did, from a new read: each certificate's services, each default."""
        raw, problem = self._reread(steps, args, task_vars)
        applied, not_applied, unknown, replaced = [], [], [], []
        for item in items:
            services = _live(raw, "certificate", item.key, "Services")
            default = _live(raw, "transport_service", item.server, "InternalTransportCertificateThumbprint")
            planned = item.planned_change()
            if services is _UNREAD:
                unknown.append(planned)
            elif "SMTP" in _service_names(services):
                item.enabled, item.services_after = True, _service_names(services)
                applied.append(Change(planned.object_type, planned.object, planned.property, planned.before,
                                      item.services_after, item.server))
            else:
                not_applied.append(planned)
            if default is _UNREAD:
                if services is _UNREAD or item.enabled:
                    # -Force makes the enabled certificate the default until the restore puts the previous one back.
                    unknown.append(Change("transport_service", item.server, "InternalTransportCertificateThumbprint",
                                          item.default_thumbprint, item.thumbprint, item.server))
                continue
            item.default_after = default
            if str(default or "").upper() != item.default_thumbprint.upper():
                applied.append(Change("transport_service", item.server, "InternalTransportCertificateThumbprint",
                                      item.default_thumbprint, default, item.server))
                replaced.append(item)
            elif item.enabled:
                item.restored = item.done = True
        message = _settled_message(unsure.cause, "enabled SMTP", applied, not_applied, unknown, problem)
        if replaced:
            # The dangerous case (on an Edge server EdgeSync stops): say it first, with the repair command.
            cause = unsure.stopped_at_restore or "the launch's reply was lost, and a new read shows the previous default is not back"
            message = " ".join(smtp_enable.not_restored_message(i, i.default_after, _strip_period(cause)) for i in replaced) + " " + message
        return ApplyFailed(message, applied, unknown, rereads=1)

    def _settle_writes(self, plan, changing, steps: List[dict], unsure: _Unsure, args: dict, task_vars: dict) -> ApplyFailed:
        """What a connector write launch of unknown outcome did, from a new read of each object it meant to change."""
        raw, problem = self._reread(steps, args, task_vars)
        applied, not_applied, unknown = [], [], []
        for d in changing:
            live = _live(raw, d.object_type, d.object, "TlsCertificateName")
            sent = Change(d.object_type, d.object, "TlsCertificateName", d.current, d.expected, plan.server)
            if live is not _UNREAD and same_name(live, d.expected):
                applied.append(Change(d.object_type, d.object, "TlsCertificateName", d.current, live, plan.server))
            elif live is not _UNREAD and same_name(live, d.current):
                not_applied.append(sent)
            else:
                # Unread, or a third value (someone else's write, or ours half done): the record cannot say.
                unknown.append(sent)
        message = _settled_message(unsure.cause, "wrote the connectors", applied, not_applied, unknown, problem)
        return ApplyFailed(message, applied, unknown, rereads=1)

    def _write(self, plan, steps: List[dict], args: dict, task_vars: dict) -> List[Change]:
        changing = renames(plan.decisions)
        try:
            raw = self._launch(steps, args, task_vars)
        except _Unsure as unsure:
            raise self._settle_writes(plan, changing, steps, unsure, args, task_vars) from None
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
            if step_id(SET, d.object_type, d.object) in done
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
                        f" {sentence(entry.get('error') or stop.get('message'))} It was read back as {item.default_thumbprint}"
                        " right after SMTP was enabled. No connector was written; run again.")
            live = next((m.get("actual") for m in stop.get("mismatches") or []), None)
            return smtp_enable.not_restored_message(item, live, "it was no longer the default when the connectors were to be written")
        guard = guard_failure_message(raw, {(d.object_type, d.object): d.expected for d in renames(plan.decisions)})
        if guard:
            return guard
        if parsed and parsed[0] == "guard":
            return (f"reading {parsed[1].replace('_', ' ')} {parsed[2]} again before writing failed:"
                    f" {sentence(entry.get('error') or stop.get('message'))} Nothing was written. Gather facts again and rerun.")
        done = [p.obj for p in (step_object(s.get("id")) for s in raw.get("steps") or [] if s.get("status") == "ok") if p and p.kind == SET]
        return (f"{sentence(stop.get('message') or raw.get('msg') or 'the write batch failed')}"
                f" Written before the failure: {', '.join(done) or 'nothing'}; later writes did not run.")


_UNREAD = object()


def _error_text(exc: Exception) -> str:
    text = exc.message if isinstance(exc, AnsibleError) else str(exc)
    return sentence(text or type(exc).__name__)


def _live(raw: dict, object_type: str, obj: str, prop: str) -> object:
    """A property a re-read returned, or _UNREAD when that read did not run or failed."""
    try:
        return readback_value(raw, object_type, obj, prop)
    except KeyError:
        return _UNREAD


def _listing(changes: List[Change], values: bool = True) -> str:
    return ", ".join(f"{c.object} ({c.property} {_shown(c.after)})" if values else f"{c.object} ({c.property})"
                     for c in changes) or "nothing"


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "None"
    return "null" if value is None else str(value)


def _strip_period(text: str) -> str:
    return str(text).strip().rstrip(".")


def _settled_message(cause: str, what: str, applied: List[Change], not_applied: List[Change], unknown: List[Change],
                     problem: Optional[str]) -> str:
    """A failed launch of unknown outcome in words: why, what a new read found, and what to do."""
    parts = [f"{cause} The launch that {what} may have run all the same, so the objects it meant to change were read"
             " again in a new launch."]
    if problem:
        parts.append(f"That read failed too: {problem}")
    parts.append(f"Applied (read back at the value sent): {_listing(applied)}.")
    parts.append(f"Not applied (read back at the value before): {_listing(not_applied, values=False)}.")
    if unknown:
        parts.append(f"Unknown (see unknown_changes; the value shown is the one sent): {_listing(unknown)}."
                     " Check those objects on the server before running again; a rerun decides from the live values.")
    else:
        parts.append("Run again: the rerun decides from the live values.")
    return " ".join(parts)


def _after_earlier_changes(message: str, made: List[Change]) -> str:
    """A failure message that does not hide the SMTP enabling an earlier launch of the run did."""
    earlier = [c for c in made if c.object_type in ("certificate", "transport_service")]
    if not earlier:
        return message
    listing = ", ".join(f"{c.object} ({c.property})" for c in earlier)
    return (message.replace("Nothing was written.", "Nothing more was written.")
            + f" Earlier in this run, before this failure: {listing} changed (see 'changes').")


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
