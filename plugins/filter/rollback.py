# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback filters of playbooks/rollback.yml; documented in rollback_*.yml, logic in module_utils/rollback.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.module_utils import rollback
from ansible_collections.exchange.transport_tls.plugins.module_utils.scope import plain

_VARIABLE = "connector_tls_changes_file"


def _refused(exc: ValueError) -> AnsibleFilterError:
    return AnsibleFilterError(f"{_VARIABLE}: {exc}")


def rollback_steps(changes_doc, host, check_mode=False):
    try:
        return rollback.rollback_steps(plain(changes_doc), str(host), bool(check_mode))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_skipped(changes_doc, host):
    try:
        return rollback.not_reversible(plain(changes_doc), str(host))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_outcome(result, changes_doc, host, check_mode=False):
    try:
        return rollback.outcome(plain(result), plain(changes_doc), str(host), bool(check_mode))
    except ValueError as exc:
        raise _refused(exc) from None


class FilterModule:
    def filters(self):
        return {
            "rollback_steps": rollback_steps,
            "rollback_skipped": rollback_skipped,
            "rollback_outcome": rollback_outcome,
        }
