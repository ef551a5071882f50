# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The organisation's verdict in the fleet report (see report.py): send connectors and the hybrid configuration,
decided once by the run's Mailbox server, and the source servers that keep a send connector blocked.
Pure Python: no Ansible imports.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.verdicts import (
    BLOCKED,
    COMPLIANT,
    DRIFT,
    ERROR,
    ORGANIZATION_TYPES,
    REMEDIATED,
    UNREACHABLE,
    _change,
    _failed,
    _finding,
    _message,
    _org_scope,
    _plan,
    _ran,
    _with_advice,
    counts,
    exempt_reason,
    worst,
)


def _organization(org: dict, now: Dict[str, Optional[dict]], mode: str, check_mode: bool,
                  scope_of_runner: Optional[List[str]], org_changes: List[dict], exempt: Optional[Dict[str, str]] = None) -> dict:
    plan_result, send = org.get("plan"), org.get("send")
    errors: List[str] = []
    org_in_scope = _org_scope(plan_result, scope_of_runner)
    plans = [_plan(d) for d in (plan_result or {}).get("plans") or [] if org_in_scope(d["object_type"], d["object"])]
    if _ran(plan_result) and plan_result.get("failed") and not plan_result.get("plans"):
        errors.append("deciding the send connectors failed: " + _message(plan_result))
    changes = org_changes
    if _failed(send):
        errors.append("the send connector remediation stopped: " + _with_advice(_message(send)))
    # Organisation findings: every host reports the send connectors it is a source of; one entry per object.
    merged: Dict[tuple, dict] = {}
    for name, facts in now.items():
        for f in (facts or {}).get("findings") or []:
            if f["object_type"] not in ORGANIZATION_TYPES:
                continue
            in_scope = org_in_scope(f["object_type"], f["object"])
            entry = merged.setdefault((f["code"], f["object_type"], f["object"]),
                                      dict(_finding(f, in_scope, exempt_reason(exempt, f["object"])), servers=[]))
            entry["servers"].append(name)
    findings = list(merged.values())
    statuses = [BLOCKED for p in plans if p["status"] == "blocked"]
    statuses += [DRIFT for f in findings if counts(f)]
    statuses += [DRIFT for p in plans if p["status"] == "change" and (mode == "audit" or check_mode)]
    if errors:
        statuses.append(ERROR)
    status = worst(statuses)
    if status == COMPLIANT and changes:
        status = REMEDIATED
    if not org.get("runner"):
        # Only a Mailbox server reads and decides send connectors and the hybrid configuration: without one whose
        # facts were read, nothing was checked, and a report must not call unread objects compliant.
        errors.append("the organisation objects (send connectors, hybrid configuration) were not read: no Mailbox"
                      " server of this run answered (all unreachable or in error, or the run was narrowed to Edge"
                      " servers); include a reachable Mailbox server (connector_tls_target) or name one in"
                      " connector_tls_organization_host")
        status = ERROR
    message = "; ".join(errors) if errors else (
        "; ".join(f"{p['object']}: {p['reason']}" for p in plans if p["status"] == "blocked") or None)
    return {"status": status, "message": message, "runner": org.get("runner"), "findings": findings,
            "plans": plans, "changes": changes}


def _block_missing_sources(hosts: Dict[str, dict], organization: dict) -> None:
    """A source server that keeps a send connector blocked is itself blocked: the fix is on that server."""
    by_server = {}
    for name, host in hosts.items():
        by_server[name.lower()] = host
        if host["server"] and host["server"].get("name"):
            by_server[host["server"]["name"].lower()] = host
    for plan in organization["plans"]:
        if plan["status"] != "blocked":
            continue
        for server, source in (plan.get("source_servers") or {}).items():
            host = by_server.get(server.lower())
            if host is None or source.get("status") == "ok" or host["status"] in (ERROR, UNREACHABLE):
                continue
            why = (f"{plan['object']} cannot use {plan.get('expected') or plan.get('current')} because this source"
                   f" server {source.get('reason') or source.get('status')}; mail sent through it fails (454 4.7.5)")
            host["status"] = worst([host["status"], BLOCKED])
            host["message"] = "; ".join(m for m in (host["message"], why) if m)


def org_changes_of(org: dict, check_mode: bool) -> List[dict]:
    send = org.get("send")
    if check_mode or not _ran(send):
        return []
    return [_change(c) for c in send.get("changes") or []]
