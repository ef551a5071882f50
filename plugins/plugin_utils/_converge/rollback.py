# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undoing a run from its changes.json: the guarded batch that puts the ``before`` values back.

The connector_tls role writes changes.json (schema
``exchange.transport_tls/changes/v1``): every change a run made, with the
value before and after and whether it was applied. playbooks/rollback.yml
puts the ``before`` values of the applied changes back, host by host, and
this module decides how, with the same rules as the converging modules
(converge.py):

* every write is guarded by a read of the same object in the same batch, and
  the guard is the ``after`` value the run left: a live value that is no
  longer ``after`` means someone changed the object since, and then nothing
  on that host is written (all guards come before all writes);
* the writes go newest first, and each is read back;
* in check mode only the guards run (exchange_command refuses anything but
  ``Get-*`` in check mode), so a check run says whether a rollback would be
  allowed.

What cannot be undone is said, not attempted: SMTP enabled on a certificate
(``Services``) stays, because Enable-ExchangeCertificate only adds services
and no cmdlet of exchange_command's allow-list removes one. A changed default
SMTP certificate (``InternalTransportCertificateThumbprint``) is put back the
only way Exchange has, ``Enable-ExchangeCertificate -Services SMTP -Force`` on
the previous one, guarded by Get-TransportService and by a read of that
certificate, so a certificate that is gone stops the batch before any write.

Pure Python: no Ansible imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name
from ansible_collections.exchange.transport_tls.plugins.module_utils.thumbprint import is_thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    READ,
    SET,
    guard_id,
    readback_id,
    same_name,
    sentence,
    shown,
    step,
    step_id,
    step_object,
    steps_by_id,
    stopped_at,
)

SCHEMA = "exchange.transport_tls/changes/v1"
APPLIED = "applied"
STATUSES = ("planned", "attempted", "applied", "not_applied", "unknown")
# What may have been written: applied, and entries whose write was launched but never settled (the run died, or the
# reply was lost). All three are restored only where the object still holds ``after``; the read says which.
RESTORABLE = ("applied", "attempted", "unknown")
TLS_NAME = "TlsCertificateName"
SERVICES = "Services"
DEFAULT_SMTP = "InternalTransportCertificateThumbprint"
# What each object type's change is about: the property it may carry.
PROPERTIES = {
    "receive_connector": TLS_NAME,
    "send_connector": TLS_NAME,
    "hybrid_configuration": TLS_NAME,
    "certificate": SERVICES,
    "transport_service": DEFAULT_SMTP,
    "service": "Restart",
    # The rollout (plugin_utils/_rollout/plan.py): a certificate imported ("absent" -> "present") or removed.
    "certificate_store": "InStore",
}
# Objects on one server (the entry's ``server`` is where they live): their host must be that server.
_LOCAL = ("receive_connector", "certificate", "transport_service", "service", "certificate_store")
_SERVICES = ("MSExchangeFrontEndTransport", "MSExchangeTransport")
_RUN_ID = re.compile(r"\A[0-9]{8}T[0-9]{6}\.[0-9]{3}Z(?:-[0-9]{1,4})?\Z")
REQUIRED = ("host", "server", "object_type", "object", "property", "before", "after", "status")
_READ = {"receive_connector": "Get-ReceiveConnector", "send_connector": "Get-SendConnector",
         "hybrid_configuration": "Get-HybridConfiguration", "transport_service": "Get-TransportService"}
_WRITE = {"receive_connector": "Set-ReceiveConnector", "send_connector": "Set-SendConnector",
          "hybrid_configuration": "Set-HybridConfiguration", "transport_service": "Enable-ExchangeCertificate"}
_WORDS = {"receive_connector": "receive connector", "send_connector": "send connector",
          "hybrid_configuration": "hybrid configuration", "transport_service": "default SMTP certificate of",
          "certificate": "certificate", "service": "service"}


# --------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------


