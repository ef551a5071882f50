# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""connector_tls_server: role connector_tls's per-host step, everything one server needs in one worker.

Every task of a play costs a worker process per host on the controller, even
when its condition skips it, and those workers cannot overlap the PowerShell
launches (docs/performance.md). So the role reads, plans, scopes and probes a
server in this one task (stage ``audit``), and changes it, probes it again and
decides the transport restart in one more (stage ``converge``), run only where
the audit found something in scope to change.

It composes the public modules rather than repeating them: the read is
exchange_certificate_facts's action, the plan and the writes are
receive_connector_tls's action (its options pass through ``receive``
unchanged), the probe is smtp_tls_probe's in-process probe, the scope is
plugin_utils/_report/scope.py, the probe target and restart decision are the code of
the probe_target and restart_decision filters.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.exchange.transport_tls.plugins.action.exchange_certificate_facts import ActionModule as FactsAction
from ansible_collections.exchange.transport_tls.plugins.action.receive_connector_tls import ActionModule as ReceiveAction
from ansible_collections.exchange.transport_tls.plugins.action.smtp_tls_probe import probe_in_process
from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import restart
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.probe_findings import probe_source, probe_target
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import ScopeError, compile_expression, in_scope
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    ExchangeActionBase,
)

ARGUMENT_SPEC = {
    "stage": {"type": "str", "choices": ["audit", "converge"], "default": "audit"},
    "mode": {"type": "str", "choices": ["audit", "remediate"], "default": "audit"},
    "expiring_days": {"type": "int", "default": 30},
    "receive": {"type": "dict", "default": {}},
    "scope": {"type": "str"},
    "gathered": {"type": "dict"},
    "probe": {"type": "bool", "default": True},
    "probe_host": {"type": "str"},
    "probe_port": {"type": "int", "default": 25},
    "probe_timeout": {"type": "float", "default": 10},
    "probe_source": {"type": "str"},
    "probe_wait": {"type": "int", "default": 30},
    "restart_transport": {"type": "str", "choices": list(restart.POLICIES), "default": "if_needed"},
    **SESSION_SPEC,
}
# Options of receive_connector_tls this step sets itself, from the facts it read and the scope it applied.
_RECEIVE_OWN = ("facts", "identity", "expiring_days", "server")
RECEIVE_MODULE = "exchange.transport_tls.receive_connector_tls"
# The probe's own option names, for messages about this module's probe_* options.
_PROBE_NAMES = {"port": "probe_port", "timeout": "probe_timeout", "wait_timeout": "probe_wait", "host": "probe_host"}


