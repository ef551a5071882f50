# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_environment_facts: one read launch per host and an SMTP probe from the controller, judged in Python."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import transport_facts
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import environment
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    BatchFailed,
    ExchangeActionBase,
)

ARGUMENT_SPEC = {
    "server": {"type": "str"},
    "probe": {"type": "bool", "default": True},
    "probe_host": {"type": "str"},
    "probe_port": {"type": "int", "default": 25},
    "probe_timeout": {"type": "float", "default": 10},
    **SESSION_SPEC,
}


class ActionModule(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        try:
            args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
            problem = _probe_problem(args)
            server = self.server_name(args["server"], task_vars)
        except (AnsibleActionFail, ValueError) as exc:
            return dict(result, failed=True, msg=str(exc))
        if problem:
            return dict(result, failed=True, msg=problem)
        raw, facts, facts_error, unreachable = self._read(server, args, task_vars)
        checks = environment.server_checks(raw, facts, facts_error)
        if args["probe"]:
            host = args["probe_host"] or ((facts or {}).get("server") or {}).get("fqdn") or str(task_vars.get("inventory_hostname"))
            checks.append(_probe(host, args["probe_port"], args["probe_timeout"]))
        else:
            checks.append(environment.probe_check(None))
        server_facts = (facts or {}).get("server") or {}
        result["environment"] = {
            "server": server,
            "fqdn": server_facts.get("fqdn"),
            "role": server_facts.get("role"),
            "version": server_facts.get("version"),
            "session": raw.get("session"),
            "available_cmdlets": raw.get("available_cmdlets"),
            "checks": checks,
            "verdict": environment.verdict(checks),
        }
        result["launches"] = 1
        if unreachable:
            result.update(unreachable=True, msg=raw.get("msg"))
        return result

    def _read(self, server: str, args: dict, task_vars: dict):
        """The batch result, the parsed facts (or None and why), and whether the host was unreachable."""
        try:
            raw = self.run_batch(environment.read_steps(server), args, task_vars)
        except BatchFailed as exc:
            msg = exc.result.get("msg") or "no message"
            raw = dict(exc.result, steps=[], msg=f"the read launch on {server} failed: {msg}")
            return raw, None, raw["msg"], bool(exc.result.get("unreachable"))
        try:
            facts = transport_facts.parse_read(raw, server)
        except transport_facts.FactsError as exc:
            return raw, None, str(exc), False
        return raw, facts, None, False


def _probe_problem(args: dict) -> str | None:
    if not 1 <= args["probe_port"] <= 65535:
        return f"probe_port must be between 1 and 65535, got {args['probe_port']}"
    if not 0 < args["probe_timeout"] <= smtp_probe.MAX_SECONDS:
        return f"probe_timeout must be a number of seconds greater than 0 and at most {smtp_probe.MAX_SECONDS}, got {args['probe_timeout']}"
    if args["probe_host"] is not None:
        try:
            smtp_probe.check_host(args["probe_host"])
        except ValueError as exc:
            return f"probe_host: {exc}"
    return None


def _probe(host: str, port: int, timeout: float) -> dict:
    # In-process on the controller: what matters is whether the controller, where the audit's probe
    # runs, reaches the port.
    try:
        probed = smtp_probe.probe(host, port, timeout)
    except smtp_probe.ProbeError as exc:
        return environment.probe_check(dict(exc.result, host=host, port=port), str(exc))
    except ValueError as exc:
        return environment.probe_check({"host": host, "port": port}, str(exc))
    return environment.probe_check(probed)
