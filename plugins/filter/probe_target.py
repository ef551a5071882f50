# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""probe_target: which receive connector answers on port 25 (for Microsoft 365, for the probe), and what it should present."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.probe_findings import probe_source as _probe_source, probe_target as _probe_target


def probe_target(facts, source=None):
    if isinstance(facts, dict) and isinstance(facts.get("ansible_facts"), dict):
        facts = facts["ansible_facts"].get("exchange_tls")
    if not isinstance(facts, dict) or "receive_connectors" not in facts or "server" not in facts:
        raise AnsibleFilterError(
            "probe_target expects one server's exchange_tls facts (ansible_facts.exchange_tls, or the registered"
            f" result of exchange.transport_tls.exchange_certificate_facts), got {type(facts).__name__}")
    try:
        source = _probe_source(source)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None
    return _probe_target(facts, source)


class FilterModule:
    def filters(self):
        return {"probe_target": probe_target}
