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

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ansible_collections.exchange.transport_tls.plugins.module_utils.converge import (
    guard_id,
    readback_id,
    same_name,
    step,
    step_object,
    steps_by_id,
    stopped_at,
)

SCHEMA = "exchange.transport_tls/changes/v1"
APPLIED = "applied"
STATUSES = ("planned", "applied", "not_applied")
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
}
REQUIRED = ("host", "server", "object_type", "object", "property", "before", "after", "status")
_READ = {"receive_connector": "Get-ReceiveConnector", "send_connector": "Get-SendConnector",
         "hybrid_configuration": "Get-HybridConfiguration", "transport_service": "Get-TransportService"}
_WRITE = {"receive_connector": "Set-ReceiveConnector", "send_connector": "Set-SendConnector",
          "hybrid_configuration": "Set-HybridConfiguration", "transport_service": "Enable-ExchangeCertificate"}
_WORDS = {"receive_connector": "receive connector", "send_connector": "send connector",
          "hybrid_configuration": "hybrid configuration", "transport_service": "default SMTP certificate of",
          "certificate": "certificate"}


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
    problems = []
    for index, change in enumerate(changes):
        problem = _change_problem(change)
        if problem:
            problems.append(f"changes[{index}] {problem}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"the changes file is not valid: {shown}")


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
    if object_type == "certificate" and not change["server"]:
        return "has no server, which a certificate change needs"
    return None


def _of_host(changes_doc: dict, host: str) -> List[tuple]:
    """(position in the file, change) of the applied changes of ``host``, oldest first (the file's order)."""
    return [(i, c) for i, c in enumerate(changes_doc["changes"]) if c["host"] == host and c["status"] == APPLIED]


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
    for _position, change in _of_host(changes_doc, host):
        reason = _why_not(change)
        if reason:
            skipped.append({"change": change, "reason": reason})
    return skipped


def _why_not(change: dict) -> Optional[str]:
    if change["property"] == SERVICES:
        added = [s for s in _services(change["after"]) if s not in _services(change["before"])]
        what = ", ".join(added) or "the added services"
        return (
            f"{what} stays enabled on certificate {change['object']} on {change.get('server')}: Enable-ExchangeCertificate"
            " only adds services, and none of the cmdlets exchange_command allows removes one"
            f" (services before: {_text(change['before'])}; after: {_text(change['after'])})."
        )
    if change["property"] == DEFAULT_SMTP and not change["before"]:
        return (f"{_server(change)} had no default SMTP certificate before the run, and Exchange cannot be set back"
                " to having none.")
    return None


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
        if _why_not(change):
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
    set_id = f"set|{target.object_type}|{target.key}"
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


def rollback_steps(changes_doc: dict, host: str, check_mode: bool = False) -> List[dict]:
    """exchange_command's steps that put back what ``host`` changed: guards, sets, read-backs; guards only in check mode."""
    found = targets(changes_doc, host)
    steps: List[dict] = []
    for target in found:
        steps.extend(s for s in _guards(target) if s["id"] not in {k["id"] for k in steps})
    if check_mode:
        return steps
    steps.extend(_write(t) for t in found)
    steps.extend(_readback(t) for t in found)
    return steps


# --------------------------------------------------------------------------
# What happened
# --------------------------------------------------------------------------


def _describe(target: Target) -> str:
    where = f" on {target.server}" if target.object_type == "certificate" else ""
    return f"{_WORDS[target.object_type]} {target.object}{where}"


def _shown(value: Any) -> str:
    return "null" if value is None else f"'{value}'"


def _same(target: Target, live: Any, wanted: Any) -> bool:
    if target.property == TLS_NAME:
        return same_name(live, wanted)
    return str(live or "").upper() == str(wanted or "").upper()


def outcome(result: Optional[dict], changes_doc: dict, host: str, check_mode: bool = False) -> dict:
    """What a rollback batch did on ``host``, from exchange_command's result (None or skipped when it did not run).

    Returns restored (or, in check mode, would_restore) as targets with the live value
    read back, skipped (not_reversible), failed and a message saying what happened and what to do.
    """
    found = targets(changes_doc, host)
    skipped = not_reversible(changes_doc, host)
    summary = {"restored": [], "would_restore": [], "skipped": skipped, "failed": False, "message": None,
               "check_mode": bool(check_mode)}
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
            wrong.append(f"{_describe(target)}: {_shown(target.before)} was written but {_shown(live)} was read back")
            continue
        summary["restored"].append(dict(target.as_dict(), live=live))
    if wrong:
        summary.update(failed=True, message="the rollback did not take: " + "; ".join(wrong))
    else:
        summary["message"] = f"{len(found)} value(s) restored."
    return summary


def _guard_message(result: dict, found: List[Target]) -> str:
    what, stop = stopped_at(result, _WORDS)
    found_values = [
        f"its {m.get('property')} is {_shown(m.get('actual'))}, not {_shown(m.get('expected'))} as the run left it"
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
    cause = _sentence(entry.get("error") or stop.get("message") or result.get("msg") or "exchange_command failed")
    written = [t for t in found if (by_id.get(f"set|{t.object_type}|{t.key}") or {}).get("status") == "ok"]
    parsed = step_object(entry.get("id"))
    if parsed and parsed[0] == "guard":
        return (f"reading {_WORDS.get(parsed[1], parsed[1])} {parsed[2]} before restoring failed: {cause}"
                " Nothing was restored on this host.")
    listing = ", ".join(_describe(t) for t in written) or "nothing"
    return f"the rollback stopped: {cause} Restored before the failure: {listing}; later writes did not run."


def _sentence(text: object) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "!", "?")) else text + "."


__all__ = [
    "SCHEMA",
    "Target",
    "not_reversible",
    "outcome",
    "rollback_steps",
    "targets",
    "validate",
]
