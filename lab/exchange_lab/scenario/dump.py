"""Write normalised scenario data back as YAML in the documented key order (a saved lab state).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any, Callable, Sequence

import yaml

from .checks import _to_utc
from .schema import (
    CERTIFICATE_KEYS, CONCURRENT_CHANGE_KEYS, EVENT_KEYS, HYBRID_KEYS, LATENCY_KEYS, RECEIVE_CONNECTOR_KEYS,
    SEND_CONNECTOR_KEYS, SERVER_KEYS, TOP_KEYS,
)


class _FlowList(list):
    pass


class _FlowMap(dict):
    pass


# The lab rewrites its state after every launch, so the emitter is on its hot
# path: libyaml's C emitter is about 4x faster than PyYAML's own. It writes
# block lists at their key's indentation; the pure-Python fallback indents them.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:  # never write &anchors / *aliases
        return True


def _iso(value: datetime) -> str:
    return _to_utc(value).replace(tzinfo=None).isoformat() + "Z"


_NEEDS_DOUBLE_QUOTES = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = '"' if _NEEDS_DOUBLE_QUOTES.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(datetime, lambda d, v: d.represent_scalar("tag:yaml.org,2002:timestamp", _iso(v)))
_Dumper.add_representer(dict, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(),
                                                               flow_style=False))
_Dumper.add_representer(_FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(),
                                                                   flow_style=True))
_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v,
                                                                flow_style=False))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v,
                                                                     flow_style=True))


def _ordered(data: dict, keys: Sequence[str], where: str, omit: Sequence[str] = ()) -> dict:
    unknown = [k for k in data if k not in keys]
    if unknown:
        raise ValueError(f"dump_state: unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
                         f"valid: {', '.join(keys)}")
    return {k: _plain(data[k]) for k in keys if k in data and k not in omit}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"certificate"}:
            return _FlowMap(certificate=value["certificate"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return items if any(isinstance(v, (dict, list)) for v in items) else _FlowList(items)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return value


def _dump_list(value: Any, dump_item: Callable[[dict, str], dict], where: str) -> Any:
    if not isinstance(value, list):
        return _plain(value)
    return [dump_item(item, f"{where}[{i}]") if isinstance(item, dict) else _plain(item)
            for i, item in enumerate(value)]


def _dump_server(server: dict, where: str) -> dict:
    is_edge = server.get("role") == "Edge"
    omit = [] if is_edge else [k for k in ("edge_subscription_certificate", "edgesync")
                               if server.get(k) is None]
    out = _ordered(server, SERVER_KEYS, where, omit)

    def cert(c: dict, w: str) -> dict:
        return _ordered(c, CERTIFICATE_KEYS, w,
                        ["issuer"] if c.get("self_signed") and c.get("issuer") is None else [])

    def connector(c: dict, w: str) -> dict:
        return _ordered(c, RECEIVE_CONNECTOR_KEYS, w,
                        ["transport_role"] if is_edge and c.get("transport_role") is None else [])

    def fault(f: dict, w: str) -> dict:
        return _ordered(f, CONCURRENT_CHANGE_KEYS, w)

    def event(e: dict, w: str) -> dict:
        return _ordered(e, EVENT_KEYS, w)

    for key, dump_item in (("certificates", cert), ("receive_connectors", connector),
                           ("faults", fault), ("events", event)):
        if key in server:
            out[key] = _dump_list(server[key], dump_item, f"{where}.{key}")
    return out


def dump_state(scenario: dict) -> str:
    """Deterministic YAML (format v1) for normalised scenario data."""
    # The December 2026 additions are written only when they say something, so older states read the same.
    doc = _ordered(scenario, TOP_KEYS, "the scenario",
                   (["replication_lag_seconds"] if not scenario.get("replication_lag_seconds") else [])
                   + (["auth_certificate"] if not scenario.get("auth_certificate") else []))
    if isinstance(scenario.get("latency"), dict):
        doc["latency"] = _ordered(scenario["latency"], LATENCY_KEYS, "latency")
    if isinstance(scenario.get("hybrid_configuration"), dict):
        doc["hybrid_configuration"] = _ordered(scenario["hybrid_configuration"], HYBRID_KEYS,
                                               "hybrid_configuration")
    if "send_connectors" in scenario:
        doc["send_connectors"] = _dump_list(
            scenario["send_connectors"],
            lambda c, w: _ordered(c, SEND_CONNECTOR_KEYS, w, ["edge_copies"] if c.get("edge_copies") is None else []),
            "send_connectors")
    if "servers" in scenario:
        doc["servers"] = _dump_list(scenario["servers"], _dump_server, "servers")
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1 << 16, indent=2)

