# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""changes.json of role connector_tls (schemas/changes-v1.schema.json): the changes the check-mode plans announce,
recorded as attempted before any write, then settled as applied, not applied or unknown; and the transport restarts.
Pure Python: no Ansible imports.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.verdicts import (
    ORGANIZATION_TYPES,
    _change,
    _failed,
    _in_scope,
    _message,
    _org_scope,
    _ran,
    _with_advice,
    change_key,
)

CHANGES_SCHEMA = "exchange.transport_tls/changes/v1"
# The statuses of a change in changes.json (schemas/changes-v1.schema.json).
PLANNED, ATTEMPTED, APPLIED, NOT_APPLIED, UNKNOWN = "planned", "attempted", "applied", "not_applied", "unknown"
_UNKNOWN_WHY = ("the write was launched but its outcome could not be established (the reply was lost or could not be"
                " read): it may have been applied; the object's current value says which")


def scoped_changes(plan_result: dict, scope: Optional[List[str]]) -> List[dict]:
    """The changes of a check-mode plan that the in-scope decisions need (a sweep plans every connector)."""
    org_in_scope = _org_scope(plan_result, scope)
    kept = [d for d in plan_result.get("plans") or [] if d.get("status") == "change" and (
        _in_scope(d["object"], scope) if d["object_type"] == "receive_connector" else org_in_scope(d["object_type"], d["object"]))]
    objects = {(d["object_type"], d["object"]) for d in kept}
    thumbprints = {d.get("certificate") for d in kept} | {
        s.get("thumbprint") for d in kept for s in (d.get("source_servers") or {}).values()}
    result = []
    for c in plan_result.get("changes") or []:
        if c["object_type"] == "certificate":
            wanted = c["object"] in thumbprints
        elif c["object_type"] == "transport_service":
            wanted = bool(kept)
        else:
            wanted = (c["object_type"], c["object"]) in objects
        if wanted:
            result.append(c)
    return result


def planned_changes(runs: Dict[str, dict], org: dict) -> List[dict]:
    """Every change the check-mode plans announce for objects in scope, once, with the host that will make it."""
    seen, result = set(), []
    sources = [(name, (run.get("receive_plan") or {}), run.get("scope")) for name, run in sorted(runs.items())]
    runner = org.get("runner")
    sources.append((runner, org.get("plan") or {}, (runs.get(runner) or {}).get("scope")))
    for host, plan_result, scope in sources:
        if not host or not _ran(plan_result):
            continue
        for c in scoped_changes(plan_result, scope) + _swaps(plan_result, scoped_changes(plan_result, scope)):
            key = change_key(c)
            if key in seen:
                continue
            seen.add(key)
            result.append(dict(_change(c), host=host, status=PLANNED, message=c.get("message")))
    return result


_SWAP = "InternalTransportCertificateThumbprint"


def _swap_message(before: object, after: object) -> str:
    return (f"Enable-ExchangeCertificate -Force makes {after} the default SMTP certificate; the same launch puts {before}"
            " back (restored by the same launch, then read back)")


def _swaps(plan_result: dict, kept: List[dict]) -> List[dict]:
    """The default-SMTP-certificate swap each planned SMTP enable makes and undoes in its launch (smtp_enable.py).

    Planned, then attempted, like every write: if the controller dies between the enable and the restore, a
    rollback finds the default still swapped and puts it back; otherwise it finds the value from before.
    """
    enabling = {(c["object"].lower(), (c.get("server") or "").lower()) for c in kept
                if c["object_type"] == "certificate" and c["property"] == "Services"}
    swaps = []
    for item in plan_result.get("smtp") or []:
        default = (item.get("internal_transport_certificate") or {}).get("before")
        if not default or (str(item.get("enabled") or "").lower(), str(item.get("server") or "").lower()) not in enabling:
            continue
        swaps.append({"object_type": "transport_service", "object": item["server"], "property": _SWAP, "before": default,
                      "after": item["enabled"], "server": item["server"], "message": _swap_message(default, item["enabled"])})
    return swaps