def validate(changes_doc: Any) -> None:
    """ValueError, saying what is wrong and where, unless ``changes_doc`` is a changes.json document."""
    if not isinstance(changes_doc, dict):
        raise ValueError(f"the changes file must hold a JSON object with schema {SCHEMA!r}, not {type(changes_doc).__name__}")
    schema = changes_doc.get("schema")
    if schema != SCHEMA:
        raise ValueError(
            f"the changes file's schema is {schema!r}, but a rollback reads {SCHEMA!r} (the changes.json the"
            " connector_tls role writes; report.json is not a changes file)"
        )
    changes = changes_doc.get("changes")
    if not isinstance(changes, list):
        raise ValueError(f"the changes file has no list 'changes' (it has {_keys(changes_doc)})")
    run_id = changes_doc.get("run_id")
    if run_id is not None and not (isinstance(run_id, str) and _RUN_ID.match(run_id)):
        raise ValueError(f"the changes file's run_id {run_id!r} is not a run id (like '20261207T233904.123Z')")
    problems = []
    for index, change in enumerate(changes):
        problem = _change_problem(change)
        if problem:
            problems.append(f"changes[{index}] {problem}")
    if not problems:
        problems = _consistency_problems(changes)
    if problems:
        listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"the changes file is not valid: {listed}")


def _keys(value: dict) -> str:
    return ", ".join(sorted(str(k) for k in value)) or "no keys"


