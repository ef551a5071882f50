# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's change record: changes.json (schema exchange.transport_tls/changes/v1) from the tasks' results.

Every change a rollout task returns is on the record: imports and removals (certificate_store), SMTP enabled and
the default SMTP certificate kept or put back (certificate, transport_service), and the renames (receive_connector,
send_connector, hybrid_configuration). playbooks/rollback.yml reads it like the remediation's; it undoes the
renames and says why it undoes neither an import nor a removal (plugin_utils/_converge/rollback.py).
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout.plan import NOT_UNDONE, STORE

SCHEMA = "exchange.transport_tls/changes/v1"
_KEYS = ("object_type", "object", "property", "before", "after", "server")


def _ran(result: Optional[dict]) -> bool:
    return isinstance(result, dict) and not result.get("skipped")


def _results(result: Optional[dict]) -> List[dict]:
    """A task's result, or each item's for a loop."""
    if not _ran(result):
        return []
    if isinstance(result.get("results"), list):
        return [r for r in result["results"] if _ran(r)]
    return [result]


def _entry(change: dict, host: str, status: str, message: Optional[str]) -> dict:
    entry = {key: change.get(key) for key in _KEYS}
    if entry["object_type"] == STORE and entry["after"] == "absent" and message is None:
        message = NOT_UNDONE
    return dict(entry, host=host, status=status, message=message)


def document(results: Dict[str, List[Optional[dict]]], organization: Optional[dict], check_mode: bool, generated_at: str,
             run_id: str) -> dict:
    """``results``: host -> its task results in the order the play ran them; ``organization``: the send task's result."""
    changes: List[dict] = []
    sources = [(host, result) for host, items in results.items() for result in items]
    if _ran(organization):
        sources.append((organization.get("run_on") or "organization", organization))
    for host, task in sources:
        for result in _results(task):
            for change in result.get("changes") or []:
                changes.append(_entry(change, host, "planned" if check_mode else "applied", None))
            for change in result.get("unknown_changes") or []:
                changes.append(_entry(change, host, "unknown",
                                      "the launch that made it may or may not have run; check the object before a rollback"))
    return {"schema": SCHEMA, "generated_at": generated_at, "mode": "remediate", "check_mode": bool(check_mode),
            "run_id": run_id, "complete": True, "changes": changes}
