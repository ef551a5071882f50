# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which connectors are in scope: ``connector_tls_scope``, a JMESPath expression over one host's facts.

The role's users narrow a run to some connectors by writing a JMESPath
expression over ``ansible_facts.exchange_tls`` (exchange_certificate_facts'
shape), for example ``receive_connectors[?contains(ports, `25`)]``. This
turns whatever the expression returns into one canonical answer, the sorted
identities of the connectors in scope (receive connectors as ``SERVER\\Name``,
send connectors by name), so every later step compares plain strings.

What an expression may return:

* null or an empty list: nothing is in scope;
* a connector object (a dict with ``identity``) of these facts;
* a list of connector objects and/or identity or name strings; nested lists
  are flattened one level, so ``[receive_connectors[?hybrid], send_connectors[?cloud]]``
  works as well as the same expression ending in ``[]``; null elements are skipped.

A string must name a connector of these facts (identity or name,
case-insensitive), with one exception: a receive connector identity of
another server (``EX02\\Default Frontend EX02`` on EX01's facts) is not in
scope on this host and not an error, because one expression is evaluated on
every host, so a list of identities across servers works. Anything else
(numbers, booleans, other objects) is an error that names
``connector_tls_scope``, says what the expression returned and what would be
valid. No expression (null or empty) puts every receive and send
connector in scope, and then jmespath is not even needed.

Pure Python: no Ansible imports. ``jmespath``'s import is guarded so that a
controller without it gets a message saying to install it.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
except ImportError:  # pragma: no cover - exercised by a test that hides the library
    jmespath = None
    JMESPathError = Exception

VARIABLE = "connector_tls_scope"
EXAMPLE = "receive_connectors[?contains(ports, `25`)]"
_SHOWN = 200  # characters of a returned value quoted in an error

_VALID = (
    "It must return connectors of the host's facts: a connector (an object with identity, from receive_connectors or"
    " send_connectors), a list of connectors and/or their identities or names (nested lists are flattened one level),"
    " or null or [] for none. Examples: " + EXAMPLE + " (receive connectors listening on port 25),"
    " [receive_connectors[?hybrid], send_connectors[?cloud]][] (the hybrid mail flow),"
    " receive_connectors[?enabled].identity (identities)."
)


class ScopeError(ValueError):
    """The expression cannot say which connectors are in scope; the message says why and what is valid."""


def plain(value: Any) -> Any:
    """JSON-like data as plain Python types: jmespath's type checks go by exact type names.

    ansible-core 2.19+ hands filters tagged subclasses of str, int, dict and list;
    jmespath's functions (``contains``, ``length`` ...) would not recognise them.
    """
    if value is None or type(value) in (bool, str, int, float):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {plain(k) if isinstance(k, str) else str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)) or hasattr(value, "__iter__"):
        return [plain(v) for v in value]
    return str(value)


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "... (truncated)"


def _connectors(facts: Any) -> Tuple[List[dict], List[dict]]:
    if not isinstance(facts, dict) or not any(k in facts for k in ("receive_connectors", "send_connectors")):
        raise ScopeError(
            f"{VARIABLE} is applied to one host's ansible_facts.exchange_tls (as exchange_certificate_facts returns"
            f" it, with receive_connectors and send_connectors), but it was given {_shown(facts)}."
        )
    receive = [c for c in facts.get("receive_connectors") or [] if isinstance(c, dict) and c.get("identity")]
    send = [c for c in facts.get("send_connectors") or [] if isinstance(c, dict) and (c.get("name") or c.get("identity"))]
    return receive, send


def all_connectors(facts: dict) -> List[str]:
    """Every receive connector identity and send connector name of the facts, sorted."""
    receive, send = _connectors(plain(facts))
    return sorted({c["identity"] for c in receive} | {_send_name(c) for c in send})


def _send_name(connector: dict) -> str:
    return connector.get("name") or connector["identity"]


