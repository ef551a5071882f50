# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""restart_decision: whether role connector_tls restarts a server's transport service; logic in plugin_utils/_converge/restart.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import restart
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import plain


def restart_decision(probe, policy, host_changed, target):
    try:
        changed = boolean(host_changed, strict=True)
    except TypeError:
        raise AnsibleFilterError(f"restart_decision: host_changed must be a boolean, got {host_changed!r}") from None
    probe, target = plain(probe), plain(target)
    if probe is not None and not isinstance(probe, dict):
        raise AnsibleFilterError(f"restart_decision expects the registered result of smtp_tls_probe, got {type(probe).__name__}")
    if target is not None and not isinstance(target, dict):
        raise AnsibleFilterError(f"restart_decision: target must be what probe_target returns (a dict or null), got {type(target).__name__}")
    try:
        return restart.decide(str(policy), changed, probe, target)
    except ValueError as exc:
        raise AnsibleFilterError(f"restart_decision: {exc}") from None


class FilterModule:
    def filters(self):
        return {"restart_decision": restart_decision}
