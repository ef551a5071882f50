# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's verdict in the fleet report (see report.py): its status, connectors, certificates, plans, changes,
probes and restarts, from its registered results and the facts as the run left them. Pure Python: no Ansible imports.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.facts_after import facts_after
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.probe_findings import (
    PROBE_CODES,
    _probe_entry,
    probe_problem,
    probe_reach_problem,
    probe_target,
    probe_tls_problem,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.verdicts import (
    BLOCKED,
    COMPLIANT,
    DRIFT,
    ERROR,
    EXEMPT,
    ORGANIZATION_TYPES,
    REMEDIATED,
    UNREACHABLE,
    _EXEMPTABLE,
    _change,
    _failed,
    _finding,
    _in_scope,
    _message,
    _ok,
    _plan,
    _ran,
    _with_advice,
    counts,
    drifts,
    exempt_reason,
    worst,
)

# Findings about the certificate a connector uses (as opposed to the connector's name).
_CERTIFICATE_CODES = (
    "tls_certificate_expired", "tls_certificate_expiring_soon", "tls_certificate_smtp_not_enabled",
    "tls_certificate_status_not_valid", "tls_certificate_self_signed_for_hybrid",
    "tls_certificate_not_third_party_for_hybrid",
)


def facts_now(run: dict, org_changes: Optional[List[dict]] = None, expiring_days: int = 30) -> Optional[dict]:
    """A host's facts as the run left them (None when they could not be read).

    The gathered facts, or the receive task's read-back facts when it changed something, with the
    organisation's changes applied.
    """
    gathered, receive = run.get("gathered"), run.get("receive")
    if not _ok(gathered):
        return None
    facts = gathered["ansible_facts"]["exchange_tls"]
    if _ran(receive) and (receive.get("ansible_facts") or {}).get("exchange_tls"):
        facts = receive["ansible_facts"]["exchange_tls"]
    return facts_after(facts, org_changes, expiring_days) if org_changes else facts


def _empty_host(status: str, message: Optional[str]) -> dict:
    return {"status": status, "message": message, "server": None, "launches": 0, "findings": [], "connectors": [],
            "certificates": [], "plans": [], "changes": [], "probe": [], "restarts": []}


class _Host:
    """One host's verdict, from its registered results and the facts as they are after the run."""

    def __init__(self, name: str, run: dict, mode: str, check_mode: bool, now: Optional[dict],
                 exempt: Optional[Dict[str, str]] = None):
        self.name, self.run, self.mode, self.check_mode, self.now = name, run, mode, check_mode, now
        self.exempt = exempt or {}

    def build(self) -> dict:
        gathered = self.run.get("gathered")
        if not gathered or gathered.get("skipped"):
            return _empty_host(ERROR, "facts were not gathered on this host (an earlier task stopped it)")
        if gathered.get("unreachable"):
            return dict(_empty_host(UNREACHABLE, _with_advice(_message(gathered))), launches=0)
        if gathered.get("failed"):
            return dict(_empty_host(ERROR, _with_advice(_message(gathered))), launches=int(gathered.get("launches") or 0))
        now, before, receive = self.now, gathered["ansible_facts"]["exchange_tls"], self.run.get("receive")
        scope = self.run.get("scope")
        self.before, self.scope = before, scope
        errors: List[str] = []
        findings = [_finding(f, self._finding_in_scope(f), self._exempt_of(f)) for f in now.get("findings") or []
                    if f["object_type"] not in ORGANIZATION_TYPES]
        probes, probe_findings = self._probes()
        findings.extend(probe_findings)
        plan_result = self.run.get("receive_plan")
        plans = [_plan(d) for d in (plan_result or {}).get("plans") or [] if _in_scope(d["object"], scope)]
        if _ran(plan_result) and plan_result.get("failed") and not plan_result.get("plans"):
            errors.append("deciding the receive connectors failed: " + _message(plan_result))
        changes = [_change(c) for c in (receive or {}).get("changes") or []] if _ran(receive) and not self.check_mode else []
        if _failed(receive):
            errors.append(("the remediation stopped: " if not receive.get("unreachable") else "the host became unreachable: ")
                          + _with_advice(_message(receive)))
        restarts = []
        for restart in self.run.get("restarts") or []:
            if not _ran(restart):
                continue
            restarts.append({"service": restart.get("service"), "reason": restart.get("reason")})
            if _failed(restart):
                errors.append(f"restarting {restart.get('service')} failed: {_message(restart)}")
        launches = sum(int((r or {}).get("launches") or 0) for r in (gathered, receive))
        launches += sum(1 for r in self.run.get("restarts") or [] if _ran(r) and not r.get("unreachable"))
        connectors = self._connectors(plans, changes, errors)
        blocked = [p for p in plans if p["status"] == "blocked"]
        statuses = [c["status"] for c in connectors if c["status"] not in ("out_of_scope", "disabled", EXEMPT)]
        # Connector findings count through their connector's status; probe findings just below.
        statuses += [DRIFT for f in findings if counts(f) and f["object_type"] != "receive_connector"]
        if any(f["code"] in PROBE_CODES for f in findings):
            statuses.append(ERROR if self._remediating() or any(f["code"] == "smtp_probe_failed" for f in findings) else DRIFT)
        if any(f["code"] == "starttls_probe_other_connector" for f in findings):
            # The connector hybrid mail depends on was not proven: unknown, which is not compliant.
            statuses.append(DRIFT)
        if errors:
            statuses.append(ERROR)
        status = worst(statuses)
        if status == COMPLIANT and changes:
            status = REMEDIATED
        message = None
        if errors:
            message = "; ".join(errors)
        elif status == BLOCKED:
            message = "; ".join(f"{p['object']}: {p['reason']}" for p in blocked) or None
        elif any(f["code"] in PROBE_CODES for f in findings):
            message = next(f["message"] for f in findings if f["code"] in PROBE_CODES)
        elif any(f["code"] == "starttls_probe_other_connector" for f in findings):
            message = next(f["message"] for f in findings if f["code"] == "starttls_probe_other_connector")
        server = now["server"]
        return {
            "status": status, "message": message,
            "server": {k: server.get(k) for k in ("name", "fqdn", "role", "version")},
            "launches": launches, "findings": findings, "connectors": connectors,
            "certificates": self._certificates(findings), "plans": plans, "changes": changes,
            "probe": probes, "restarts": restarts,
        }

    def _remediating(self) -> bool:
        return self.mode == "remediate" and not self.check_mode

    def _exempt_of(self, f: dict) -> Optional[str]:
        return exempt_reason(self.exempt, f["object"]) if f["object_type"] in _EXEMPTABLE else None

    def _finding_in_scope(self, f: dict) -> bool:
        return f["object_type"] != "receive_connector" or _in_scope(f["object"], self.scope)

    def _probes(self):
        entries, problems = [], []
        ran = [p for p in self.run.get("probes") or [] if _ran(p) and not p.get("unreachable")]
        # Where the probe came from as the server sees it (smtp_tls_probe's seen_as, else its socket's address).
        source = next((p.get("source_address") for p in reversed(ran) if p.get("source_address")), None)
        target = probe_target(self.now, source)
        for probe in ran:
            entries.append(_probe_entry(probe, target))
        # The last probe is the verdict: an earlier one may predate the restart that fixed it.
        if entries:
            last = [p for p in self.run.get("probes") or [] if _ran(p)][-1]
            for check in (probe_problem, probe_reach_problem, probe_tls_problem):
                problem = check(last, target)
                if problem:
                    problems.append(problem)
        return entries, problems

    def _connectors(self, plans: List[dict], changes: List[dict], errors: List[str]) -> List[dict]:
        before = {c["identity"]: c for c in self.before["receive_connectors"]}
        planned = {p["object"]: p for p in plans}
        changed = {c["object"] for c in changes if c["object_type"] == "receive_connector"}
        changed_certificates = {c["object"] for c in changes if c["object_type"] == "certificate"}
        result = []
        for c in self.now["receive_connectors"]:
            identity = c["identity"]
            own = [f for f in self.now.get("findings") or [] if f["object_type"] == "receive_connector" and f["object"] == identity]
            in_scope = _in_scope(identity, self.scope)
            plan = planned.get(identity)
            reason = exempt_reason(self.exempt, identity)
            if not in_scope:
                status = "out_of_scope"
            elif reason:
                status = EXEMPT
            elif not c.get("enabled", True):
                status = "disabled"
            elif plan and plan["status"] == "blocked":
                status = BLOCKED
            elif any(drifts(f) for f in own):
                status = ERROR if errors and plan and plan["status"] == "change" else DRIFT
            elif identity in changed or (c.get("selected_certificate") in changed_certificates):
                status = REMEDIATED
            else:
                status = COMPLIANT
            result.append({
                **({"exempt": reason} if reason and in_scope else {}),
                "identity": identity, "in_scope": in_scope, "enabled": bool(c.get("enabled", True)),
                "ports": list(c.get("ports") or []), "status": status,
                "tls_certificate_name": {"before": (before.get(identity) or c).get("tls_certificate_name"),
                                         "after": c.get("tls_certificate_name")},
                "selected_certificate": c.get("selected_certificate"),
                "starttls_offered": bool(c.get("starttls_offered")),
                "findings": sorted({f["code"] for f in own}),
            })
        return result

    def _certificates(self, findings: List[dict]) -> List[dict]:
        used: Dict[str, List[str]] = {}
        for c in self.now["receive_connectors"]:
            if c.get("selected_certificate"):
                used.setdefault(c["selected_certificate"], []).append(c["identity"])
        for c in self.now["send_connectors"]:
            if c.get("selected_certificate") and c.get("this_server_is_source"):
                used.setdefault(c["selected_certificate"], []).append(c["name"])
        internal = self.now.get("internal_transport_certificate")
        result = []
        for cert in self.now["certificates"]:
            thumbprint = cert["thumbprint"]
            users = used.get(thumbprint, [])
            own = [f for f in findings if not f.get("exempt") and (
                (f["code"] in _CERTIFICATE_CODES and f["object"] in users)
                or (f["code"].startswith("internal_transport_certificate") and f.get("current") == thumbprint)
                or (f["object_type"] == "certificate" and thumbprint in f["certificates"]))]
            severities = {f["severity"] for f in own}
            result.append({
                "thumbprint": thumbprint, "subject": cert.get("subject"), "issuer": cert.get("issuer"),
                "not_after": cert.get("not_after"), "days_remaining": cert.get("days_remaining"),
                "domains": list(cert.get("domains") or []),
                "services": cert.get("services") if isinstance(cert.get("services"), list) else "unknown",
                "used_by": users, "checked": bool(users or own or thumbprint == internal),
                "status": "error" if "error" in severities else ("warning" if "warning" in severities else COMPLIANT),
                "findings": sorted({f["code"] for f in own}),
            })
        return result
