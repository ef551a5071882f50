# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback filters of playbooks/rollback.yml; documented in rollback_*.yml, logic in plugin_utils/_converge/rollback.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import rollback
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import run_dir
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import plain

_VARIABLE = "connector_tls_changes_file"


def _refused(exc: ValueError) -> AnsibleFilterError:
    return AnsibleFilterError(f"{_VARIABLE}: {exc}")


def rollback_steps(changes_doc, host, check_mode=False, plan=None):
    try:
        return rollback.rollback_steps(plain(changes_doc), str(host), bool(check_mode), plain(plan))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_skipped(changes_doc, host):
    try:
        return rollback.not_reversible(plain(changes_doc), str(host))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_outcome(result, changes_doc, host, check_mode=False, plan=None):
    try:
        return rollback.outcome(plain(result), plain(changes_doc), str(host), bool(check_mode), plain(plan))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_reads(changes_doc, host):
    try:
        return rollback.read_steps(plain(changes_doc), str(host))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_plan(read_result, changes_doc, host):
    try:
        return rollback.decide(plain(read_result), plain(changes_doc), str(host))
    except ValueError as exc:
        raise _refused(exc) from None


def rollback_changes_file(report_dir, run=None):
    """The changes.json of run ``run`` under ``report_dir`` (empty: the newest run that changed something)."""
    if not isinstance(report_dir, str) or not report_dir:
        raise AnsibleFilterError(f"connector_tls_report_dir must be the report directory, got {report_dir!r}")
    if run is not None and not isinstance(run, str):
        raise AnsibleFilterError(f"connector_tls_run must be a run id like {run_dir.EXAMPLE!r}, got {run!r}")
    try:
        return run_dir.changes_file(str(report_dir), str(run) if run else None)
    except ValueError as exc:
        raise AnsibleFilterError(f"connector_tls_run: {exc}") from None


class FilterModule:
    def filters(self):
        return {
            "rollback_steps": rollback_steps,
            "rollback_skipped": rollback_skipped,
            "rollback_outcome": rollback_outcome,
            "rollback_reads": rollback_reads,
            "rollback_plan": rollback_plan,
            "rollback_changes_file": rollback_changes_file,
        }
