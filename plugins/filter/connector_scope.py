# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connector_scope filter; documented in connector_scope.yml, logic in plugin_utils/_report/scope.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import ScopeError, compile_expression, in_scope


def connector_scope(facts, expression=None):
    try:
        if facts is None:
            # No facts yet: only check the expression, so a bad one is refused before any server is contacted.
            if expression:
                compile_expression(expression)
            return []
        return in_scope(facts, expression)
    except ScopeError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"connector_scope": connector_scope}
