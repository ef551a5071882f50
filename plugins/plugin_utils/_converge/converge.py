# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the converging modules share: plans, changes, guarded steps, and how a batch's result reads.

receive_connector_tls and send_connector_tls decide on the controller from
facts (transport_facts.parse_read's shape), then send one batch of guarded
writes. The rules that make that safe live here once:

* every write is preceded, in the same batch, by a read of the same object
  guarded with the value the decision was made from, and every guard comes
  before every write, so a concurrent change stops the batch before anything
  is written;
* a write is followed by a read-back, so the result reports the live value,
  not the one that was sent;
* a change is described the same way everywhere (object_type, object,
  property, before, after), so check mode, diff, reports and rollback agree.

Pure Python: no Ansible imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ansible_collections.exchange.transport_tls.plugins.module_utils import thumbprint
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import exchange_enums, tls_name

CHANGE = "change"
UNCHANGED = "unchanged"
BLOCKED = "blocked"


class PlanError(ValueError):
    """A refusal decided before anything runs; the message names the input and what would be valid."""


def parse_thumbprint(value: object, option: str = "certificate") -> str:
    """A thumbprint option of the converging modules (which also take 'auto'), by the collection's one rule."""
    try:
        return thumbprint.parse_thumbprint(value, option, alternative="'auto'")
    except thumbprint.ThumbprintError as exc:
        raise PlanError(str(exc)) from None


def find_named(objects: List[dict], identity: str) -> Optional[dict]:
    """The object whose identity or name is ``identity`` (any case), or None.

    The exact text first: a name may begin or end with white space (the lab keeps it, and nothing
    says Exchange trims it). Then with the white space of hand typing stripped.
    """
    for wanted in dict.fromkeys((identity.lower(), identity.strip().lower())):
        for obj in objects:
            if wanted in {(obj.get("identity") or "").lower(), (obj.get("name") or "").lower()}:
                return obj
    return None


def same_name(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two TlsCertificateName values name the same certificate, as Exchange compares them."""
    if a is None or b is None:
        return a is None and b is None
    return tls_name.names_match(a, b)


@dataclass
class Change:
    """One property of one object, before and after."""

    object_type: str   # receive_connector | send_connector | hybrid_configuration | certificate | transport_service
    object: str
    property: str
    before: Any
    after: Any
    server: Optional[str] = None

    def as_dict(self) -> dict:
        return {
            "object_type": self.object_type,
            "object": self.object,
            "property": self.property,
            "before": self.before,
            "after": self.after,
            "server": self.server,
        }


@dataclass
class Decision:
    """What a module decided for one object: change it, leave it, or why it cannot."""

    object_type: str
    object: str
    status: str                     # CHANGE | UNCHANGED | BLOCKED
    current: Optional[str]
    expected: Optional[str]
    reason: str
    certificate: Optional[dict] = None       # the certificate the new name selects (receive side)
    smtp: List[str] = field(default_factory=list)   # keys (SERVER\\THUMBPRINT) of the SMTP enablings it needs first
    details: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        result = {
            "object_type": self.object_type,
            "object": self.object,
            "status": self.status,
            "current": self.current,
            "expected": self.expected,
            "reason": self.reason,
            "certificate": self.certificate["thumbprint"] if self.certificate else None,
        }
        result.update(self.details)
        return result


def renames(decisions: List[Decision]) -> List[Decision]:
    """The decisions that write a new TlsCertificateName (a CHANGE may only need SMTP)."""
    return [d for d in decisions if d.status == CHANGE and not same_name(d.current, d.expected)]


@dataclass
class Plan:
    """A module's decision: what it changes, the SMTP it enables first, and what it cannot do."""

    server: Optional[str]           # the server of a per-server plan; None for organisation objects
    decisions: List[Decision] = field(default_factory=list)
    smtp: list = field(default_factory=list)          # smtp_enable.SmtpEnable items
    warnings: List[str] = field(default_factory=list)
    # The domain controller the facts were read from (None on Edge, or when unknown): the writes pin it.
    domain_controller: Optional[str] = None

    @property
    def changes(self) -> List[Change]:
        changes = [Change(d.object_type, d.object, "TlsCertificateName", d.current, d.expected, self.server)
                   for d in renames(self.decisions)]
        changes.extend(item.planned_change() for item in self.smtp)
        return changes

    @property
    def blocked(self) -> List[Decision]:
        return [d for d in self.decisions if d.status == BLOCKED]


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


def step(step_id: str, cmdlet: str, parameters: dict, properties: Optional[list] = None, guard: Optional[dict] = None) -> dict:
    built = {"id": step_id, "cmdlet": cmdlet, "parameters": parameters, "properties": list(properties or [])}
    if guard is not None:
        built["guard"] = guard
    return built


# What a step does. The payload only echoes a step's id; the controller finds a step's result by it, so every id is
# built by StepId and read back by StepId.parse, never spelled by hand.
GUARD, SET, READBACK, ENABLE, RESTORE, VERIFY, READ = "guard", "set", "readback", "enable", "restore", "verify", "read"
KINDS = (GUARD, SET, READBACK, ENABLE, RESTORE, VERIFY, READ)


class StepId(NamedTuple):
    """A step id: ``kind|object_type|object``, or ``kind|object`` when the kind alone says the type (restore)."""

    kind: str
    object_type: Optional[str]
    obj: str

    def __str__(self) -> str:
        return "|".join(p for p in (self.kind, self.object_type, self.obj) if p is not None)

    @classmethod
    def parse(cls, text: object) -> Optional["StepId"]:
        """The id's parts, or None for text no StepId builds (the object may hold '|', the kind and type do not)."""
        if not isinstance(text, str):
            return None
        kind, sep, rest = text.partition("|")
        if not sep or not kind or not rest:
            return None
        object_type, sep, obj = rest.partition("|")
        return cls(kind, object_type, obj) if sep else cls(kind, None, rest)


def step_id(kind: str, object_type: Optional[str], obj: str) -> str:
    if not kind or "|" in kind or "|" in (object_type or ""):
        raise ValueError(f"a step id needs a kind and an object type without '|' (kinds: {', '.join(KINDS)}), got {kind!r}, {object_type!r}")
    return str(StepId(kind, object_type, obj))


def step_kind(text: object) -> Optional[str]:
    """What a step did (GUARD, SET, ...) from its id, or None for an id no StepId built."""
    parsed = StepId.parse(text)
    return parsed.kind if parsed else None


def guard_id(object_type: str, obj: str) -> str:
    return step_id(GUARD, object_type, obj)


def readback_id(object_type: str, obj: str) -> str:
    return step_id(READBACK, object_type, obj)


def step_object(text: Optional[str]) -> Optional[StepId]:
    """(kind, object_type, object) of a step id about an object, or None."""
    parsed = StepId.parse(text)
    return parsed if parsed and parsed.object_type is not None else None


def steps_by_id(result: dict) -> Dict[str, dict]:
    return {s["id"]: s for s in result.get("steps") or [] if isinstance(s, dict) and s.get("id")}


def readback_value(result: dict, object_type: str, obj: str, prop: str) -> Any:
    """The property a read-back step returned, or KeyError when that step did not run."""
    entry = steps_by_id(result).get(readback_id(object_type, obj))
    if entry is None or entry.get("status") != "ok" or not entry.get("objects"):
        raise KeyError(obj)
    return entry["objects"][0].get(prop)


_WORDS = {
    "receive_connector": "receive connector",
    "send_connector": "send connector",
    "hybrid_configuration": "hybrid configuration",
    "certificate": "certificate",
    "transport_service": "transport service of",
}


# Words every converging module, rollback included, puts values and Exchange's errors in: one spelling, so a guard
# message reads the same whichever module stopped.
def shown(value: Any) -> str:
    """A value as the messages quote it: 'value', or null."""
    return "null" if value is None else f"'{value}'"


def sentence(text: object) -> str:
    """Error text as one sentence on one line: Exchange's messages end with a period already, others do not."""
    text = " ".join(str(text).split())
    return text if text.endswith((".", "!", "?")) else text + "."


def stopped_at(result: dict, words: Optional[Dict[str, str]] = None) -> Tuple[str, dict]:
    """The object a stopped batch's failing step is about, in words ("Receive connector EX01\\X"), and its stop."""
    stop = result.get("stop") or {}
    entry = next((s for s in result.get("steps") or [] if s.get("index") == stop.get("index")), {})
    parsed = step_object(entry.get("id"))
    words = words or _WORDS
    what = f"{words.get(parsed[1], parsed[1])} {parsed[2]}" if parsed else f"step {stop.get('index')}"
    return what[0].upper() + what[1:], stop


def guard_failure_message(result: dict, planned: Optional[Dict[Tuple[str, str], Any]] = None) -> Optional[str]:
    """Plain words for a guard that stopped a batch: which object, the value read, the live value.

    ``planned`` maps (object_type, object) to the value this run was going to write. When the live
    value is already that one (another run, or another administrator, made the same change first),
    the message says so: that object needs nothing more, though the batch's other writes did not run.
    """
    if (result.get("stop") or {}).get("reason") != "guard":
        return None
    what, stop = stopped_at(result)
    mismatches = stop.get("mismatches") or []
    parts = [
        f"its {m.get('property')} was {shown(m.get('expected'))} when read and is now {shown(m.get('actual'))}"
        for m in mismatches
    ] or [stop.get("message") or "it no longer matches what was read"]
    entry = next((s for s in result.get("steps") or [] if s.get("index") == stop.get("index")), {})
    parsed = step_object(entry.get("id"))
    target = (planned or {}).get((parsed[1], parsed[2]), _MISSING) if parsed else _MISSING
    values = [m.get("actual") for m in mismatches]
    already = target is not _MISSING and bool(values) and all(_same_value(v, target) for v in values)
    if already:
        return (
            f"{what} changed since it was read: {'; '.join(parts)}. That is already the value this run was going to"
            " write: someone else (another run, or another administrator) made the same change first, so this object"
            " needs nothing more. Nothing was written. The other writes of the same batch did not run either;"
            " run again to check them from the live values."
        )
    return (
        f"{what} changed since it was read: {'; '.join(parts)}. Nothing was written."
        " Someone else changed it in between; run again to decide from the live value."
    )


_MISSING = object()


def _same_value(live: Any, planned: Any) -> bool:
    """A guarded value read back (flattened: Services as "IIS, SMTP") against the value a change writes."""
    if isinstance(planned, (list, tuple)) or (isinstance(live, str) and "<" not in live and "," in live):
        def services(value: Any) -> set:
            if isinstance(value, int) or str(value).strip().isdigit():
                # A session that could not rehydrate the enum reads it back by number (24 = IIS, SMTP).
                value = exchange_enums.ALLOWED_SERVICES.names(value, "Services", "the value read back")
            items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
            return {str(i).strip().lower() for i in items if str(i).strip() and str(i).strip().lower() != "none"}
        return services(live) == services(planned)
    if live is None or planned is None:
        return live is None and planned is None
    try:
        return same_name(str(live), str(planned))
    except (TypeError, ValueError):
        return str(live) == str(planned)


def diff_entries(changes: List[Change]) -> List[dict]:
    """One before/after text per object, as Ansible's --diff shows them."""
    grouped: Dict[tuple, List[Change]] = {}
    for change in changes:
        grouped.setdefault((change.object_type, change.object, change.server), []).append(change)
    entries = []
    for (object_type, obj, server), items in grouped.items():
        header = f"{object_type} {obj}" + (f" (on {server})" if server and server not in obj else "")
        entries.append({
            "before_header": header,
            "after_header": header,
            "before": "".join(f"{c.property}: {_text(c.before)}\n" for c in items),
            "after": "".join(f"{c.property}: {_text(c.after)}\n" for c in items),
        })
    return entries


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "None"
    return str(value)


__all__ = [
    "BLOCKED",
    "CHANGE",
    "find_named",
    "UNCHANGED",
    "Change",
    "Decision",
    "Plan",
    "PlanError",
    "diff_entries",
    "guard_failure_message",
    "guard_id",
    "parse_thumbprint",
    "readback_id",
    "readback_value",
    "renames",
    "same_name",
    "sentence",
    "shown",
    "step",
    "step_id",
    "step_kind",
    "step_object",
    "StepId",
    "steps_by_id",
    "stopped_at",
]
