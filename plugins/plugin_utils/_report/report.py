# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of role connector_tls: one verdict per host and for the organisation, from the run's results.

Input is what the role's tasks registered, unchanged (facts, the check-mode
plans, the real runs, the SMTP probes, restarts), so the report says what the
modules said and nothing is decided twice. The shapes written here are an
interface (schemas/report-v1.schema.json, schemas/changes-v1.schema.json,
docs/reports.md): keys are added, never renamed.

Statuses, worst first: error (unreachable for a host), blocked, drift,
remediated, compliant. ``drift`` is what a remediation would change or an
error-severity finding; warnings without a proposal (an old 12014 event, a
certificate property Exchange did not return) are reported but do not make a
host drift, or a clean server would fail the audit for a day after its fix.

Pure Python: no Ansible imports.

The code is in modules of this room named for what they do: verdicts (statuses, results, scope), probe_findings,
host_verdict, org_verdict and changes_doc; this module builds the report and decides the exit status, and every name
it had stays importable from here.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.changes_doc import (
    APPLIED,
    ATTEMPTED,
    CHANGES_SCHEMA,
    NOT_APPLIED,
    PLANNED,
    UNKNOWN,
    changes_document,
    planned_changes,
    restart_changes,
    scoped_changes,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.host_verdict import _Host, facts_now
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.org_verdict import _block_missing_sources, _organization, org_changes_of
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.probe_findings import (
    PROBE_CODES,
    probe_problem,
    probe_reach_problem,
    probe_source,
    probe_target,
    probe_tls_problem,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.verdicts import (
    BLOCKED,
    COMPLIANT,
    DRIFT,
    ERROR,
    EXEMPT,
    HOST_STATUSES,
    ORGANIZATION_TYPES,
    REMEDIATED,
    UNREACHABLE,
    change_key,
    counts,
    drifts,
    exempt_reason,
    worst,
)

__all__ = [
    "APPLIED",
    "ATTEMPTED",
    "BLOCKED",
    "CHANGES_SCHEMA",
    "COMPLIANT",
    "DRIFT",
    "ERROR",
    "EXEMPT",
    "HOST_STATUSES",
    "NOT_APPLIED",
    "ORGANIZATION_TYPES",
    "PLANNED",
    "PROBE_CODES",
    "REMEDIATED",
    "REPORT_SCHEMA",
    "UNKNOWN",
    "UNREACHABLE",
    "build",
    "change_key",
    "changes_document",
    "counts",
    "drifts",
    "exempt_reason",
    "exit_failure",
    "facts_now",
    "host_failures",
    "org_changes_of",
    "planned_changes",
    "probe_problem",
    "probe_reach_problem",
    "probe_source",
    "probe_target",
    "probe_tls_problem",
    "restart_changes",
    "run_problems",
    "scoped_changes",
    "worst",
]

REPORT_SCHEMA = "exchange.transport_tls/report/v1"


def build(mode: str, check_mode: bool, generated_at: str, runs: Dict[str, dict], org: dict,
          scope: Optional[str] = None, expiring_days: int = 30, exempt: Optional[Dict[str, str]] = None) -> dict:
    """The report (schemas/report-v1.schema.json) from each host's registered results and the organisation's.

    ``runs``: inventory host -> {gathered, scope (identities or None), receive_plan, receive, probes, restarts};
    ``org``: {runner, plan, send}; ``exempt``: connector identity -> the user's reason (connector_tls_exempt):
    those connectors and their findings are reported ``exempt`` and count neither as drift nor as an error.
    """
    if mode not in ("audit", "remediate"):
        raise ValueError(f"mode must be 'audit' or 'remediate', got {mode!r}")
    org_changes = org_changes_of(org, check_mode)
    # Once per host: the facts as the run left them (facts_after recomputes selection and findings).
    now = {name: facts_now(run, org_changes, expiring_days) for name, run in sorted(runs.items())}
    hosts = {name: _Host(name, run, mode, check_mode, now[name], exempt).build() for name, run in sorted(runs.items())}
    runner = org.get("runner")
    organization = _organization(org, now, mode, check_mode, (runs.get(runner) or {}).get("scope"), org_changes, exempt)
    _block_missing_sources(hosts, organization)
    if mode == "audit" or check_mode:
        # Nothing was written: what a remediation would change is drift.
        for host in hosts.values():
            if host["status"] in (COMPLIANT, REMEDIATED) and any(p["status"] == "change" for p in host["plans"]):
                host["status"] = DRIFT
    else:
        # A remediation that ends with drift did not converge: no module changes what is left.
        for entry in list(hosts.values()) + [organization]:
            if entry["status"] == DRIFT:
                left = sorted({f["code"] for f in entry["findings"] if counts(f)})
                entry["status"] = BLOCKED
                entry["message"] = entry["message"] or (
                    "still drifted after the remediation, and no module of this collection fixes it: "
                    + (", ".join(left) or "see findings") + ". Act on the findings' messages by hand, or, for a connector"
                    " that is so by design, exempt it with the reason (connector_tls_exempt).")
    problems = run_problems(runs, scope)
    summary = {"hosts": len(hosts), **{s: 0 for s in HOST_STATUSES}}
    for host in hosts.values():
        summary[host["status"]] += 1
    overall = worst([h["status"] for h in hosts.values()] + [organization["status"]] + [ERROR for _p in problems])
    return {
        "schema": REPORT_SCHEMA, "mode": mode, "check_mode": bool(check_mode), "generated_at": generated_at,
        "scope": scope or None, "status": ERROR if overall == UNREACHABLE else overall, "summary": summary,
        "problems": problems, "hosts": hosts, "organization": organization,
    }


def run_problems(runs: Dict[str, dict], scope: Optional[str]) -> List[str]:
    """What makes the whole run say nothing, whatever each host says: a result that checked nothing is not green."""
    problems = []
    if not runs:
        problems.append("the play had no host: nothing was checked (check -i and connector_tls_target)")
    scopes = [run.get("scope") for run in runs.values()
              if ((run.get("gathered") or {}).get("ansible_facts") or {}).get("exchange_tls") is not None]
    if scope and scopes and all(s is not None and not s for s in scopes):
        problems.append(f"connector_tls_scope selected no connector on any server ({scope!r}): a field name or value"
                        " in it matches nothing in the facts, so nothing was checked; see the field names with"
                        " ansible-doc -t filter exchange.transport_tls.connector_scope, or remove connector_tls_scope")
    return problems


def exit_failure(report: dict, fail_on_drift: bool) -> Optional[str]:
    """Why the run must end non-zero, or None: the rule CI and AWX read from the exit status."""
    summary, organization = report["summary"], report["organization"]
    # Blocked is drift nobody can fix automatically: it fails a real remediation (it did not converge), and an
    # audit or a --check run only as drift does, so fail_on_drift=false really means "report only".
    remediated = report["mode"] == "remediate" and not report["check_mode"]
    failing = (ERROR, UNREACHABLE, BLOCKED) if remediated or fail_on_drift else (ERROR, UNREACHABLE)
    bad = {s: summary[s] for s in failing if summary[s]}
    parts = list(report.get("problems") or []) + [f"{n} host(s) {s}" for s, n in bad.items()]
    if organization["status"] == ERROR or (organization["status"] == BLOCKED and BLOCKED in failing):
        parts.append(f"organisation objects {organization['status']}")
    if fail_on_drift:
        if summary[DRIFT]:
            parts.append(f"{summary[DRIFT]} host(s) drift")
        if organization["status"] == DRIFT:
            parts.append("organisation objects drift")
    return ", ".join(parts) or None


def host_failures(report: dict, fail_on_drift: bool, play_hosts: List[str]) -> Dict[str, str]:
    """Which play hosts the run fails, and why: exactly the hosts the verdict fails, so PLAY RECAP and AWX's per-host
    status point at the servers that need a person. The organisation's failure goes to the host that decided it (or
    the first host), and so do the run's own problems; {} when exit_failure is None."""
    if exit_failure(report, fail_on_drift) is None:
        return {}
    remediated = report["mode"] == "remediate" and not report["check_mode"]
    failing = {ERROR, UNREACHABLE} | ({BLOCKED} if remediated or fail_on_drift else set()) | ({DRIFT} if fail_on_drift else set())
    result: Dict[str, List[str]] = {}
    for name, host in report["hosts"].items():
        if host["status"] in failing:
            why = host["message"] or "; ".join(sorted({f["code"] for f in host["findings"] if counts(f)}))
            result.setdefault(name, []).append(f"{host['status']}: {why}" if why else host["status"])
    organization = report["organization"]
    first = next(iter(play_hosts or report["hosts"]), None)
    owner = organization.get("runner") if organization.get("runner") in (play_hosts or report["hosts"]) else first
    if organization["status"] in failing and owner is not None:
        result.setdefault(owner, []).append(f"organisation objects {organization['status']}"
                                            + (f": {organization['message']}" if organization.get("message") else ""))
    for problem in report.get("problems") or []:
        if first is not None:
            result.setdefault(first, []).append(problem)
    if not result and first is not None:
        result[first] = [exit_failure(report, fail_on_drift)]
    return {name: "; ".join(reasons) for name, reasons in result.items()}
