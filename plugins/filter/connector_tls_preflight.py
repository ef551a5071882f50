# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connector_tls_preflight filter; documented in connector_tls_preflight.yml, logic in plugin_utils/_role/role_preflight.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._role.role_preflight import preflight


def connector_tls_preflight(names, strings=None, scope=None, expiring_days=None, batch=None, play_hosts=None,
                            certificates=None, exempt=None):
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise AnsibleFilterError(
            "connector_tls_preflight expects the list of connector_tls_* variable names"
            f" (query('ansible.builtin.varnames', '^connector_tls_')), got {type(names).__name__}")
    if strings is not None and not isinstance(strings, dict):
        raise AnsibleFilterError(f"connector_tls_preflight: strings must be a dictionary of variable name to value, got {type(strings).__name__}")
    return preflight(names, strings, scope, expiring_days, batch, play_hosts, certificates, exempt)


class FilterModule:
    def filters(self):
        return {"connector_tls_preflight": connector_tls_preflight}