class ActionModule(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
        problem = _options_problem(args)
        if problem:
            return dict(result, failed=True, msg=problem)
        if args["stage"] == "audit":
            return self._audit(result, args, task_vars)
        return self._converge(result, args, task_vars)

    def _audit(self, result: dict, args: dict, task_vars: dict) -> dict:
        """Read, plan in check mode, apply the scope, probe: what the audit reports and the remediation starts from."""
        gathered = self._sub(FactsAction, dict(_session(args), expiring_days=args["expiring_days"]), task_vars)
        result.update(gathered)
        result.update(receive_plan=None, scope=None, receive_targets=[], probe_target=None, probe=_skipped("the server could not be read"))
        facts = (gathered.get("ansible_facts") or {}).get("exchange_tls")
        if gathered.get("failed") or gathered.get("unreachable") or not isinstance(facts, dict):
            return result
        warnings = result.setdefault("warnings", [])
        plan = self._sub(ReceiveAction, self._receive_args(args, facts), task_vars, check_mode=True)
        # A decision changes nothing: only a remediation under --check shows, here, what it would change (with the
        # diff, which Ansible shows only for a changed result); a real remediation shows it on its converge step.
        plan["changed"] = bool(plan.get("changed")) and args["mode"] == "remediate" and bool(self._task.check_mode)
        warnings.extend(plan.get("warnings") or [])
        result.update(receive_plan=plan, changed=plan["changed"])
        if plan["changed"] and plan.get("diff"):
            result["diff"] = plan["diff"]
        scope = None
        if args["scope"]:
            try:
                scope = in_scope(facts, args["scope"])
            except ScopeError as exc:
                # The expression compiled before any launch (the role's preflight) but fails on this server's facts:
                # change nothing here, and say why.
                warnings.append(f"connector_tls_scope cannot be applied to this server, so nothing on it is changed: {exc}")
                scope = []
        changing = [p["object"] for p in plan.get("plans") or [] if p.get("status") == "change"]
        target = probe_target(facts, probe_source(args["probe_source"]))
        result.update(scope=scope, receive_targets=[o for o in changing if scope is None or o in scope], probe_target=target,
                      probe=self._probe(args, target, wait=False))
        if not warnings:
            del result["warnings"]
        return result

    def _converge(self, result: dict, args: dict, task_vars: dict) -> dict:
        """Change the in-scope receive connectors the audit planned, probe again, and decide the transport restart."""
        gathered = args["gathered"]
        if gathered is None or "receive_targets" not in gathered:
            return dict(result, failed=True, msg=(
                "stage converge needs gathered: the registered result of this module's stage audit on the same host"
                f" (got {'nothing' if gathered is None else 'a result without receive_targets'})"))
        targets = list(gathered["receive_targets"] or [])
        if not targets:
            return dict(result, changes=[], plans=[], launches=0, probe=_skipped("nothing to change on this server"),
                        probe_target=gathered.get("probe_target"), restart=restart.decide(args["restart_transport"], False, None, None))
        receive = self._sub(ReceiveAction, dict(self._receive_args(args, gathered), identity=targets), task_vars)
        result.update(receive)
        facts = (receive.get("ansible_facts") or {}).get("exchange_tls") or gathered["ansible_facts"]["exchange_tls"]
        changed = bool(receive.get("changes")) and not self._task.check_mode
        # What transport should present now: the facts as this change left them.
        target = probe_target(facts, probe_source(args["probe_source"]))
        probe = self._probe(args, target, wait=changed)
        result.update(probe_target=target, probe=probe,
                      restart=restart.decide(args["restart_transport"], changed, None if probe.get("skipped") else probe, target))
        return result

    def _receive_args(self, args: dict, facts: dict) -> dict:
        return dict(_session(args), **args["receive"], facts=facts, expiring_days=args["expiring_days"])

    def _probe(self, args: dict, target: dict | None, wait: bool) -> dict:
        if not args["probe"]:
            return _skipped("connector_tls_probe is false")
        if not target:
            return _skipped("this server has no enabled receive connector on port 25 to probe")
        expected = target.get("expected_thumbprint") or None
        params = _probe_params(args, expected, args["probe_wait"] if wait and expected else 0)
        problem = smtp_probe.options_problem(params)
        if problem:
            return dict(failed=True, changed=False, msg=f"probe options: {problem}")
        return probe_in_process(params)

    def _sub(self, action_class, sub_args: dict, task_vars: dict, check_mode: bool | None = None) -> dict:
        """Run another action of the collection in this worker, on this host's connection, with ``sub_args``.

        The class is imported, not looked up through the plugin loader: the lookup costs each worker more than the
        action itself (docs/performance.md).
        """
        task = self._task.copy()
        task.args = sub_args
        if check_mode is not None:
            task.check_mode = check_mode
        action = action_class(task, self._connection, self._play_context, self._loader, self._templar, self._shared_loader_obj)
        try:
            return action.run(task_vars=task_vars)
        except AnsibleActionFail as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}


def _session(args: dict) -> dict:
    return {key: args[key] for key in SESSION_SPEC if args.get(key) is not None}


def _skipped(reason: str) -> dict:
    return {"skipped": True, "changed": False, "skip_reason": reason}


def _probe_params(args: dict, expected: str | None, wait: int) -> dict:
    return {"host": args["probe_host"], "port": args["probe_port"], "timeout": args["probe_timeout"], "helo_name": None,
            "expect_thumbprint": expected, "wait_timeout": wait, "delay": smtp_probe.ARGUMENT_SPEC["delay"]["default"],
            "seen_as": args["probe_source"] or None}


def _options_problem(args: dict) -> str | None:
    """What the argument spec cannot say, checked before any launch."""
    own = sorted(k for k in args["receive"] if k in _RECEIVE_OWN or k in SESSION_SPEC)
    if own:
        return (f"receive sets options of {RECEIVE_MODULE}; {', '.join(own)} cannot be among them: this module sets"
                f" {', '.join(_RECEIVE_OWN)} itself, and the session options are this module's own")
    if not 0 <= args["expiring_days"] <= 3650:
        return f"expiring_days must be between 0 and 3650, got {args['expiring_days']}"
    if args["scope"]:
        try:
            compile_expression(args["scope"])
        except ScopeError as exc:
            return f"scope: {exc}"
    if args["stage"] == "converge" and args["gathered"] is None:
        return "stage converge needs gathered: the registered result of this module's stage audit on the same host"
    try:
        probe_source(args["probe_source"], "probe_source (the role's connector_tls_probe_source)")
    except ValueError as exc:
        return str(exc)
    if args["probe"]:
        if not (args["probe_host"] or "").strip():
            return "probe_host must name the host to probe on port 25 (the role's connector_tls_probe_host) when probe is true"
        # The probe's own checks, with a placeholder thumbprint so that probe_wait is checked as it will be used.
        problem = smtp_probe.options_problem(_probe_params(args, "0" * 40, args["probe_wait"]))
        if problem:
            name = problem.split(" ", 1)[0]
            return _PROBE_NAMES.get(name, name) + " " + problem.split(" ", 1)[1] if name in _PROBE_NAMES else problem
    return None
