# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary of the fleet report's verdicts (see report.py): the statuses and their order, what a registered
result says (ran, failed, its message and what to do about it), which findings count, and how plans, changes and the
connector scope are recorded. Pure Python: no Ansible imports.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional

COMPLIANT, DRIFT, REMEDIATED, BLOCKED, ERROR, UNREACHABLE = (
    "compliant", "drift", "remediated", "blocked", "error", "unreachable")
HOST_STATUSES = (COMPLIANT, DRIFT, REMEDIATED, BLOCKED, ERROR, UNREACHABLE)
_RANK = {COMPLIANT: 0, REMEDIATED: 1, DRIFT: 2, BLOCKED: 3, ERROR: 4, UNREACHABLE: 4}
ORGANIZATION_TYPES = ("send_connector", "hybrid_configuration")
# What connector_tls_exempt can name, and the status it gives them in the report (findings.EXEMPT).
_EXEMPTABLE = ("receive_connector", "send_connector", "hybrid_configuration")
EXEMPT = "exempt"


def worst(statuses: Iterable[str]) -> str:
    found = list(statuses)
    return max(found, key=lambda s: _RANK[s]) if found else COMPLIANT


def _ok(result: Optional[dict]) -> bool:
    """A registered result of a task that ran and did not fail."""
    return bool(result) and not result.get("skipped") and not result.get("failed") and not result.get("unreachable")


def _ran(result: Optional[dict]) -> bool:
    return bool(result) and not result.get("skipped")


def _failed(result: Optional[dict]) -> bool:
    """A task that ran and failed, or lost its host (ignore_unreachable registers no 'failed')."""
    return _ran(result) and bool(result.get("failed") or result.get("unreachable"))


def _message(result: dict) -> str:
    return str(result.get("msg") or result.get("message") or "the task failed without a message").strip()


# What to do about a failure the message alone does not say how to act on: (texts that identify it, advice).
# Only failures recognised by their text get advice; Exchange's session and guard messages carry their own.
_ADVICE = (
    (("credentials were rejected", "HTTP 401", "Code 401"),
     "Check this host's WinRM credentials (ansible_user and ansible_password, or the Kerberos ticket) and run again."),
    (("Code 500", "WS-Management service cannot process the request"),
     "The WinRM service of the server failed the request (HTTP 500): check the server's WinRM service and its event log,"
     " then run again."),
    (("Connection reset", "Connection aborted"),
     "The connection to the server's WinRM port was cut (a WinRM restart, a firewall or a load balancer): run again;"
     " if it persists, check the network path to that port."),
    (("Read timed out", "read timeout="),
     "The server did not answer within ansible_winrm_read_timeout_sec: check that it is up and not overloaded (or raise"
     " that timeout), then run again."),
    (("Insufficient access rights",),
     "The account running the play lacks the Exchange permission for the cmdlet named: give it an RBAC role that"
     " allows it (for example Organization Management), then run again."),
    (("change in the current set of domain controllers",),
     "Exchange lost its domain controller during the call, which is usually transient: run again."),
    # Unreachable before any WinRM exchange: the address, the port or the path to it, not the server's software.
    (("Connection refused", "NewConnectionError", "Failed to establish a new connection"),
     "Nothing accepted the connection on this host's WinRM port: check ansible_host and ansible_port (5985 for http,"
     " 5986 for https) in the inventory, that the WinRM service listens there (winrm enumerate winrm/config/listener),"
     " and that no firewall between the controller and the server blocks it, then run again."),
    (("ConnectTimeout", "Connection timed out", "connect timeout="),
     "The controller got no answer from this host's WinRM port: check that the server is up, that ansible_host resolves"
     " to it from the controller, and that the firewall lets the controller in on 5985/5986, then run again."),
    (("Name or service not known", "nodename nor servname", "getaddrinfo failed", "No address associated"),
     "The controller cannot resolve this host's name: check ansible_host in the inventory and the controller's DNS,"
     " then run again."),
)


def _with_advice(message: str) -> str:
    """``message``, followed by what to do when its failure is one of the recognised kinds."""
    for texts, advice in _ADVICE:
        if any(t.lower() in message.lower() for t in texts):
            return message if message.endswith(advice) else message.rstrip() + " " + advice
    return message


def drifts(finding: dict) -> bool:
    """A finding that makes its object drift: an error, or a warning a converging module would fix."""
    return finding["severity"] == "error" or bool(finding.get("expected"))


def _finding(f: dict, in_scope: bool = True, exempt: Optional[str] = None) -> dict:
    entry = {
        "code": f["code"], "severity": f["severity"], "object_type": f["object_type"], "object": f["object"],
        "message": f["message"], "current": f.get("current"), "expected": f.get("expected"),
        "certificates": list(f.get("certificates") or []), "in_scope": in_scope,
    }
    if exempt:
        entry["exempt"] = exempt
    return entry


def counts(finding: dict) -> bool:
    """A finding that makes its host or the organisation drift: in scope, not exempted by the user, and drifting."""
    return finding.get("in_scope", True) and not finding.get("exempt") and drifts(finding)


def exempt_reason(exempt: Optional[Dict[str, str]], obj: Optional[str]) -> Optional[str]:
    """The user's reason for exempting ``obj`` (connector_tls_exempt, keys compared without case), or None."""
    return {str(k).strip().lower(): v for k, v in (exempt or {}).items()}.get(str(obj or "").strip().lower())


def _plan(d: dict) -> dict:
    plan = {k: d.get(k) for k in ("object_type", "object", "status", "current", "expected", "reason")}
    sources = (d.get("details") or {}).get("source_servers") or d.get("source_servers")
    if sources:
        plan["source_servers"] = sources
    return plan


def _change(c: dict) -> dict:
    return {k: c.get(k) for k in ("object_type", "object", "property", "before", "after", "server")}


def change_key(c: dict) -> tuple:
    """One property of one object: certificates and transport services are per server, connectors are not."""
    where = (c.get("server") or "").lower() if c["object_type"] in ("certificate", "transport_service") else ""
    return c["object_type"], c["object"].lower(), c["property"], where


def _in_scope(identity: str, scope: Optional[List[str]]) -> bool:
    return scope is None or identity.lower() in {s.lower() for s in scope}


def _org_scope(plan_result: Optional[dict], scope: Optional[List[str]]):
    """Whether an organisation object is in scope: send connectors by name; the hybrid configuration follows them."""
    sends = [d["object"] for d in (plan_result or {}).get("plans") or [] if d["object_type"] == "send_connector"]
    any_send = scope is None or any(_in_scope(name, scope) for name in sends)

    def in_scope(object_type: str, obj: str) -> bool:
        if object_type == "send_connector":
            return _in_scope(obj, scope)
        return object_type != "hybrid_configuration" or any_send
    return in_scope
