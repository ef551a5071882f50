"""The public entry points: load a scenario file or text, find a server, resolve a certificate reference.
"""

from __future__ import annotations

import os

from .schema import ScenarioError
from .sections import _validate
from .yaml_lines import _parse_yaml


def load_scenario_text(text: str, filename: str = "<string>") -> dict:
    """Parse, validate and normalise scenario YAML text; raise ScenarioError."""
    if not isinstance(text, str):
        raise TypeError(f"load_scenario_text expects str, got {type(text).__name__}")
    return _validate(_parse_yaml(text, filename), filename)


def load_scenario(path: str | os.PathLike) -> dict:
    """Read, validate and normalise a scenario file; raise ScenarioError."""
    filename = os.fspath(path)
    try:
        with open(filename, encoding="utf-8-sig") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(filename, None, "", f"cannot read scenario: {reason}") from None
    return load_scenario_text(text, filename)


def find_server(scenario: dict, name: str) -> dict | None:
    """The server named ``name`` (case-insensitive), or None."""
    for server in scenario["servers"]:
        if server["name"].lower() == name.lower():
            return server
    return None


def resolve_certificate(scenario: dict, ref: str, server: str | None = None) -> tuple[dict, dict]:
    """Resolve a ``{certificate: ref}`` target to ``(server, certificate)``.

    ``ref`` is ``"SERVER/id"`` or, with ``server`` given, ``"id"`` on that
    server. Raises KeyError when it does not resolve (validated data always
    resolves).
    """
    if "/" in ref:
        server, _, cert_id = ref.partition("/")
    else:
        cert_id = ref
    if server is None:
        raise KeyError(f"certificate reference {ref!r} needs a server")
    host = find_server(scenario, server)
    if host is None:
        raise KeyError(f"no server named {server!r}")
    for cert in host["certificates"]:
        if cert["id"] == cert_id:
            return host, cert
    raise KeyError(f"server {host['name']} has no certificate {cert_id!r}")

