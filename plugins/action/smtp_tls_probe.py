# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smtp_tls_probe: in-process when the task runs on the controller, the module anywhere else.

A probe from the controller (delegate_to: localhost, as the role does) is a few
socket operations; running it as a module costs a Python start and an AnsiballZ
payload per host, which at fleet scale was a large share of the audit's
controller CPU (docs/performance.md). Delegated to another host, or with become,
the module runs there as before, so the probe still leaves from that host.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import checked_args

ARGUMENT_SPEC = smtp_probe.ARGUMENT_SPEC
LOCAL_CONNECTIONS = ("local", "ansible.builtin.local")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if not self.runs_on_controller():
            result.update(self._execute_module(module_name="exchange.transport_tls.smtp_tls_probe",
                                               module_args=self._task.args, task_vars=task_vars))
            return result
        try:
            params = self._options()
        except AnsibleActionFail as exc:
            return dict(result, failed=True, msg=str(exc))
        return dict(result, **probe_in_process(params))

    def runs_on_controller(self) -> bool:
        """True when the task's connection is the controller itself, without privilege escalation."""
        return self._connection.transport in LOCAL_CONNECTIONS and not self._play_context.become

    def _options(self) -> dict:
        params = dict(checked_args(self, ARGUMENT_SPEC))
        problem = smtp_probe.options_problem(params)
        if problem:
            raise AnsibleActionFail(problem)
        return params


def probe_in_process(params: dict) -> dict:
    """The probe with validated options, from this process; the result the module would return.

    Shared with connector_tls_server, which probes in the same worker that read the server.
    """
    try:
        probed = smtp_probe.probe(
            params["host"], params["port"], params["timeout"], params["helo_name"],
            expect_thumbprint=params["expect_thumbprint"], wait_timeout=params["wait_timeout"], delay=params["delay"],
            seen_as=params["seen_as"],
        )
    except smtp_probe.ProbeError as exc:
        return dict(failed=True, changed=False, msg=str(exc), **exc.result)
    return dict(changed=False, **probed)
