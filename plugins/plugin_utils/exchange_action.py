# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every action plugin of this collection shares: session options, the target server, one batch.

Each user-facing module is a Python action plugin that decides on the
controller and runs Exchange cmdlets through the one payload module,
exchange_command, via _execute_module: become, async, no_log and check mode
then work as for any module, and every PowerShell launch is one batch.
"""

from __future__ import annotations

import ipaddress

from ansible.plugins.action import ActionBase

PAYLOAD = "exchange.transport_tls.exchange_command"

# Options passed through to exchange_command unchanged; documented once in the
# exchange.transport_tls.session doc fragment.
SESSION_SPEC = {
    "session": {"type": "str", "choices": ["auto", "snapin", "remote"], "default": "auto"},
    "connection_uri": {"type": "str"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "domain_controller": {"type": "str"},
}
SESSION_REQUIRED_TOGETHER = [["username", "password"]]


class BatchFailed(Exception):
    """exchange_command failed; ``result`` is what it returned (steps, stop, msg, unreachable)."""

    def __init__(self, result: dict):
        super().__init__(result.get("msg") or "exchange_command failed")
        self.result = result


class ExchangeActionBase(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    def server_name(self, requested: str | None, task_vars: dict) -> str:
        """The Exchange server to act on: the option, else the inventory host name up to its first dot."""
        if requested:
            return requested
        host = str(task_vars.get("inventory_hostname", ""))
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host.split(".", 1)[0]
        raise ValueError(
            f"the inventory host name {host!r} is an IP address, which cannot name an Exchange server: "
            "set the option server to this host's Exchange server name (as Get-ExchangeServer shows it)"
        )

    def run_batch(self, steps: list[dict], args: dict, task_vars: dict) -> dict:
        """One PowerShell launch on the target host; raises BatchFailed when the payload fails."""
        module_args = {key: args.get(key) for key in SESSION_SPEC if args.get(key) is not None}
        module_args["steps"] = steps
        result = self._execute_module(module_name=PAYLOAD, module_args=module_args, task_vars=task_vars)
        if result.get("failed") or result.get("unreachable"):
            raise BatchFailed(result)
        return result
