# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout_targets: what playbooks/rollout.yml renames and retires on one server (plugin_utils/_rollout/plan.py decides)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import parse_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout.plan import targets


def rollout_targets(facts, thumbprint, tls_certificate_name, not_after=None):
    if isinstance(facts, dict) and isinstance(facts.get("ansible_facts"), dict):
        facts = facts["ansible_facts"].get("exchange_tls")
    if not isinstance(facts, dict) or "certificates" not in facts:
        raise AnsibleFilterError(
            "rollout_targets expects one server's exchange_tls facts (ansible_facts.exchange_tls, or the registered result"
            f" of exchange.transport_tls.exchange_certificate_facts), got {type(facts).__name__}")
    try:
        thumbprint = parse_thumbprint(thumbprint, "thumbprint")
        tls_name.split_tls_certificate_name(str(tls_certificate_name))
    except (ValueError, tls_name.TlsCertificateNameError) as exc:
        raise AnsibleFilterError(f"rollout_targets: {exc}") from None
    return targets(facts, thumbprint, str(tls_certificate_name), str(not_after) if not_after else None)


class FilterModule:
    def filters(self):
        return {"rollout_targets": rollout_targets}
