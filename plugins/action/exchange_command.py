# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_command runs as a normal module; the controller first refuses what must not be sent.

* A non-string secret: Ansible.Basic hides a no_log value by its string form,
  which for a dictionary or a list is the type name, so a vault dictionary
  given as password would come back in the module's invocation at -v; the
  controller cannot mask it either (it does not know a PowerShell module's
  no_log options). Refused without echoing it.
* The session rules the action modules apply (exchange_action.session_problem),
  so the payload stays small and the rules live once, in Python.
* A batch without a step, which would open an Exchange session for nothing.
* A cmdlet or parameter outside the payload's allow-lists (payload_contract),
  refused with the payload's own words, so nothing is launched for it.

A failed Exchange session comes back with New-PSSession's own error; its
meaning is added here (exchange_action.session_failure_message), in Python.

Everything else (types, choices, the steps' own rules) is the payload's
Ansible.Basic validation, as documented.
"""

from __future__ import annotations

from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_SPEC,
    session_failure_message,
    session_problem,
    type_problem,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.payload_contract import steps_problem


def problem_of(args: dict) -> str | None:
    problem = type_problem(args, dict(SESSION_SPEC, certificate_password={"type": "str", "no_log": True}))
    if problem:
        return problem
    if args.get("steps") == []:
        return "steps must hold at least one step: a batch without a step would open an Exchange session for nothing"
    if all(args.get(name) is None or isinstance(args.get(name), str) for name in SESSION_SPEC):
        problem = session_problem(args)
        if problem:
            return problem
    # A number or a boolean for a string option: Ansible.Basic names it.
    return steps_problem(args.get("steps"))


class ActionModule(NormalAction):
    def run(self, tmp=None, task_vars=None):
        problem = problem_of(self._task.args)
        if problem:
            return {"failed": True, "changed": False, "msg": problem}
        result = super().run(tmp, task_vars)
        explained = session_failure_message(result) if result.get("failed") else None
        if explained:
            result["msg"] = explained
        return result
