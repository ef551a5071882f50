# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_certificate_retire: remove a superseded certificate from one server, only where nothing needs it."""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import diff_entries, guard_failure_message
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout import plan as rollout
# The collection's thumbprint rule without the converging modules' 'auto', which this module does not take.
from ansible_collections.exchange.transport_tls.plugins.module_utils.thumbprint import parse_thumbprint as certificate_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    BatchFailed,
    ExchangeActionBase,
)

ARGUMENT_SPEC = {
    "thumbprint": {"type": "str", "required": True},
    "replacement": {"type": "str", "required": True},
    "proof": {"type": "dict", "required": True},
    "server": {"type": "str"},
    **SESSION_SPEC,
}


def proof_problem(proof: dict, replacement: str) -> str | None:
    """None when a registered smtp_tls_probe result shows the replacement presented, else what it shows."""
    if proof.get("skipped"):
        return "the probe was skipped"
    if proof.get("failed") or proof.get("unreachable"):
        return f"the probe failed ({proof.get('msg') or 'no message'})"
    presented = str(proof.get("thumbprint") or "").upper()
    if not proof.get("tls_established") or presented != replacement:
        return f"it presented {presented or 'no certificate'}, not {replacement}"
    return None


class ActionModule(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(changed=False, launches=0, changes=[])
        args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
        try:
            server = self.server_name(args["server"], task_vars)
            thumbprint = certificate_thumbprint(args["thumbprint"], "thumbprint")
            replacement = certificate_thumbprint(args["replacement"], "replacement")
            if thumbprint == replacement:
                raise ValueError(f"thumbprint and replacement are the same certificate ({thumbprint}); retire removes the superseded one")
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        try:
            raw = self.run_batch(rollout.retire_read_steps(server, thumbprint, replacement), args, task_vars)
        except BatchFailed as exc:
            return dict(result, failed=True, launches=1, msg=f"reading {server} failed: {exc.result.get('msg')}")
        result["launches"] = 1
        decision = rollout.decide_retirement(raw, server, thumbprint, replacement, proof_problem(args["proof"], replacement))
        result["retirement"] = decision.as_dict()
        if not decision.present:
            return dict(result, state="absent")
        if decision.kept_because:
            return dict(result, state="kept", msg=f"{thumbprint} is kept on {server}: " + "; ".join(decision.kept_because))
        change = decision.change()
        result.update(changed=True, state="removed", changes=[change.as_dict()], warnings=[rollout.NOT_UNDONE])
        if self._task.diff:
            result["diff"] = diff_entries([change])
        if self._task.check_mode:
            return result
        result["launches"] = 2
        try:
            raw = self.run_batch(rollout.retire_steps(decision), args, task_vars)
        except BatchFailed as exc:
            guard = guard_failure_message(exc.result)
            done = any(s.get("cmdlet") == "Remove-ExchangeCertificate" and s.get("status") == "ok" for s in exc.result.get("steps") or [])
            if not done:
                result.update(changed=False, changes=[], state="kept")
            why = guard or exc.result.get("msg") or "no message"
            return dict(result, failed=True, msg=f"removing {thumbprint} from {server} did not happen: {why}" if not done
                        else f"removing {thumbprint} from {server} failed after the removal ran: {why}")
        if not rollout.removed(raw, thumbprint):
            return dict(result, failed=True, msg=f"{thumbprint} was removed on {server} but still reads back; check the server's store")
        return result
