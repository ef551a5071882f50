# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""send_connector_tls: one name for each send connector that every source server holds, decided once."""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import send_plan
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import parse_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import expiring_days_problem
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import connector_choice
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge_action import ConvergeActionBase
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
)

ARGUMENT_SPEC = {
    "identity": {"type": "list", "elements": "str"},
    "certificate": {"type": "str", "default": "auto"},
    "enable_smtp": {"type": "bool", "default": True},
    "ignore_source_servers": {"type": "list", "elements": "str", "default": []},
    "update_hybrid_configuration": {"type": "bool", "default": False},
    "expiring_days": {"type": "int", "default": 30},
    "receive_plans": {"type": "list", "elements": "dict", "default": []},
    "certificates": {"type": "dict", "default": {}},
    "exempt": {"type": "dict", "default": {}},
    **SESSION_SPEC,
}


class ActionModule(ConvergeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(changed=False, launches=0, plans=[], changes=[], smtp=[])
        args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
        runner = self._task.delegate_to or task_vars.get("inventory_hostname")
        batch = task_vars.get("ansible_play_batch") or []
        if not self._task.run_once and len(batch) > 1:
            # Once per host, the same organisation objects would be decided and written several times at once.
            return dict(result, failed=True, msg=(
                "send_connector_tls changes organisation objects and must run once: add run_once: true and"
                f" delegate_to: a Mailbox server with facts (this task runs for {len(batch)} hosts)"))
        try:
            thumbprint = None if args["certificate"].strip().lower() == "auto" else parse_thumbprint(args["certificate"])
            identities = [i for i in (args["identity"] or []) if i and i.strip()]
            if args["identity"] is not None and not identities:
                raise ValueError("identity must name at least one send connector when given; omit it to converge every drifted one")
            if expiring_days_problem(args["expiring_days"]):
                raise ValueError(expiring_days_problem(args["expiring_days"]))
            fleet = connector_choice.fleet_from_hostvars(task_vars)
            certificates, exempt, warnings = connector_choice.check(args["certificates"], args["exempt"], fleet)
            unknown = _unknown_ignored(args["ignore_source_servers"], fleet)
            plan = send_plan.plan(fleet, runner, identities or None, thumbprint, args["enable_smtp"],
                                  args["ignore_source_servers"], args["update_hybrid_configuration"], args["expiring_days"],
                                  enabled_by_run=send_plan.planned_smtp_enables(args["receive_plans"]),
                                  certificates=certificates, exempt=exempt)
        except ValueError as exc:  # PlanError included
            return dict(result, failed=True, msg=str(exc))
        result["run_on"] = runner
        result = self.converge(result, plan, lambda: send_plan.write_steps(plan, fleet), args, task_vars, 0)
        warnings += [unknown] if unknown else []
        if warnings:
            result["warnings"] = list(result.get("warnings") or []) + warnings
        return result


def _unknown_ignored(ignored: list, fleet: dict) -> str | None:
    """A warning for names in ignore_source_servers that are no send connector's source server (a typo ignores nothing)."""
    sources = set()
    for facts in fleet.values():
        for connector in facts.get("send_connectors") or []:
            sources.update(str(s) for s in connector.get("source_transport_servers") or [])
    known = {s.lower() for s in sources} | {s.split(".")[0].lower() for s in sources}
    unknown = [name for name in ignored if name.strip().lower() not in known and name.strip().split(".")[0].lower() not in known]
    if not unknown or not fleet:
        return None
    return (f"ignore_source_servers names {', '.join(map(repr, unknown))}, which is the source server of no send connector"
            f" in the facts; the source servers are: {', '.join(sorted(sources)) or 'none'}. It ignores nothing.")
