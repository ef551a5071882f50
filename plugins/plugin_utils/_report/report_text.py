# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines role connector_tls prints at the end of every run, from report.json's dict.

A person running the playbook reads the terminal first: which server and which
object is wrong, what the run changed (was, now), what a sending server sees on
port 25 before and after, and where the reports are. report.html says the same
at length; these lines are what fits a terminal or an AWX job log.
"""

from __future__ import annotations

from typing import List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import findings as _findings
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import probe_findings, verdicts

__all__ = ["summary_lines"]


def _meaning(code: str) -> str:
    known = _findings.CODES.get(code)
    return known[1] if known else probe_findings.PROBE_CODES.get(code, code)


def _wrong(found: list) -> list:
    """What needs acting on: errors, and warnings with a proposed fix (the remediation's own rule), unless exempted."""
    return [f for f in found if verdicts.counts(f)]


def _name(value: Optional[str]) -> str:
    return "(none)" if value is None else str(value)


def _change(c: dict) -> List[str]:
    if c.get("property") == "Services":
        added = sorted(set(c.get("after") or []) - set(c.get("before") or []))
        return [f"enabled {', '.join(added) or 'nothing new'} on certificate {c['object']} (the default SMTP certificate was kept)"]
    what = c["object"] if c.get("object_type") != "hybrid_configuration" else "the hybrid configuration"
    return [f"{what}: {c.get('property')}", f"was {_name(c.get('before'))}", f"now {_name(c.get('after'))}"]


def _probe(p: dict) -> str:
    if not p.get("connected"):
        return "unknown (the probe could not connect: " + str(p.get("error") or "no answer").rstrip(".") + ")"
    if not p.get("starttls_offered"):
        return "NOT offered"
    if p.get("thumbprint"):
        return f"offered, certificate {p['thumbprint']}"
    return "offered, handshake failed"


def summary_lines(report: dict, dest: Optional[str] = None) -> List[str]:
    """What was wrong, what changed, STARTTLS per probe phase, the verdict and the report paths."""
    audit = report.get("mode") == "audit" or report.get("check_mode")
    lines = list(f"PROBLEM: {p}" for p in report.get("problems") or [])
    lines.append("What is wrong:" if audit else "What is still wrong after this run:")
    anything = False
    for host, entry in (report.get("hosts") or {}).items():
        found = _wrong(entry.get("findings") or [])
        if entry.get("status") in ("unreachable", "error", "blocked") and entry.get("message"):
            lines.append(f"  {host}: {entry['status']}: {entry['message']}")
            anything = True
        elif found or entry.get("status") not in ("compliant", "remediated"):
            lines.append(f"  {host}: {entry.get('status')}")
            anything = True
        for f in found:
            lines.append(f"    - {f['object']}: {_meaning(f['code'])} ({f['code']}; it names {_name(f.get('current'))})")
    org = report.get("organization") or {}
    if org.get("status") not in (None, "compliant", "remediated"):
        lines.append(f"  organisation: {org['status']}" + (f": {org['message']}" if org.get("message") else ""))
        anything = True
    for f in _wrong(org.get("findings") or []):
        lines.append(f"    - {f['object']}: {_meaning(f['code'])} (seen from {', '.join(f.get('servers') or [])})")
        anything = True
    if not anything:
        lines.append("  nothing: every host read is compliant" if audit else "  nothing")
    exempt = {(host, c["identity"]): c["exempt"] for host, e in (report.get("hosts") or {}).items()
              for c in e.get("connectors") or [] if c.get("exempt")}
    exempt.update({("organisation", f["object"]): f["exempt"] for f in org.get("findings") or [] if f.get("exempt")})
    exempt.update({("organisation", p["object"]): p["reason"] for p in org.get("plans") or [] if p.get("status") == "exempt"})
    if exempt:
        lines.append("Exempt (connector_tls_exempt; not counted as drift):")
        lines.extend(f"  {host}: {obj}: {str(why).replace('exempt: ', '', 1)}" for (host, obj), why in exempt.items())
    if not audit:
        lines.append("What this run changed (guarded writes, read back; changes.json):")
        changes = [(h, c) for h, e in (report.get("hosts") or {}).items() for c in e.get("changes") or []]
        changes += [("organisation", c) for c in org.get("changes") or []]
        for host, c in changes:
            first, *rest = _change(c)
            lines.append(f"  {host}: {first}")
            lines.extend(f"      {line}" for line in rest)
        for host, entry in (report.get("hosts") or {}).items():
            for r in entry.get("restarts") or []:
                lines.append(f"  {host}: restarted {r.get('service')} ({r.get('reason')})")
        if not changes:
            lines.append("  nothing")
    lines.append("STARTTLS on port 25, as a sending server sees it (SMTP probe from the controller):")
    probed = False
    for host, entry in (report.get("hosts") or {}).items():
        phases = [f"{p.get('phase')}: {_probe(p)}" for p in entry.get("probe") or []]
        if phases:
            lines.append(f"  {host}: " + "; ".join(phases))
            probed = True
    if not probed:
        lines.append("  not probed")
    lines.append(f"Verdict: {report.get('status')} (organisation: {org.get('status')}); hosts: " + ", ".join(
        f"{n} {s}" for s, n in (report.get("summary") or {}).items() if s != "hosts" and n))
    if dest:
        lines.append(f"Reports: {dest}/report.html (open in a browser), report.json, junit.xml, changes.json")
    return lines
