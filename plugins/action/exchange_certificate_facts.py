# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_certificate_facts: one read batch per host, interpreted on the controller."""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import certificate_selection, findings, transport_facts
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    BatchFailed,
    ExchangeActionBase,
)

ARGUMENT_SPEC = {
    "server": {"type": "str"},
    "event_hours": {"type": "int", "default": 24},
    "expiring_days": {"type": "int", "default": 30},
    **SESSION_SPEC,
}


class ActionModule(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
        problem = _range_problem(args)
        if problem:
            return dict(result, failed=True, msg=problem)
        try:
            server = self.server_name(args["server"], task_vars)
            steps = transport_facts.read_steps(server, event_hours=args["event_hours"])
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        try:
            raw = self.run_batch(steps, args, task_vars)
        except BatchFailed as exc:
            failure = {k: v for k, v in exc.result.items() if k in ("msg", "unreachable", "stop")}
            failure["msg"] = f"reading the transport TLS facts of {server} failed: {failure.get('msg', 'no message')}"
            return dict(result, failed=True, launches=1, **failure)
        try:
            facts = transport_facts.parse_read(raw, server)
        except transport_facts.FactsError as exc:
            return dict(result, failed=True, launches=1, msg=str(exc))
        certificate_selection.annotate(facts)
        facts["findings"] = findings.analyze(facts, expiring_days=args["expiring_days"])
        result.update(ansible_facts={"exchange_tls": facts}, findings=facts["findings"], launches=1)
        return result


def _range_problem(args: dict) -> str | None:
    # event_hours is checked by transport_facts.read_steps, before anything runs too.
    return findings.expiring_days_problem(args["expiring_days"])
