# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What role connector_tls refuses before it contacts any server.

A scheduled audit that checked nothing must not end green, and a setting the
user believes is in force must be in force. Ansible's role argument
validation checks types and choices but ignores variables it does not know,
so a typo such as ``connector_tls_restart_transprot=never`` would silently
leave transport restarts on. These checks run once, on the controller, before
the first PowerShell launch.

The known variable names are read from the collection itself (the role's
argument specification, and every ``connector_tls_*`` name the role's files
and the shipped playbooks use), so a variable added to the role is known
without a second list to keep in step.
"""

from __future__ import annotations

import difflib
import pathlib
import re
from typing import Dict, Iterable, List, Optional

import yaml

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import PlanError
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import expiring_days_problem
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.scope import ScopeError, compile_expression
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import connector_choice

_COLLECTION = pathlib.Path(__file__).resolve().parents[3]
_ROLE = _COLLECTION / "roles" / "connector_tls"
_PREFIX = "connector_tls_"
_NAME = re.compile(r"\bconnector_tls_[a-z0-9_]+\b")


def _role_options() -> List[str]:
    specs = yaml.safe_load((_ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    return sorted({name for entry in specs.values() for name in (entry.get("options") or {})})


def _used_names() -> set:
    """Every connector_tls_* name the role's files and the shipped playbooks mention (registers, derived vars, -e)."""
    files = list(_ROLE.rglob("*.yml")) + list((_COLLECTION / "playbooks").glob("*.yml"))
    return {name for path in files for name in _NAME.findall(path.read_text(encoding="utf-8"))}


def _playbook_names() -> set:
    return {name for path in (_COLLECTION / "playbooks").glob("*.yml") for name in _NAME.findall(path.read_text(encoding="utf-8"))}


def settable_variables() -> List[str]:
    """What a user may set: the role's options and the variables the shipped playbooks read (connector_tls_target...)."""
    internal = set()
    for path in (_ROLE / "vars").glob("*.yml"):
        internal |= set(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return sorted(set(_role_options()) | (_playbook_names() - internal))


def unknown_variables(names: Iterable[str]) -> List[str]:
    """One problem per connector_tls_* variable the collection does not know, with the nearest known name."""
    known = set(_role_options()) | _used_names()
    settable = settable_variables()
    problems = []
    for name in sorted(set(names) - known):
        # Compared without the shared prefix, which would make every name look alike.
        near = difflib.get_close_matches(name[len(_PREFIX):], [s[len(_PREFIX):] for s in settable], n=1, cutoff=0.7)
        hint = f" (did you mean {_PREFIX}{near[0]}?)" if near else ""
        problems.append(f"{name} is not a variable of role exchange.transport_tls.connector_tls{hint}")
    if problems:
        problems.append("the variables you can set: " + ", ".join(settable))
    return problems


def preflight(names: Iterable[str], strings: Optional[Dict[str, object]] = None, scope: object = None,
              expiring_days: object = None, batch: Optional[list] = None, play_hosts: Optional[list] = None,
              certificates: object = None, exempt: object = None) -> List[str]:
    """Every reason the role must not start, each naming the variable and what would be valid; [] when none.

    ``names``: the connector_tls_* variables defined for the host; ``strings``: options that must be strings
    (Ansible's argument validation turns ["EX01"] into the text "['EX01']" and goes on); ``batch`` and
    ``play_hosts``: ansible_play_batch and ansible_play_hosts_all, which differ only under ``serial``;
    ``certificates`` and ``exempt``: connector_tls_certificates and connector_tls_exempt, whose values (thumbprints,
    reasons) are checked here; whether their keys name connectors needs the facts, so the modules check that.
    """
    problems = unknown_variables(names)
    for name, value in sorted((strings or {}).items()):
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} must be a string, got a {_kind(value)}")
    if isinstance(scope, str) and scope:
        try:
            compile_expression(scope)
        except ScopeError as exc:
            problems.append(str(exc))
    for name, value, parse in (("connector_tls_certificates", certificates, connector_choice.parse_certificates),
                               ("connector_tls_exempt", exempt, connector_choice.parse_exempt)):
        try:
            parse(value, option=name)
        except PlanError as exc:
            problems.append(str(exc))
    if expiring_days is not None:
        days = _integer(expiring_days)
        problem = expiring_days_problem(expiring_days if days is None else days, "connector_tls_expiring_days")
        if problem:
            problems.append(problem)
    if batch is not None and play_hosts is not None and len(batch) < len(play_hosts):
        problems.append(
            f"serial is not supported: this batch has {len(batch)} of the play's {len(play_hosts)} hosts, and the"
            " organisation's send connectors and the reports are decided once over the whole play; remove serial"
            " (narrow the run with connector_tls_target or --limit instead)")
    return problems


def _integer(value: object) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _kind(value: object) -> str:
    return {dict: "dictionary", list: "list", bool: "boolean", int: "number", float: "number"}.get(type(value), type(value).__name__)