class _Index:
    """The connectors of one host's facts, looked up by identity or name, case-insensitively."""

    def __init__(self, facts: dict):
        self.receive, self.send = _connectors(facts)
        self.server = (facts.get("server") or {}).get("name") if isinstance(facts.get("server"), dict) else None

    def _matches(self, text: str, keys: Tuple[str, ...]) -> List[str]:
        wanted = text.casefold()
        found = [c["identity"] for c in self.receive if any(str(c.get(k) or "").casefold() == wanted for k in keys)]
        found += [_send_name(c) for c in self.send if any(str(c.get(k) or "").casefold() == wanted for k in keys)]
        return list(dict.fromkeys(found))

    def other_server(self, text: str) -> bool:
        """Whether ``text`` is a receive connector identity (SERVER\\Name) of another server than these facts'.

        One expression is evaluated on every host's facts, so a list of identities
        naming connectors of several servers names, on each host, some of another one.
        """
        server, sep, name = text.partition("\\")
        return bool(sep and server.strip() and name.strip()) and not self._matches(text, ("identity", "name")) and (
            self.server is None or server.casefold() != self.server.casefold())

    def by_string(self, text: str) -> Optional[str]:
        # A bare name may be ambiguous: a receive connector and a send connector can share one (a send
        # connector's identity is its name); a receive connector's identity (SERVER\\Name) is not.
        found = self._matches(text, ("identity", "name"))
        if len(found) == 1:
            return found[0]
        if self.other_server(text):
            return None
        if found:
            raise ScopeError(
                f"{VARIABLE} selected {text!r}, which names several connectors ({', '.join(found)}); select it by"
                " identity instead (a receive connector's identity is SERVER\\Name), or return the connector objects,"
                f" as in {EXAMPLE}."
            )
        raise ScopeError(f"{VARIABLE} selected {text!r}, which is not a connector{self._where()}. {self._known()}")

    def by_object(self, connector: dict) -> Optional[str]:
        identity = connector.get("identity")
        found = self._matches(identity, ("identity",)) if isinstance(identity, str) else []
        if len(found) == 1:
            return found[0]
        if isinstance(identity, str) and self.other_server(identity):
            return None
        raise ScopeError(
            f"{VARIABLE} selected a connector with identity {_shown(identity)}, which is not a connector{self._where()}."
            f" {self._known()}"
        )

    def _where(self) -> str:
        return f" of {self.server}'s facts" if self.server else " of these facts"

    def _known(self) -> str:
        names = [c["identity"] for c in self.receive] + [_send_name(c) for c in self.send]
        listing = _shown(names) if names else "none"
        return f"The connectors are (identities and send connector names): {listing}."


def _invalid(expression: str, result: Any, detail: str = "") -> ScopeError:
    return ScopeError(f"{VARIABLE} {expression!r} returned {_shown(result)}{detail}. {_VALID}")


def _items(expression: str, result: Any) -> List[Any]:
    """The returned value as a flat list of candidates (objects and strings), or an error."""
    if result is None:
        return []
    if isinstance(result, (dict, str)):
        return [result]
    if not isinstance(result, list):
        raise _invalid(expression, result)
    flat: List[Any] = []
    for item in result:
        if isinstance(item, list):
            for inner in item:
                if isinstance(inner, list):
                    raise _invalid(expression, result, " (lists nested more than one level deep)")
                flat.append(inner)
        else:
            flat.append(item)
    return [item for item in flat if item is not None]


def compile_expression(expression: Any):
    """The compiled expression, or ScopeError naming the variable, jmespath's message and an example."""
    if not isinstance(expression, str):
        raise ScopeError(
            f"{VARIABLE} must be a JMESPath expression (a string) or null for every connector, got {_shown(expression)}."
            f" Example: {EXAMPLE}"
        )
    if jmespath is None:
        raise ScopeError(
            f"{VARIABLE} is a JMESPath expression, and evaluating it needs the Python library jmespath on the"
            " controller (in the execution environment): install it with `pip install jmespath` (it is listed in the"
            " collection's requirements.txt)."
        )
    try:
        return jmespath.compile(str.__str__(expression))
    except JMESPathError as exc:  # ParseError, LexerError
        raise ScopeError(
            f"{VARIABLE} is not a valid JMESPath expression: {expression!r}: {_oneline(exc)}."
            f" Example of a valid one: {EXAMPLE} (the receive connectors listening on port 25)."
        ) from None


def _oneline(exc: Exception) -> str:
    return " ".join(str(exc).split())


def in_scope(facts: Any, expression: Optional[str] = None) -> List[str]:
    """The sorted identities of the connectors ``expression`` selects (receive: SERVER\\Name; send: name).

    A null or empty expression selects every receive and send connector.
    """
    data = plain(facts)
    index = _Index(data)
    if expression is None or (isinstance(expression, str) and not expression.strip()):
        return all_connectors(data)
    compiled = compile_expression(expression)
    try:
        result = compiled.search(data)
    except JMESPathError as exc:
        raise ScopeError(
            f"{VARIABLE} {expression!r} failed on these facts: {_oneline(exc)}. Example of a valid one: {EXAMPLE}"
        ) from None
    selected = set()
    for item in _items(expression, result):
        if isinstance(item, str):
            selected.add(index.by_string(item))
        elif isinstance(item, dict) and "identity" in item:
            selected.add(index.by_object(item))
        else:
            raise _invalid(expression, result, f" (it contains {_shown(item)}, which is neither a connector nor a"
                                               " connector's identity or name)")
    selected.discard(None)   # identities of another server's connectors
    return sorted(selected)


__all__ = ["EXAMPLE", "VARIABLE", "ScopeError", "all_connectors", "compile_expression", "in_scope", "plain"]
