# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_certificate_impact: what a candidate certificate would change and break, decided once on the controller."""

from __future__ import annotations

import datetime as dt
import json
import os

from ansible.plugins.action import ActionBase

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import impact_html, report_junit, run_dir
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError, parse_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact import analysis
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact.candidate import (
    CandidateError,
    candidate_from_facts,
    load_candidate,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge_action import facts_from
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import checked_args

ARGUMENT_SPEC = {
    "candidate": {"type": "path"},
    "candidate_password": {"type": "str", "no_log": True},
    "candidate_thumbprint": {"type": "str"},
    "candidate_trust": {"type": "path"},
    "exo_inbound_domain": {"type": "str"},
    "expiring_days": {"type": "int", "default": 30},
    "hosts": {"type": "list", "elements": "str"},
    "report_dir": {"type": "path"},
    "validate_only": {"type": "bool", "default": False},
    "fail_on_breaking": {"type": "bool", "default": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        args = checked_args(self, ARGUMENT_SPEC)
        try:
            candidate = _candidate_from_file(args) if args["candidate"] is not None else None
            thumbprint = _thumbprint_option(args, candidate)
            if not 0 <= args["expiring_days"] <= 3650:
                raise CandidateError(f"expiring_days must be between 0 and 3650, got {args['expiring_days']}")
            domain = args["exo_inbound_domain"]
            if domain is not None and (not tls_name.is_smtp_domain(domain) or domain.startswith(("*", "["))):
                raise CandidateError(f"connector_tls_exo_inbound_domain {domain!r} is not a domain name; give the domain Microsoft 365's"
                                     " inbound connector from on-premises expects (its TlsSenderCertificateName), e.g. mail.contoso.com")
        except CandidateError as exc:
            return dict(result, failed=True, msg=str(exc))
        if args["validate_only"]:
            # The playbook's first task: a bad candidate stops the run before any server is contacted.
            shown = candidate.as_dict() if candidate else {"thumbprint": thumbprint}
            return dict(result, candidate=shown, msg=f"candidate {shown['thumbprint']} is readable")
        hosts = args["hosts"] if args["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        fleet, unread = _fleet(task_vars, hosts)
        if candidate is None:
            candidate = _candidate_in_fleet(thumbprint, fleet)
            if candidate is None:
                return dict(result, failed=True, msg=(
                    f"connector_tls_candidate_thumbprint {thumbprint} is in the certificate store of no gathered server"
                    f" ({', '.join(sorted(fleet)) or 'none gathered'}); give the thumbprint of a certificate that"
                    " Get-ExchangeCertificate lists on one of them, or the certificate file as connector_tls_candidate"))
        now = dt.datetime.now(dt.timezone.utc)
        doc = analysis.analyse(fleet, candidate, now=now.replace(microsecond=0), expiring_days=args["expiring_days"],
                               exo_inbound_domain=args["exo_inbound_domain"], unread_hosts=unread)
        result.update(impact=doc, breaks_mail=analysis.breaks_mail(doc), lines=summary_lines(doc))
        if args["report_dir"]:
            try:
                result.update(_write_reports(args["report_dir"], doc, now))
            except OSError as exc:
                return dict(result, failed=True, msg=(
                    f"cannot write the impact reports to {args['report_dir']} (option report_dir): {exc};"
                    " it must be a directory this controller can create and write"))
        if result["breaks_mail"] and args["fail_on_breaking"]:
            errors = [f for f in doc["findings"] if f["severity"] == analysis.ERROR]
            result.update(failed=True, msg="the candidate would break mail: " + "; ".join(f"{f['code']}: {f['message']}" for f in errors))
        return result


def _candidate_from_file(args: dict):
    trust = None
    if args["candidate_trust"] is not None:
        try:
            with open(args["candidate_trust"], "rb") as handle:
                trust = handle.read()
        except OSError as exc:
            raise CandidateError(f"connector_tls_candidate_trust {args['candidate_trust']!r} cannot be read ({exc.strerror});"
                                 " give a PEM bundle of root certificates on the controller") from None
    return load_candidate(path=args["candidate"], password=args["candidate_password"], trust_pem=trust)


def _thumbprint_option(args: dict, candidate):
    given = args["candidate_thumbprint"]
    if candidate is None and given is None:
        raise CandidateError("give connector_tls_candidate (a PEM, DER or PKCS#12 file on the controller) or"
                             " connector_tls_candidate_thumbprint (a certificate already in a server's store)")
    if given is None:
        return candidate.thumbprint
    try:
        thumbprint = parse_thumbprint(given)
    except PlanError:
        raise CandidateError(f"connector_tls_candidate_thumbprint must be a certificate thumbprint (40 hexadecimal characters,"
                             f" spaces allowed), got {given!r}") from None
    if candidate is not None and thumbprint != candidate.thumbprint:
        raise CandidateError(f"connector_tls_candidate_thumbprint {thumbprint} is not the thumbprint of connector_tls_candidate"
                             f" ({candidate.thumbprint}); give one of them")
    return thumbprint


def _fleet(task_vars: dict, hosts: list) -> tuple:
    """(host -> exchange_tls facts, host -> why it has none) for the hosts analysed."""
    hostvars = task_vars.get("hostvars") or {}
    fleet, unread = {}, {}
    for host in hosts:
        value = ((hostvars.get(host) or {}).get("ansible_facts") or {}).get("exchange_tls")
        if value is None:
            unread[host] = "no exchange_tls facts were gathered (unreachable, or exchange_certificate_facts failed)"
            continue
        try:
            fleet[host] = facts_from(value, option=f"hostvars[{host!r}].exchange_tls")
        except ValueError as exc:
            unread[host] = str(exc)
    return fleet, unread


def _candidate_in_fleet(thumbprint: str, fleet: dict):
    for host in sorted(fleet):
        for cert in fleet[host].get("certificates") or []:
            if str(cert.get("thumbprint") or "").upper() == thumbprint:
                return candidate_from_facts(cert)
    return None


def summary_lines(doc: dict) -> list:
    """The terminal summary: the candidate's name, what changes where, and every finding."""
    cand = doc["candidate"]
    lines = [f"candidate {cand['thumbprint']}: {cand['tls_certificate_name']}", f"  domains: {', '.join(cand['domains']) or '(none)'}"]
    for action in analysis.ACTIONS:
        objects = [o for o in doc["objects"] if o["action"] == action]
        for obj in objects:
            lines.append(f"  {action}: {obj['host']} {obj['object_type']} {obj['object']}: {obj['current']} -> {obj['after']}")
    for finding in doc["findings"]:
        lines.append(f"  [{finding['severity']}] {finding['code']}: {finding['message']}")
    lines.append("  would break mail: " + ("YES" if doc["summary"]["breaks_mail"] else "no"))
    return lines


def _write_reports(report_dir: str, doc: dict, now: dt.datetime) -> dict:
    report_dir = os.path.abspath(report_dir)
    run_id = run_dir.create(report_dir, now)
    dest = os.path.join(report_dir, run_id)
    files = {
        "impact.json": json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
        "report.html": impact_html.render_impact(doc),
        "junit.xml": report_junit.render_impact(doc),
    }
    for name, text in files.items():
        run_dir.write_atomically(dest, name, text)
    run_dir.point_latest(report_dir, run_id)
    return {"dest": dest, "run_id": run_id, "report_dir": report_dir, "files": [os.path.join(dest, n) for n in files]}