def _change_problem(change: Any) -> Optional[str]:
    if not isinstance(change, dict):
        return f"is {type(change).__name__}, not an object"
    missing = [k for k in REQUIRED if k not in change]
    if missing:
        return f"lacks {', '.join(missing)}"
    for key in ("host", "object", "object_type", "property", "status"):
        if not isinstance(change[key], str) or not change[key]:
            return f"has {key} {change[key]!r}, not a non-empty string"
    if change["server"] is not None and not isinstance(change["server"], str):
        return f"has server {change['server']!r}, not a string or null"
    object_type, prop = change["object_type"], change["property"]
    if object_type not in PROPERTIES:
        return f"has the unknown object_type {object_type!r} (known: {', '.join(PROPERTIES)})"
    if prop != PROPERTIES[object_type]:
        return f"changes {prop!r} of a {object_type}, which only ever changes {PROPERTIES[object_type]}"
    if change["status"] not in STATUSES:
        return f"has the unknown status {change['status']!r} (known: {', '.join(STATUSES)})"
    for key in ("before", "after"):
        value = change[key]
        if prop == SERVICES:
            if not (value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                return f"has {key} {value!r}, not a list of service names, a string or null"
        elif value is not None and not isinstance(value, str):
            return f"has {key} {value!r}, not a string or null"
    if object_type in _LOCAL and not change["server"]:
        return f"({object_type} {change['object']!r}) has no server, which a {object_type} change needs"
    return _shape_problem(change)


def _where(change: dict) -> str:
    return f"(host {change['host']}, {change['object_type']} {change['object']!r})"


def _shape_problem(change: dict) -> Optional[str]:
    """Values and objects of the shape the role records, so no entry can make a rollback write something else."""
    object_type, obj, server = change["object_type"], change["object"], change["server"]
    if object_type == "receive_connector":
        owner, sep, name = obj.partition("\\")
        if not sep or not owner or not name:
            return f"{_where(change)} is not SERVER\\Name, the identity the role records for a receive connector"
        if owner.casefold() != server.casefold():
            return (f"{_where(change)} is a connector of server {owner}, but the entry's server is {server}: a host"
                    " restores only its own server's connectors")
    if object_type in ("certificate", "certificate_store") and not is_thumbprint(obj):
        return f"{_where(change)} is not a certificate thumbprint (40 hexadecimal digits)"
    if object_type == "transport_service" and obj.casefold() != server.casefold():
        return f"{_where(change)} is the transport service of {obj}, but the entry's server is {server}"
    if object_type == "service":
        if obj not in _SERVICES:
            return f"{_where(change)} is not a transport service ({', '.join(_SERVICES)})"
        if change["before"] is not None or change["after"] is not None:
            return f"{_where(change)} is a restart, which records no before or after value (null)"
    for key in ("before", "after"):
        value = change[key]
        if value is None:
            continue
        if change["property"] == TLS_NAME:
            try:
                tls_name.split_tls_certificate_name(value)
            except ValueError:
                return f"{_where(change)} has {key} {value!r}, which is not a TlsCertificateName (<I>issuer<S>subject)"
        elif change["property"] == DEFAULT_SMTP and not is_thumbprint(value):
            return f"{_where(change)} has {key} {value!r}, not a certificate thumbprint (40 hexadecimal digits)"
    return None


def _consistency_problems(changes: List[dict]) -> List[str]:
    """Each host on one server and each server on one host: a host never writes on another's objects."""
    server_of: Dict[str, str] = {}
    host_of: Dict[str, str] = {}
    problems = []
    for index, change in enumerate(changes):
        server = change["server"]
        if not server:
            continue
        host, folded = change["host"], server.casefold()
        known = server_of.setdefault(host, folded)
        owner = host_of.setdefault(folded, host)
        if known != folded:
            problems.append(f"changes[{index}] {_where(change)} is on server {server}, but host {host}'s other entries are"
                            f" on another server: a host restores only its own server's objects")
        elif owner != host:
            problems.append(f"changes[{index}] {_where(change)} puts server {server} under host {host}, but host {owner}'s"
                            " entries are on it too")
    return problems


def server_of(changes_doc: dict, host: str) -> Optional[str]:
    """The Exchange server the record puts ``host``'s entries on (None: no entry names one)."""
    return next((c["server"] for c in changes_doc["changes"] if c["host"] == host and c["server"]), None)


def _of_host(changes_doc: dict, host: str) -> List[tuple]:
    """(position in the file, change) of the changes of ``host`` that may have been written, oldest first (the file's order)."""
    return [(i, c) for i, c in enumerate(changes_doc["changes"]) if c["host"] == host and c["status"] in RESTORABLE]


# --------------------------------------------------------------------------
# What to restore
# --------------------------------------------------------------------------


@dataclass
class Target:
    """One object's property to put back: from ``after`` (the guard) to ``before``."""

    object_type: str
    object: str
    property: str
    server: Optional[str]
    before: Any      # the value to put back: the oldest change's before
    after: Any       # the value the run left: the newest change's after
    changes: List[dict]

    @property
    def key(self) -> str:
        """The object in step ids (converge.guard_id/readback_id)."""
        if self.object_type == "transport_service":
            return self.server or self.object
        return self.object

    def as_dict(self) -> dict:
        return {"object_type": self.object_type, "object": self.object, "property": self.property,
                "server": self.server, "before": self.before, "after": self.after}


def _server(change: dict) -> Optional[str]:
    if change["object_type"] == "transport_service":
        return change.get("server") or change["object"]
    return change.get("server")


def not_reversible(changes_doc: dict, host: str) -> List[dict]:
    """The applied changes of ``host`` a rollback cannot undo, each as {change, reason}."""
    validate(changes_doc)
    skipped = []
    imported = {c["object"].upper() for c in imports(changes_doc, host)}
    for _position, change in _of_host(changes_doc, host):
        reason = _why_not(change, imported)
        if reason:
            skipped.append({"change": change, "reason": reason})
    return skipped


def _why_not(change: dict, imported: frozenset = frozenset()) -> Optional[str]:
    if change["object_type"] == "service":
        return (f"the restart of {change['object']} on {change.get('server')} has nothing to undo; the rollback restarts"
                " nothing (restart that service by hand if the probe after the rollback shows the old certificate).")
    if change["object_type"] == "certificate_store":
        if change["after"] == "present":
            return None       # an import: imports() lists it, and the rollback action removes it where nothing needs it
        if change["after"] == "absent":
            return (f"the removal of certificate {change['object']} from {change.get('server')} cannot be undone:"
                    " Remove-ExchangeCertificate deleted it and its private key; only an import of the same PKCS#12 file"
                    " brings it back.")
        return f"certificate {change['object']} on {change.get('server')} has the unknown InStore {change['after']!r}."
    if change["property"] == SERVICES:
        added = [s for s in _services(change["after"]) if s not in _services(change["before"])]
        what = ", ".join(added) or "the added services"
        if change["object"].upper() in imported:
            return (f"{what} enabled on certificate {change['object']} on {change.get('server')} goes with the certificate"
                    " if the rollback removes the run's import of it (see imports_removed and imports_kept).")
        return (
            f"{what} stays enabled on certificate {change['object']} on {change.get('server')}: Enable-ExchangeCertificate"
            " only adds services, and none of the cmdlets exchange_command allows removes one"
            f" (services before: {_text(change['before'])}; after: {_text(change['after'])})."
        )
    if change["property"] == DEFAULT_SMTP and not change["before"]:
        return (f"{_server(change)} had no default SMTP certificate before the run, and Exchange cannot be set back"
                " to having none.")
    return None


def imports(changes_doc: dict, host: str) -> List[dict]:
    """The certificates the record says the run imported on ``host``'s server (one entry per thumbprint, oldest first).

    Undone after the names (which point back at the previous certificate first), only where nothing needs them: the
    rollback action decides that with the retire's rules (plugin_utils/_rollout/plan.py).
    """
    validate(changes_doc)
    found: Dict[str, dict] = {}
    for _position, change in _of_host(changes_doc, host):
        if change["object_type"] == "certificate_store" and change["after"] == "present":
            found.setdefault(change["object"].upper(), change)
    return list(found.values())


def _services(value: Any) -> List[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(s).strip() for s in items if str(s).strip() and str(s).strip().lower() != "none"]


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return ", ".join(value) or "None"
    return str(value)


def targets(changes_doc: dict, host: str) -> List[Target]:
    """What ``host`` puts back, newest change first; one target per object and property.

    Two applied changes of the same property of the same object (files joined from two
    runs) collapse: the guard is the newest ``after``, the value put back the oldest ``before``.
    """
    validate(changes_doc)
    grouped: Dict[tuple, List[tuple]] = {}
    for position, change in _of_host(changes_doc, host):
        if _why_not(change) or change["object_type"] == "certificate_store":
            continue
        key = (change["object_type"], change["object"].casefold(), (_server(change) or "").casefold())
        grouped.setdefault(key, []).append((position, change))
    # The changes file lists changes in the order they were made: newest first is the reverse.
    newest_first = sorted(grouped.values(), key=lambda items: -items[-1][0])
    return [
        Target(items[-1][1]["object_type"], items[-1][1]["object"], items[-1][1]["property"], _server(items[-1][1]),
               items[0][1]["before"], items[-1][1]["after"], [c for _p, c in items])
        for items in newest_first
    ]


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


def _guards(target: Target) -> List[dict]:
    if target.object_type == "transport_service":
        return [
            step(guard_id("transport_service", target.key), "Get-TransportService", {"Identity": target.key},
                 [DEFAULT_SMTP], {DEFAULT_SMTP: target.after}),
            # The certificate to make the default again is still there (else the batch stops before any write).
            step(guard_id("certificate", f"{target.key}\\{target.before}"), "Get-ExchangeCertificate",
                 {"Server": target.key, "Thumbprint": target.before}, ["Thumbprint"], {"Thumbprint": target.before}),
        ]
    return [step(guard_id(target.object_type, target.key), _READ[target.object_type], _identity(target),
                 _read_properties(target), {TLS_NAME: target.after})]


def _identity(target: Target) -> dict:
    return {} if target.object_type == "hybrid_configuration" else {"Identity": target.key}


def _read_properties(target: Target) -> List[str]:
    return [TLS_NAME] if target.object_type == "hybrid_configuration" else ["Identity", TLS_NAME]


def _write(target: Target) -> dict:
    set_id = step_id(SET, target.object_type, target.key)
    if target.object_type == "transport_service":
        return step(set_id, "Enable-ExchangeCertificate",
                    {"Server": target.key, "Thumbprint": target.before, "Services": "SMTP", "Force": True})
    return step(set_id, _WRITE[target.object_type], dict(_identity(target), TlsCertificateName=target.before))


def _readback(target: Target) -> dict:
    if target.object_type == "transport_service":
        return step(readback_id("transport_service", target.key), "Get-TransportService", {"Identity": target.key},
                    [DEFAULT_SMTP])
    return step(readback_id(target.object_type, target.key), _READ[target.object_type], _identity(target),
                _read_properties(target))


def rollback_steps(changes_doc: dict, host: str, check_mode: bool = False, plan: Optional[dict] = None) -> List[dict]:
    """exchange_command's steps that put back what ``host`` changed: guards, sets, read-backs; guards only in check mode.

    With ``plan`` (what decide() made of the read), only the targets it says to restore, and none when it refuses.
    """
    found = _planned(targets(changes_doc, host), plan)
    steps: List[dict] = []
    for target in found:
        steps.extend(s for s in _guards(target) if s["id"] not in {k["id"] for k in steps})
    if check_mode:
        return steps
    steps.extend(_write(t) for t in found)
    steps.extend(_readback(t) for t in found)
    return steps


# --------------------------------------------------------------------------
# The read before the writes
# --------------------------------------------------------------------------


def _ident(target: Target) -> str:
    return f"{target.object_type}|{target.key}"


def _planned(found: List[Target], plan: Optional[dict]) -> List[Target]:
    if plan is None:
        return found
    if plan.get("problem") or plan.get("conflicts"):
        return []
    wanted = {r["id"] for r in plan.get("restore") or []}
    return [t for t in found if _ident(t) in wanted]


def read_steps(changes_doc: dict, host: str) -> List[dict]:
    """Get-* steps (no guard) reading what every object the record names for ``host`` holds now.

    One launch, before any write: it decides per object whether it still has the value the run left
    (restore it), the value before (already restored, or never applied), or something else (someone
    changed it: nothing is written on the host). It also lists the server's certificates, so a
    restored name that no certificate matches is warned about.
    """
    found = targets(changes_doc, host)
    steps = [step(step_id(READ, t.object_type, t.key), *_read_call(t)) for t in found]
    server = server_of(changes_doc, host)
    if server and any(t.object_type == "receive_connector" for t in found):
        steps.append(step(step_id(READ, "certificates", server), "Get-ExchangeCertificate", {"Server": server},
                          ["Thumbprint", "Issuer", "Subject"]))
    return steps


def _read_call(target: Target) -> tuple:
    if target.object_type == "transport_service":
        return "Get-TransportService", {"Identity": target.key}, [DEFAULT_SMTP]
    return _READ[target.object_type], _identity(target), _read_properties(target)


def decide(read_result: Optional[dict], changes_doc: dict, host: str) -> dict:
    """What to restore on ``host`` from what read_steps() found: restore, already, not_applied, conflicts, warnings, problem."""
    found = targets(changes_doc, host)
    plan = {"restore": [], "already": [], "not_applied": [], "conflicts": [], "warnings": [], "problem": None}
    if not found:
        return plan
    result = read_result or {}
    if result.get("skipped") or not result:
        plan["problem"] = "reading the objects to restore did not run"
        return plan
    if result.get("failed") or result.get("unreachable") or result.get("stop"):
        entry = next((s for s in result.get("steps") or [] if s.get("status") not in ("ok", None)), {})
        cause = entry.get("error") or (result.get("stop") or {}).get("message") or result.get("msg") or "exchange_command failed"
        plan["problem"] = f"reading the objects to restore failed, so nothing was restored on this host: {sentence(cause)}"
        return plan
    server = server_of(changes_doc, host)
    computer = result.get("computer_name")
    if server and computer and str(computer).casefold() != server.split(".")[0].casefold():
        plan["problem"] = (f"this host is Exchange server {computer}, but the changes file puts its entries on {server}:"
                           " nothing was restored (a host restores only its own server's objects; check the inventory"
                           " and the file)")
        return plan
    by_id = steps_by_id(result)
    certificates = ((by_id.get(step_id(READ, "certificates", server)) or {}).get("objects")) or []
    for target in found:
        entry = by_id.get(step_id(READ, target.object_type, target.key)) or {}
        objects = entry.get("objects") or []
        item = dict(target.as_dict(), id=_ident(target), statuses=sorted({c["status"] for c in target.changes}))
        if entry.get("status") != "ok" or not objects:
            plan["conflicts"].append(f"{_cap(_describe(target))} could not be read (it no longer exists?)")
            continue
        live = objects[0].get(target.property)
        item["live"] = live
        if _same(target, live, target.after) and not _same(target, live, target.before):
            plan["restore"].append(item)
            if target.object_type == "receive_connector" and target.before and not any(
                    same_name(tls_name.format_tls_certificate_name(c.get("Issuer") or "", c.get("Subject") or ""), target.before)
                    for c in certificates if c.get("Subject")):
                plan["warnings"].append(
                    f"{_cap(_describe(target))}: the name put back, {shown(target.before)}, matches no certificate on {server},"
                    " so STARTTLS on it will fail again (as before the run); restore only if that is what you want")
        elif _same(target, live, target.before):
            (plan["already"] if APPLIED in item["statuses"] else plan["not_applied"]).append(item)
        else:
            plan["conflicts"].append(
                f"{_cap(_describe(target))} was changed after the run that wrote the changes file: its {target.property} is"
                f" {shown(live)}, not {shown(target.after)} as the run left it (nor {shown(target.before)}, the value"
                " before the run)")
    return plan


# --------------------------------------------------------------------------
# What happened
# --------------------------------------------------------------------------


def _describe(target: Target) -> str:
    where = f" on {target.server}" if target.object_type == "certificate" else ""
    return f"{_WORDS[target.object_type]} {target.object}{where}"


def _same(target: Target, live: Any, wanted: Any) -> bool:
    if target.property == TLS_NAME:
        return same_name(live, wanted)
    return str(live or "").upper() == str(wanted or "").upper()


def outcome(result: Optional[dict], changes_doc: dict, host: str, check_mode: bool = False, plan: Optional[dict] = None) -> dict:
    """What a rollback batch did on ``host``, from exchange_command's result (None or skipped when it did not run).

    Returns restored (or, in check mode, would_restore) as targets with the live value
    read back, skipped (not_reversible), failed and a message saying what happened and what to do.
    """
    skipped = not_reversible(changes_doc, host)
    summary = {"restored": [], "would_restore": [], "skipped": skipped, "failed": False, "message": None,
               "check_mode": bool(check_mode), "already_restored": [], "not_applied": [], "warnings": []}
    if plan is not None:
        summary.update(already_restored=plan.get("already") or [], not_applied=plan.get("not_applied") or [],
                       warnings=plan.get("warnings") or [])
        if plan.get("problem") or plan.get("conflicts"):
            summary.update(failed=True, message=plan.get("problem") or (
                "; ".join(plan["conflicts"]) + ". Nothing was restored on this host (every object is read before any"
                " write). Someone changed it since; decide whether its current value should stay, then remove its entry"
                " from the changes file (or restore it by hand) and run the rollback again."))
            return summary
    found = _planned(targets(changes_doc, host), plan)
    if not found and plan is not None and (summary["already_restored"] or summary["not_applied"]):
        summary["message"] = _nothing_left(summary)
        return summary
    if not found:
        summary["message"] = "nothing to restore on this host" + (
            f"; {len(skipped)} change(s) cannot be undone (see skipped)" if skipped else "")
        return summary
    result = result or {}
    if result.get("skipped") or not result:
        summary.update(failed=True, message="the rollback batch did not run")
        return summary
    stop = result.get("stop") or {}
    by_id = steps_by_id(result)
    if stop.get("reason") == "guard":
        summary.update(failed=True, message=_guard_message(result, found))
        return summary
    if result.get("failed") or result.get("unreachable") or stop:
        summary.update(failed=True, message=_error_message(result, found, by_id))
        return summary
    if check_mode:
        summary["would_restore"] = [t.as_dict() for t in found]
        summary["message"] = (f"{len(found)} value(s) would be restored; every object still has the value the run"
                              " left, so the guards hold.")
        return summary
    wrong = []
    for target in found:
        entry = by_id.get(readback_id(target.object_type, target.key)) or {}
        objects = entry.get("objects") or []
        live = objects[0].get(target.property) if objects else None
        if entry.get("status") != "ok" or not objects:
            wrong.append(f"{_describe(target)}: its read-back did not run")
            continue
        if not _same(target, live, target.before):
            wrong.append(f"{_describe(target)}: {shown(target.before)} was written but {shown(live)} was read back")
            continue
        summary["restored"].append(dict(target.as_dict(), live=live))
    if wrong:
        summary.update(failed=True, message="the rollback did not take: " + "; ".join(wrong))
    else:
        summary["message"] = f"{len(found)} value(s) restored." + (f" {_nothing_left(summary)}" if plan else "")
    return summary


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _nothing_left(summary: dict) -> str:
    parts = []
    if summary["already_restored"]:
        parts.append(f"{len(summary['already_restored'])} value(s) already restored (the object holds its value from before"
                     " the run)")
    if summary["not_applied"]:
        parts.append(f"{len(summary['not_applied'])} recorded write(s) not applied, nothing to restore (the object still"
                     " holds its value from before the run)")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if parts else ""


def _guard_message(result: dict, found: List[Target]) -> str:
    what, stop = stopped_at(result, _WORDS)
    found_values = [
        f"its {m.get('property')} is {shown(m.get('actual'))}, not {shown(m.get('expected'))} as the run left it"
        for m in stop.get("mismatches") or []
    ] or [stop.get("message") or "it no longer has the value the run left"]
    return (
        f"{what} was changed after the run that wrote the changes file: {'; '.join(found_values)}."
        " Nothing was restored on this host (every guard runs before any write). Someone changed it since; decide"
        " whether its current value should stay, then remove its entry from the changes file (or restore it by hand)"
        " and run the rollback again."
    )


def _error_message(result: dict, found: List[Target], by_id: Dict[str, dict]) -> str:
    stop = result.get("stop") or {}
    entry = next((s for s in result.get("steps") or [] if s.get("index") == stop.get("index")), {})
    cause = sentence(entry.get("error") or stop.get("message") or result.get("msg") or "exchange_command failed")
    written = [t for t in found if (by_id.get(step_id(SET, t.object_type, t.key)) or {}).get("status") == "ok"]
    parsed = step_object(entry.get("id"))
    if parsed and parsed[0] == "guard":
        return (f"reading {_WORDS.get(parsed[1], parsed[1])} {parsed[2]} before restoring failed: {cause}"
                " Nothing was restored on this host.")
    listing = ", ".join(_describe(t) for t in written) or "nothing"
    return f"the rollback stopped: {cause} Restored before the failure: {listing}; later writes did not run."


__all__ = [
    "RESTORABLE",
    "SCHEMA",
    "Target",
    "decide",
    "imports",
    "read_steps",
    "server_of",
    "not_reversible",
    "outcome",
    "rollback_steps",
    "targets",
    "validate",
]
