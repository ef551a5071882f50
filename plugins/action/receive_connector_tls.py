# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""receive_connector_tls: name the right certificate on this server's receive connectors, safely."""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import receive_plan
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import transport_facts
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError, parse_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import expiring_days_problem
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import connector_choice
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge_action import ConvergeActionBase, facts_from
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    BatchFailed,
)

ARGUMENT_SPEC = {
    "identity": {"type": "list", "elements": "str"},
    "certificate": {"type": "str", "default": "auto"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "enable_smtp": {"type": "bool", "default": True},
    "facts": {"type": "dict"},
    "expiring_days": {"type": "int", "default": 30},
    "server": {"type": "str"},
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
        try:
            server = self.server_name(args["server"], task_vars)
            thumbprint = None if args["certificate"].strip().lower() == "auto" else parse_thumbprint(args["certificate"])
            if expiring_days_problem(args["expiring_days"]):
                raise ValueError(expiring_days_problem(args["expiring_days"]))
            identities = [i for i in (args["identity"] or []) if i and i.strip()]
            if args["identity"] is not None and not identities:
                raise ValueError("identity must name at least one receive connector when given; omit it to converge every drifted connector")
            facts = facts_from(args["facts"])
            if facts is not None:
                _check_server(facts, server)
            connector_choice.check(args["certificates"], args["exempt"], {})   # the values, before any launch
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        launches = 0
        if facts is None:
            launches = 1
            try:
                raw = self.run_batch(transport_facts.read_steps(server, event_hours=0), args, task_vars)
                facts = transport_facts.parse_read(raw, server)
            except BatchFailed as exc:
                return dict(result, failed=True, launches=1, msg=f"reading {server} failed: {exc.result.get('msg') or 'no message'}")
            except transport_facts.FactsError as exc:
                return dict(result, failed=True, launches=1, msg=str(exc))
        try:
            # Every host's facts the play holds, and this server's: an identity that names no connector of any of
            # them is refused before any write (a typo would otherwise pin or exempt nothing, silently).
            fleet = dict(connector_choice.fleet_from_hostvars(task_vars, strict=False), **{"(this server)": facts})
            certificates, exempt, warnings = connector_choice.check(args["certificates"], args["exempt"], fleet)
            plan = receive_plan.plan(facts, identities or None, thumbprint, args["state"], args["enable_smtp"], args["expiring_days"],
                                     certificates=certificates, exempt=exempt)
        except PlanError as exc:
            return dict(result, failed=True, launches=launches, msg=str(exc))
        plan.warnings.extend(warnings)
        result = self.converge(result, plan, lambda: receive_plan.write_steps(plan), args, task_vars, launches)
        if result["changed"] and not self._task.check_mode:
            # Later tasks (send_connector_tls reads every host's exchange_tls) see the server as it is now.
            result["ansible_facts"] = {"exchange_tls": receive_plan.facts_after(facts, result["changes"], args["expiring_days"])}
        return result


def _check_server(facts: dict, server: str) -> None:
    names = {n.lower() for n in (facts["server"].get("name"), (facts["server"].get("fqdn") or "").split(".")[0]) if n}
    if server.split(".")[0].lower() not in names:
        raise ValueError(
            f"facts describe server {facts['server'].get('name')} but this task converges {server}: pass the facts"
            " registered on this host (facts: \"{{ registered_var }}\" on the same hosts)"
        )