def changes_document(mode: str, check_mode: bool, generated_at: str, planned: List[dict],
                     runs: Optional[Dict[str, dict]] = None, org: Optional[dict] = None, run_id: Optional[str] = None) -> dict:
    """changes.json: the planned changes (``runs`` None: before any write), or completed with what happened.

    Before the writes of a real remediation every planned change is ``attempted``: if the controller dies
    mid-run, the record says what may have been written, and a rollback restores each entry whose object
    still holds its ``after`` value. The final stage settles each as ``applied``, ``not_applied`` or
    ``unknown`` (a write launch whose outcome could not be established: the converging modules'
    ``unknown_changes``). An audit or a check run only ever plans (``planned``).
    """
    writing = mode == "remediate" and not check_mode
    head = {"schema": CHANGES_SCHEMA, "generated_at": generated_at, "mode": mode, "check_mode": bool(check_mode)}
    if run_id is not None:
        head["run_id"] = run_id
    if runs is None:
        status = ATTEMPTED if writing else PLANNED
        return dict(head, complete=False, changes=[dict(c, status=status) for c in planned])
    made: Dict[tuple, dict] = {}
    unsure: Dict[tuple, dict] = {}
    # Why a planned change did not happen: the failure of the task that makes it (per host, and the organisation's).
    failures: Dict[tuple, str] = {}
    attempts = [(name, "host", run.get("receive")) for name, run in runs.items()]
    attempts.append(((org or {}).get("runner"), "organization", (org or {}).get("send")))
    for host, kind, result in attempts:
        if not _ran(result) or check_mode:
            continue
        for c in result.get("changes") or []:
            made.setdefault(change_key(c), dict(_change(c), host=host))
        for c in result.get("unknown_changes") or []:
            unsure.setdefault(change_key(c), dict(_change(c), host=host))
        if _failed(result):
            failures[(host, kind)] = _with_advice(_message(result))
    changes = []
    applied_keys, unsure_keys = set(made), set(unsure)
    for c in planned:
        key = change_key(c)
        done, maybe = made.pop(key, None), unsure.pop(key, None)
        if done is not None:
            changes.append(dict(done, status=APPLIED, message=None))
        elif not writing:
            changes.append(dict(c, status=PLANNED))
        elif maybe is not None:
            changes.append(dict(maybe, status=UNKNOWN, message=_UNKNOWN_WHY))
        elif c["object_type"] == "transport_service" and c["property"] == _SWAP and (
                ("certificate", str(c["after"]).lower(), "Services", (c.get("server") or "").lower()) in applied_keys):
            # The enable was applied and no change of the default came back: the same launch put it back.
            changes.append(dict(c, after=c["before"], status=APPLIED, message=(
                f"{c['after']} was the default SMTP certificate for a moment during the launch that enabled SMTP on it,"
                f" and the same launch put {c['before']} back (read back)")))
        elif c["object_type"] == "transport_service" and c["property"] == _SWAP and (
                ("certificate", str(c["after"]).lower(), "Services", (c.get("server") or "").lower()) in unsure_keys):
            changes.append(dict(c, status=UNKNOWN, message=_UNKNOWN_WHY))
        else:
            kinds = ("organization",) if c["object_type"] in ORGANIZATION_TYPES else ("host", "organization")
            why = next((failures[(c["host"], k)] for k in kinds if (c["host"], k) in failures),
                       "not attempted: the task that makes it did not run (the host failed earlier)")
            changes.append(dict(c, status=NOT_APPLIED, message=why))
    # A change nobody planned (the state moved between plan and write): recorded as it happened.
    changes.extend(dict(c, status=APPLIED, message="not in the plan: the server changed between plan and write")
                   for c in made.values())
    changes.extend(dict(c, status=UNKNOWN, message=_UNKNOWN_WHY) for c in unsure.values())
    if writing:
        changes.extend(restart_changes(runs))
    return dict(head, complete=True, changes=changes)


def restart_changes(runs: Dict[str, dict]) -> List[dict]:
    """The transport restarts of the run as change entries: a restart interrupts mail flow, so it is on the record."""
    result = []
    for host, run in sorted(runs.items()):
        server = (((run.get("gathered") or {}).get("ansible_facts") or {}).get("exchange_tls") or {}).get("server") or {}
        for restart in run.get("restarts") or []:
            if not _ran(restart) or not restart.get("service"):
                continue
            failed = _failed(restart)
            result.append({
                "object_type": "service", "object": restart["service"], "property": "Restart", "before": None,
                "after": None, "server": server.get("name") or host, "host": host,
                "status": NOT_APPLIED if failed else APPLIED,
                "message": (f"restart failed: {_message(restart)}" if failed else None) or restart.get("reason"),
            })
    return result
