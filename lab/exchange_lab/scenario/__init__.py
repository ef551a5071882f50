"""Load, validate and dump exchange-lab scenario files (format v1).

The format, its keys, defaults, normalisation rules and dump format are specified in
``lab/docs/scenario-format.md``. A saved lab state is itself a scenario: :func:`dump_state`
writes the same format, and ``load_scenario_text(dump_state(s)) == s`` holds for every ``s``
returned by :func:`load_scenario` / :func:`load_scenario_text`.

The package's rooms: :mod:`.schema` (key lists, enum names, the error type),
:mod:`.yaml_lines` (YAML with line numbers), :mod:`.checks` (value checks),
:mod:`.sections` (one check per section, cross-references, ``_validate``),
:mod:`.loader` (the public entry points) and :mod:`.dump` (YAML out).
"""

from __future__ import annotations

from .dump import dump_state
from .loader import find_server, load_scenario, load_scenario_text, resolve_certificate
from .schema import (
    ALLOWED_SERVICES, AUTH_MECHANISMS, CERTIFICATE_PROPERTIES, CERTIFICATE_STATUSES, EDGESYNC_STATES, ENUM_FORMS,
    FAULT_KINDS, FORMAT_VERSION, PERMISSION_GROUPS, ROLES, TLS_AUTH_LEVELS, TRANSPORT_ROLES, Problem, ScenarioError,
)
from .yaml_lines import LineLoader

__all__ = [
    "ALLOWED_SERVICES",
    "AUTH_MECHANISMS",
    "CERTIFICATE_PROPERTIES",
    "CERTIFICATE_STATUSES",
    "EDGESYNC_STATES",
    "ENUM_FORMS",
    "FAULT_KINDS",
    "FORMAT_VERSION",
    "PERMISSION_GROUPS",
    "ROLES",
    "TLS_AUTH_LEVELS",
    "TRANSPORT_ROLES",
    "LineLoader",
    "Problem",
    "ScenarioError",
    "dump_state",
    "find_server",
    "load_scenario",
    "load_scenario_text",
    "resolve_certificate",
]
