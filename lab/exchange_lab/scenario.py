r"""Load, validate and dump exchange-lab scenario files (format v1).

The format is specified in ``lab-scenarios.md`` (shared docs). A saved lab state
is itself a scenario: :func:`dump_state` writes the same format, and
``load_scenario_text(dump_state(s)) == s`` holds for every ``s`` returned by
:func:`load_scenario` / :func:`load_scenario_text`.

Public API
==========

``load_scenario(path) -> dict``
    Read, validate and normalise a scenario file.
``load_scenario_text(text, filename="<string>") -> dict``
    Same, from a string; ``filename`` is only used in error messages.
``dump_state(scenario) -> str``
    Deterministic YAML text for normalised scenario data (format v1).
``ScenarioError(ValueError)``
    Raised with *every* problem found. ``str(e)`` is one line per problem,
    ``"<file>:<line>: <key path>: <message>"``. Attributes: ``file``, ``line``
    (``None`` when the problem has no line, e.g. an unreadable file), ``key``
    and ``message`` describe the first problem; ``problems`` holds every
    formatted line; ``details`` the same as :class:`Problem` tuples.

Helpers for the model: :func:`find_server` and :func:`resolve_certificate`.

Normalised data
===============

Plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` and
``datetime`` values, with the same key names as the file, in the documented
order, and every optional key present (filled with its default). Further rules:

* Dates (``now``, ``not_before``, ``not_after``, event ``time``) accept a YAML
  date (``2025-09-01`` = 00:00:00Z), a YAML datetime or an ISO 8601 string and
  become timezone-aware UTC ``datetime`` objects. A datetime without an offset is
  taken as UTC (as YAML specifies).
* Names of Exchange enums (``role``, ``transport_role``, ``services``,
  ``status``, ``auth_mechanism``, ``permission_groups``, ``tls_auth_level``)
  and the lab's own (fault ``kind``, ``edgesync``, ``certificate_properties``, ``enum_form``)
  are matched case-insensitively and normalised to the documented spelling. A
  flags list that is just ``[None]`` (``services``, ``auth_mechanism``,
  ``permission_groups``) is normalised to ``[]``; ``None`` cannot be combined
  with other names; a name listed twice is an error.
* Server names in ``source_transport_servers``, the ``hybrid_configuration``
  server lists and a ``concurrent_change`` fault's ``connector`` are matched
  case-insensitively and normalised to the declared spelling.
* ``internal_transport_certificate`` / ``edge_subscription_certificate`` are
  certificate ids of the same server (``"id"`` or ``"<this server>/id"``),
  normalised to the bare id.
* ``tls_certificate_name`` is ``None``, a literal string (kept exactly as
  given; its ``<I>...<S>...`` syntax is the model's business) or a reference
  ``{certificate: ref}`` (kept exactly as given). ``ref`` is ``"id"`` (a
  certificate of the same server; receive connectors only) or ``"SERVER/id"``
  (any server; required at organisation level). The certificate must exist
  (``in_store: false`` ones are still referable).
* A self-signed certificate's ``issuer`` is normalised to ``None`` (its issuer
  is its subject).
* Certificate ids are case-sensitive and may not contain ``/``; server names
  are case-insensitive.
* The Edge-only/Mailbox-only keys that do not apply hold ``None``:
  ``transport_role`` on Edge connectors, ``edge_subscription_certificate`` and
  ``edgesync`` on Mailbox servers.

Keys and defaults
=================

"required" means the key must be present; "-" in the default column means
required. Keys marked *state* are written by the lab into saved states and are
optional in hand-written scenarios.

================================  ==========================  ===============================
Key                               Default                     Notes
================================  ==========================  ===============================
**top level**
format                            \-                          must be ``1``
organization                      \-                          non-empty string
now                               ``None``                    ``None`` = real time
latency                           ``{launch_seconds: 0.0}``   mapping
latency.launch_seconds            ``0.0``                     number >= 0, stored as float
replication_lag_seconds           ``0.0``                     number >= 0, stored as float:
                                                              seconds before a directory write
                                                              made through one domain controller
                                                              (dc1/dc2.<organization>.lab) is
                                                              seen through the other
hybrid_configuration              ``None``                    ``None`` = not hybrid
send_connectors                   ``[]``                      organisation-wide
servers                           \-                          non-empty list
**hybrid_configuration**
tls_certificate_name              \- (may be null)            literal, ``{certificate: SERVER/id}``
receiving_transport_servers       \-                          Mailbox server names
sending_transport_servers         \-                          Mailbox server names
edge_transport_servers            \-                          Edge server names; when non-empty
                                                              the two lists above must be empty
**send_connectors[]**
name                              \-                          unique (case-insensitive)
address_spaces                    \-                          non-empty list of strings
source_transport_servers          \-                          existing server names
fqdn                              ``None``                    FQDN
tls_certificate_name              ``None``                    as hybrid_configuration
tls_auth_level                    ``None``                    EncryptionOnly |
                                                              CertificateValidation |
                                                              DomainValidation; needs
                                                              require_tls true
tls_domain                        ``None``                    needs tls_auth_level
                                                              DomainValidation
require_tls                       ``False``
cloud_services_mail_enabled       ``False``
smart_hosts                       ``[]``                      list of strings (not in the doc
                                                              example; HealthChecker uses it)
edge_copies (*state*)             ``None``                    per Edge source server, the
                                                              TlsCertificateName EdgeSync copied
                                                              there (null: none); honoured on
                                                              load, so a saved state reloads as
                                                              it was
outbound_tls (*state*)            ``None``                    derived: per source server "ok"
                                                              or the 454 4.7.5 error; ignored
                                                              on load
**servers[]**
name                              \-                          unique (case-insensitive), an
                                                              Ansible inventory host name
fqdn                              \-                          FQDN
role                              \-                          Mailbox | Edge
version                           \-                          string such as ``"15.2.1544.4"``
certificates                      \-                          list; ids unique per server
internal_transport_certificate    \-                          certificate id of this server
edge_subscription_certificate     ``None``                    Edge only; certificate id of
                                                              this server
transport_change_needs_restart    ``False``
certificate_properties            ``"full"``                  full | remote | raw_data: which
                                                              Get-ExchangeCertificate properties
                                                              reach a client of this server's
                                                              session (a lab extension)
enum_form                         ``"name"``                  name | number: Exchange enum values
                                                              by name or as integers
receive_connectors                \-                          list (may be empty)
faults                            ``[]``
launches (*state*)                ``0``                       integer >= 0
writes (*state*)                  ``0``                       integer >= 0: changing cmdlets
restarts (*state*)                ``0``                       integer >= 0: Restart-Service runs
events (*state*)                  ``[]``                      see events[] below
edgesync (*state*)                ``None``                    Edge only: intact | broken
**certificates[]**
id                                \-                          no ``/``; case-sensitive
subject                           \-                          .NET X500 display string
issuer                            ``None``                    required unless self_signed;
                                                              self-signed: omit or = subject
self_signed                       ``False``
domains                           ``[]``                      list of strings
not_before                        \-                          date/datetime
not_after                         \-                          after not_before
services                          ``[]``                      AllowedServices names
has_private_key                   ``True``
status                            ``"Valid"``                 CertificateStatus name
in_store                          ``True``                    false = removed, still referable
friendly_name                     ``None``                    string (a lab extension: the
                                                              certificate's FriendlyName)
root_ca_type                      Registry when self_signed,  CertificateAuthorityType name:
                                  else ThirdParty             ThirdParty | Enterprise |
                                                              GroupPolicy | Registry | None |
                                                              Unknown (RootCAType)
key                               ``"ECDSA P-256"``           RSA 1024 | RSA 2048 | RSA 3072 |
                                                              RSA 4096 | ECDSA P-256 | ECDSA P-384
signature_hash                    ``"sha256"``                sha1 | sha256 | sha384 | sha512
eku                               both names                  non-empty list of serverAuth,
                                                              clientAuth
include_chain                     ``True``                    false: STARTTLS presents the leaf
                                                              without its issuing CA
exportable                        ``False``                   private key exportable
thumbprint (*state*)              ``None``                    40 upper-case hex characters
**receive_connectors[]**
name                              \-                          unique per server
                                                              (case-insensitive)
transport_role                    \- on Mailbox; ``None``     FrontendTransport | HubTransport;
                                  on Edge                     must be omitted (or null) on Edge
bindings                          \-                          non-empty; ``"IPv4:port"`` or
                                                              ``"[IPv6]:port"``, port 1-65535
fqdn                              ``None``                    FQDN
auth_mechanism                    ``[]``                      AuthMechanism names
permission_groups                 ``[]``                      PermissionGroups names
tls_domain_capabilities           ``[]``                      ``"Domain:Capability[,...]"``
tls_certificate_name              ``None``                    literal, ``{certificate: ref}``
require_tls                       ``False``
remote_ip_ranges                  all IPv4 and IPv6           non-empty; single address, CIDR or
                                                              Lo-Hi range (IPv4 or IPv6)
**faults[]**
kind                              \-                          http_500 | connection_reset |
                                                              timeout | auth_failure |
                                                              access_denied | cmdlet_error |
                                                              snapin_missing | concurrent_change |
                                                              reply_lost | stray_error_record
cmdlet                            ``None``                    ``Verb-Noun``; None = any cmdlet
times                             ``1``                       integer >= 1
occurrence                        ``1``                       integer >= 1: the Nth call of
                                                              ``cmdlet`` within one launch
                                                              (requires ``cmdlet`` when > 1)
connector                         \- (concurrent_change       receive connector of this server
                                  only)                       or send connector name
value                             \- (concurrent_change       string or null: the
                                  only)                       TlsCertificateName it sets
**events[]** (*state*)
id, source, level, time, message  \-                          int >= 0, strings, date/datetime,
                                                              string (message may be empty)
================================  ==========================  ===============================

Dump format
===========

:func:`dump_state` writes the keys in the order of the table above, every key
of the normalised data including nulls, except keys that do not apply and the
doc says to omit: ``issuer`` of a self-signed certificate, ``transport_role``
on Edge connectors, ``edge_subscription_certificate`` and ``edgesync`` on
Mailbox servers (when ``None``). Datetimes are written as ISO 8601 UTC with a
``Z`` suffix, lists of scalars and ``{certificate: ref}`` in flow style,
strings quoted only where YAML needs it (double-quoted when they hold control
characters or line breaks). Unknown keys make it raise ``ValueError``.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import yaml

from ansible_collections.exchange.transport_tls.plugins.module_utils import receive_selection

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

FORMAT_VERSION = 1

ROLES = ("Mailbox", "Edge")
TRANSPORT_ROLES = ("FrontendTransport", "HubTransport")
ALLOWED_SERVICES = ("None", "Federation", "IIS", "IMAP", "POP", "SMTP", "UM", "UMCallRouter")
CERTIFICATE_STATUSES = (
    "DateInvalid", "Invalid", "PendingRequest", "RevocationCheckFailure",
    "Revoked", "Unknown", "Untrusted", "Valid",
)
AUTH_MECHANISMS = (
    "None", "Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS",
    "ExchangeServer", "ExternalAuthoritative",
)
PERMISSION_GROUPS = (
    "None", "AnonymousUsers", "ExchangeUsers", "ExchangeServers",
    "ExchangeLegacyServers", "Partners", "Custom",
)
TLS_AUTH_LEVELS = ("EncryptionOnly", "CertificateValidation", "DomainValidation")
FAULT_KINDS = (
    "http_500", "connection_reset", "timeout", "auth_failure", "access_denied",
    "cmdlet_error", "snapin_missing", "concurrent_change", "reply_lost", "stray_error_record",
)
EDGESYNC_STATES = ("intact", "broken")
# What Get-ExchangeCertificate objects keep on the way to the client
# (exchange-reference.md section 1): the EMS view, a plain remote session's
# X509Certificate2 members, or RawData alone after a failed signed deserialisation.
CERTIFICATE_PROPERTIES = ("full", "remote", "raw_data")
# How Exchange enum values reach the client (lab-scenarios.md, Additions): by name
# ("IMAP, POP, IIS, SMTP") or, from a session that could not rehydrate them, as integers (27).
ENUM_FORMS = ("name", "number")
# Certificate quality (lab-scenarios.md, Additions): what the minted certificate really is.
CERTIFICATE_KEY_TYPES = ("RSA 1024", "RSA 2048", "RSA 3072", "RSA 4096", "ECDSA P-256", "ECDSA P-384")
SIGNATURE_HASHES = ("sha1", "sha256", "sha384", "sha512")
# The lab's key when a scenario names none: what it minted before the key was a choice, so every
# thumbprint of an existing scenario that names no key stays the same.
DEFAULT_KEY_TYPE = "ECDSA P-256"
EKU_NAMES = ("serverAuth", "clientAuth")

# Documented key order (also the dump order).
TOP_KEYS = ("format", "organization", "now", "latency", "hybrid_configuration",
            "send_connectors", "servers",
            "replication_lag_seconds", "auth_certificate")
# auth_certificate (rollout): what Get-AuthConfig names, {certificate: SERVER/id[, next_certificate: SERVER/id]}.
AUTH_CERTIFICATE_KEYS = ("certificate", "next_certificate")
LATENCY_KEYS = ("launch_seconds",)
HYBRID_KEYS = ("tls_certificate_name", "receiving_transport_servers",
               "sending_transport_servers", "edge_transport_servers")
SEND_CONNECTOR_KEYS = ("name", "address_spaces", "source_transport_servers", "fqdn",
                       "tls_certificate_name", "tls_auth_level", "tls_domain", "require_tls",
                       "cloud_services_mail_enabled", "smart_hosts",
                       # state-only, derived: recomputed by the lab, ignored on load
                       "outbound_tls",
                       # state-only: each Edge source server's EdgeSync copy of tls_certificate_name
                       "edge_copies")
SERVER_KEYS = ("name", "fqdn", "role", "version", "certificates",
               "internal_transport_certificate", "edge_subscription_certificate",
               "transport_change_needs_restart", "certificate_properties", "enum_form",
               "receive_connectors", "faults",
               # state-only
               "launches", "writes", "restarts", "events", "edgesync")
CERTIFICATE_KEYS = ("id", "subject", "issuer", "self_signed", "domains", "not_before",
                    "not_after", "services", "has_private_key", "status", "in_store",
                    "friendly_name", "root_ca_type",
                    "key", "signature_hash", "eku", "include_chain", "exportable",
                    # state-only
                    "thumbprint")
RECEIVE_CONNECTOR_KEYS = ("name", "transport_role", "bindings", "fqdn", "auth_mechanism",
                          "permission_groups", "tls_domain_capabilities",
                          "tls_certificate_name", "require_tls", "remote_ip_ranges")
FAULT_KEYS = ("kind", "cmdlet", "times", "occurrence")
CONCURRENT_CHANGE_KEYS = FAULT_KEYS + ("connector", "value")
EVENT_KEYS = ("id", "source", "level", "time", "message")
CERTIFICATE_REF_KEYS = ("certificate",)

_RESERVED_HOST_NAMES = ("all", "ungrouped", "localhost")
_HOST_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_FQDN_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")
_VERSION_RE = re.compile(r"\d+(?:\.\d+){1,3}\Z")
_THUMBPRINT_RE = re.compile(r"[0-9A-F]{40}\Z")
_CMDLET_RE = re.compile(r"[A-Za-z]+-[A-Za-z0-9]+\Z")
_BINDING_V4_RE = re.compile(r"([0-9.]+):([0-9]+)\Z")
_BINDING_V6_RE = re.compile(r"\[([^\]]+)\]:([0-9]+)\Z")
_DATE_ONLY_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


# --------------------------------------------------------------------------- errors


class Problem(NamedTuple):
    """One validation problem."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario file is invalid; carries every problem found.

    ``ScenarioError(file, line, key, message)`` builds a one-problem error;
    ``ScenarioError(details=[Problem, ...])`` one with several.
    """

    def __init__(self, file: str = "<string>", line: int | None = None, key: str = "",
                 message: str = "", *, details: Iterable[Problem] | None = None) -> None:
        problems = list(details) if details is not None else [Problem(file, line, key, message)]
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.details: list[Problem] = problems
        first = problems[0]
        self.file: str = first.file
        self.line: int | None = first.line
        self.key: str = first.key
        self.message: str = first.message
        self.problems: list[str] = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (_rebuild_error, (self.details,))


def _rebuild_error(details: list[Problem]) -> ScenarioError:
    return ScenarioError(details=details)


# --------------------------------------------------------------------------- YAML with lines


class _LineDict(dict):
    """A mapping that remembers where its keys and values start (1-based lines)."""

    line: int
    key_lines: dict
    value_lines: dict
    duplicates: list  # (key, line, first_line)


class _LineList(list):
    """A sequence that remembers where it and each item start (1-based lines)."""

    line: int
    item_lines: list


class LineLoader(yaml.SafeLoader):
    """SafeLoader that records the start line of every mapping key and value
    and every sequence item, and notes duplicate keys instead of dropping them."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> _LineDict:
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)  # resolves << merge keys; merged pairs come first
    first_own = len(node.value) - own
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines, result.value_lines, result.duplicates = {}, {}, []
    from_merge: set = set()
    for position, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found unhashable key", key_node.start_mark) from None
        value = loader.construct_object(value_node, deep=True)
        key_line = key_node.start_mark.line + 1
        if key in result and position >= first_own and key not in from_merge:
            result.duplicates.append((key, key_line, result.key_lines[key]))
        if position < first_own:
            from_merge.add(key)
        else:
            from_merge.discard(key)
        result[key] = value
        result.key_lines[key] = key_line
        result.value_lines[key] = value_node.start_mark.line + 1
    return result


def _construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList()
    result.line = node.start_mark.line + 1
    result.item_lines = []
    for child in node.value:
        result.append(loader.construct_object(child, deep=True))
        result.item_lines.append(child.start_mark.line + 1)
    return result


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _parse_yaml(text: str, filename: str) -> Any:
    try:
        loader = LineLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        parts = []
        if exc.context:
            ctx_line = f" (line {exc.context_mark.line + 1})" if exc.context_mark else ""
            parts.append(f"{exc.context}{ctx_line}")
        if exc.problem:
            parts.append(exc.problem)
        message = "YAML syntax error: " + ": ".join(parts)
        raise ScenarioError(filename, mark.line + 1 if mark else None, "", message) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(filename, None, "", f"YAML error: {exc}") from None


# --------------------------------------------------------------------------- validation core


class _Bad:
    def __repr__(self) -> str:
        return "<invalid>"


_BAD: Any = _Bad()
_REQUIRED: Any = object()

Check = Callable[["_Ctx", Any, str, int], Any]


class _Ctx:
    def __init__(self, filename: str) -> None:
        self.file = filename
        self.problems: list[Problem] = []

    def err(self, line: int | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, key, message))


def _join(path: str, key: Any) -> str:
    key = key if isinstance(key, str) else repr(key)
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, (set, frozenset)):
        return "set"
    return type(value).__name__


def _found(value: Any) -> str:
    kind = _kind(value)
    if isinstance(value, bool):
        return f"{kind} {'true' if value else 'false'}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"{kind} {shown!r}"
    if isinstance(value, (int, float)):
        return f"{kind} {value!r}"
    if isinstance(value, (date, datetime)):
        return f"{kind} {value.isoformat()}"
    return kind


def _type_error(ctx: _Ctx, line: int, path: str, expected: str, value: Any,
                quote_hint: bool = False) -> Any:
    message = f"expected {expected}, found {_found(value)}"
    if quote_hint and isinstance(value, (bool, int, float, date)):
        message += " (quote the value to make it a string)"
    ctx.err(line, path, message)
    return _BAD


def _names(values: Iterable[str]) -> str:
    values = list(values)
    return ", ".join(values) if values else "(none)"


class _Map:
    """A type-checked raw mapping plus where it came from."""

    def __init__(self, ctx: _Ctx, raw: dict, path: str, line: int) -> None:
        self.ctx, self.raw, self.path, self.line = ctx, raw, path, line
        self.value_lines = getattr(raw, "value_lines", {})
        self.key_lines = getattr(raw, "key_lines", {})

    def has(self, key: str) -> bool:
        return key in self.raw

    def vline(self, key: str) -> int:
        return self.value_lines.get(key, self.line)

    def p(self, key: str) -> str:
        return _join(self.path, key)

    def get(self, key: str, check: Check, default: Any = _REQUIRED) -> Any:
        if key in self.raw:
            return check(self.ctx, self.raw[key], self.p(key), self.vline(key))
        if default is _REQUIRED:
            self.ctx.err(self.line, self.p(key), "required key is missing")
            return _BAD
        return default() if callable(default) else default


def _maps(ctx: _Ctx, value: Any, path: str, line: int, allowed: Sequence[str]) -> list[_Map] | None:
    """Each mapping of a list, opened with its allowed keys; a bad item is reported and left out.

    None when the value is not a list at all (also reported).
    """
    items = _items(ctx, value, path, line)
    if items is None:
        return None
    opened = (_open_map(ctx, raw, item_path, item_line, allowed) for item_path, raw, item_line in items)
    return [m for m in opened if m is not None]


def _open_map(ctx: _Ctx, value: Any, path: str, line: int, allowed: Sequence[str],
              hint: Callable[[Any], str | None] | None = None,
              expected: str = "a mapping") -> _Map | None:
    if not isinstance(value, dict):
        _type_error(ctx, line, path, expected, value)
        return None
    line = getattr(value, "line", line)
    key_lines = getattr(value, "key_lines", {})
    for key, key_line, first_line in getattr(value, "duplicates", ()):
        ctx.err(key_line, _join(path, key), f"duplicate key {key!r} (first given at line {first_line})")
    for key in value:
        if key not in allowed:
            message = hint(key) if hint else None
            if message is None:
                message = f"unknown key {key!r}; valid: {', '.join(allowed)}"
            ctx.err(key_lines.get(key, line), _join(path, key), message)
    return _Map(ctx, value, path, line)


def _items(ctx: _Ctx, value: Any, path: str, line: int, expected: str = "a list"):
    """Yield (path, item, line) for each item of a list, or report a type error."""
    if not isinstance(value, list):
        _type_error(ctx, line, path, expected, value)
        return None
    lines = getattr(value, "item_lines", None) or [line] * len(value)
    return [(f"{path}[{i}]", item, item_line) for i, (item, item_line) in enumerate(zip(value, lines, strict=True))]


# --------------------------------------------------------------------------- scalar checks


def _string(ctx: _Ctx, value: Any, path: str, line: int, *, nullable: bool = False,
            allow_empty: bool = False) -> Any:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        return _type_error(ctx, line, path, "a string or null" if nullable else "a string", value,
                           quote_hint=True)
    if not allow_empty and not value.strip():
        ctx.err(line, path, "must not be empty")
        return _BAD
    return value


def _nullable_string(ctx, value, path, line):
    return _string(ctx, value, path, line, nullable=True)


def _any_string(ctx, value, path, line):
    return _string(ctx, value, path, line, allow_empty=True)


def _nullable_any_string(ctx, value, path, line):
    return None if value is None else _any_string(ctx, value, path, line)


def _outbound_tls(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    """State-only: per source server, 'ok' or the SMTP error mail through it gets."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return _type_error(ctx, line, path, "a mapping of server name to status text", value)
    return dict(value)


def _edge_copies(index: "_Index") -> Check:
    """State: per Edge server, the TlsCertificateName EdgeSync copied there (a string or null)."""
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            return _type_error(ctx, line, path, "a mapping of Edge server name to TlsCertificateName (or null)", value)
        out = {}
        for name, copy in value.items():
            info = index.by_name.get(name.lower()) if isinstance(name, str) else None
            if info is None or info.role != "Edge":
                edges = [i.name for i in index.by_name.values() if i.role == "Edge"]
                ctx.err(line, f"{path}.{name}", f"not an Edge server of the scenario; valid: {_names(edges)}")
                continue
            if copy is not None and not isinstance(copy, str):
                _type_error(ctx, line, f"{path}.{name}", "a string or null", copy)
                continue
            out[info.name] = copy
        return out
    return check


def _boolean(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    if not isinstance(value, bool):
        return _type_error(ctx, line, path, "true or false", value)
    return value


def _integer(ctx: _Ctx, value: Any, path: str, line: int, minimum: int = 0) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        return _type_error(ctx, line, path, "an integer", value)
    if value < minimum:
        ctx.err(line, path, f"must be an integer >= {minimum}, found {value}")
        return _BAD
    return value


def _count(ctx, value, path, line):
    return _integer(ctx, value, path, line, 0)


def _positive(ctx, value, path, line):
    return _integer(ctx, value, path, line, 1)


class _Enum:
    def __init__(self, label: str, values: Sequence[str]) -> None:
        self.label, self.values = label, tuple(values)
        self.by_lower = {v.lower(): v for v in values}

    def lookup(self, value: Any) -> str | None:
        return self.by_lower.get(value.lower()) if isinstance(value, str) else None

    def check(self, ctx: _Ctx, value: Any, path: str, line: int, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            expected = f"{self.label} (a string{' or null' if nullable else ''})"
            return _type_error(ctx, line, path, expected, value)
        found = self.lookup(value)
        if found is None:
            ctx.err(line, path, f"{value!r} is not {self.label}; valid: {', '.join(self.values)}")
            return _BAD
        return found

    def nullable(self, ctx, value, path, line):
        return self.check(ctx, value, path, line, nullable=True)

    def flags(self, ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        items = _items(ctx, value, path, line, f"a list of {self.label.split(' ', 1)[1]}s")
        if items is None:
            return _BAD
        out: list[str] = []
        seen: dict[str, str] = {}
        for item_path, item, item_line in items:
            name = self.check(ctx, item, item_path, item_line)
            if name is _BAD:
                continue
            if name in seen:
                ctx.err(item_line, item_path, f"{name!r} is listed twice (also {seen[name]})")
                continue
            seen[name] = item_path
            out.append(name)
        if "None" in out and len(out) > 1:
            ctx.err(line, path, "'None' cannot be combined with other names")
            return _BAD
        return [] if out == ["None"] else out


_ROLE = _Enum("a server role", ROLES)
_TRANSPORT_ROLE = _Enum("a TransportRole", TRANSPORT_ROLES)
_SERVICES = _Enum("an AllowedServices name", ALLOWED_SERVICES)
_STATUS = _Enum("a CertificateStatus name", CERTIFICATE_STATUSES)
# Get-ExchangeCertificate's RootCAType (CertificateAuthorityType): where the chain's root is trusted from.
ROOT_CA_TYPES = ("ThirdParty", "Enterprise", "GroupPolicy", "Registry", "None", "Unknown")
_ROOT_CA_TYPE = _Enum("a RootCAType (CertificateAuthorityType) name", ROOT_CA_TYPES)
_AUTH = _Enum("an AuthMechanism name", AUTH_MECHANISMS)
_PERMISSION = _Enum("a PermissionGroups name", PERMISSION_GROUPS)
_TLS_AUTH_LEVEL = _Enum("a TlsAuthLevel", TLS_AUTH_LEVELS)
_FAULT_KIND = _Enum("a fault kind", FAULT_KINDS)
_EDGESYNC = _Enum("an edgesync state", EDGESYNC_STATES)
_CERTIFICATE_PROPERTIES = _Enum("a certificate_properties view", CERTIFICATE_PROPERTIES)
_ENUM_FORM = _Enum("an enum_form", ENUM_FORMS)
_KEY_TYPE = _Enum("a certificate key", CERTIFICATE_KEY_TYPES)
_SIGNATURE_HASH = _Enum("a signature hash", SIGNATURE_HASHES)
_EKU = _Enum("an extended key usage name", EKU_NAMES)


def _eku(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    names = _EKU.flags(ctx, value, path, line)
    if names is not _BAD and not names:
        ctx.err(line, path, f"must name at least one of {', '.join(EKU_NAMES)}")
        return _BAD
    return names


def _ip_range(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    text = _string(ctx, value, path, line)
    if text is _BAD:
        return _BAD
    try:
        receive_selection.parse_ip_range(text)
    except ValueError as exc:
        ctx.err(line, path, str(exc))
        return _BAD
    return text


def _string_list(ctx: _Ctx, value: Any, path: str, line: int, *, nonempty: bool = False,
                 item: Check | None = None) -> Any:
    items = _items(ctx, value, path, line, "a list of strings")
    if items is None:
        return _BAD
    if nonempty and not items:
        ctx.err(line, path, "must not be empty")
        return _BAD
    out = []
    for item_path, raw, item_line in items:
        checked = (item or _string)(ctx, raw, item_path, item_line)
        if checked is not _BAD:
            out.append(checked)
    return out


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _when(ctx: _Ctx, value: Any, path: str, line: int, nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    if isinstance(value, datetime):
        return _to_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_ONLY_RE.match(text):
                day = date.fromisoformat(text)
                return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return _to_utc(datetime.fromisoformat(text))
        except ValueError:
            ctx.err(line, path, f"{value!r} is not an ISO 8601 date or datetime "
                                "(e.g. 2025-09-01 or 2025-09-01T00:00:00Z)")
            return _BAD
    expected = "a date or datetime (2025-09-01, 2025-09-01T00:00:00Z)"
    return _type_error(ctx, line, path, expected + (" or null" if nullable else ""), value)


def _nullable_when(ctx, value, path, line):
    return _when(ctx, value, path, line, nullable=True)


def _fqdn(ctx: _Ctx, value: Any, path: str, line: int, nullable: bool = False) -> Any:
    text = _string(ctx, value, path, line, nullable=nullable)
    if text is None or text is _BAD:
        return text
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if len(text) > 253 or not all(_FQDN_LABEL_RE.match(label) for label in labels):
        ctx.err(line, path, f"{text!r} is not an FQDN (DNS labels of letters, digits and '-', "
                            "separated by dots)")
        return _BAD
    return text


def _nullable_fqdn(ctx, value, path, line):
    return _fqdn(ctx, value, path, line, nullable=True)


def _format(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        return _type_error(ctx, line, path, "an integer", value)
    if value != FORMAT_VERSION:
        ctx.err(line, path, f"unsupported format {value}; valid: {FORMAT_VERSION}")
        return _BAD
    return value


def _server_name(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    text = _string(ctx, value, path, line)
    if text is _BAD:
        return _BAD
    if not _HOST_NAME_RE.match(text):
        ctx.err(line, path, f"{text!r} is not usable as an Ansible inventory host name: use "
                            "letters, digits and '-' (not first or last), at most 63 characters")
        return _BAD
    if text.lower() in _RESERVED_HOST_NAMES:
        ctx.err(line, path, f"{text!r} is reserved in Ansible inventories "
                            f"(reserved: {', '.join(_RESERVED_HOST_NAMES)})")
        return _BAD
    return text


def _version(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    text = _string(ctx, value, path, line)
    if text is not _BAD and not _VERSION_RE.match(text):
        ctx.err(line, path, f"{text!r} is not an Exchange build number (e.g. \"15.2.1544.4\")")
        return _BAD
    return text


def _cert_id(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    text = _string(ctx, value, path, line)
    if text is _BAD:
        return _BAD
    if "/" in text or text != text.strip():
        ctx.err(line, path, f"{text!r} is not a certificate id: no '/' and no leading or "
                            "trailing spaces")
        return _BAD
    return text


def _matching(pattern: re.Pattern, what: str) -> Check:
    """A nullable string that must match `pattern`; `what` says what was expected."""
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        text = _string(ctx, value, path, line, nullable=True)
        if isinstance(text, str) and not pattern.match(text):
            ctx.err(line, path, f"{text!r} is not {what}")
            return _BAD
        return text
    return check


_thumbprint = _matching(_THUMBPRINT_RE, "a thumbprint (40 upper-case hex characters)")
_cmdlet = _matching(_CMDLET_RE, "a cmdlet name (Verb-Noun, e.g. Set-ReceiveConnector)")


def _binding(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    text = _string(ctx, value, path, line)
    if text is _BAD:
        return _BAD
    usage = "expected \"IPv4:port\" (e.g. \"0.0.0.0:25\") or \"[IPv6]:port\" (e.g. \"[::]:25\")"
    match = _BINDING_V6_RE.match(text)
    parse: Callable[[str], Any] = ipaddress.IPv6Address
    if match is None:
        match = _BINDING_V4_RE.match(text)
        parse = ipaddress.IPv4Address
    if match is None:
        ctx.err(line, path, f"{text!r} is not a binding; {usage}")
        return _BAD
    try:
        parse(match.group(1))
    except ValueError:
        ctx.err(line, path, f"{text!r}: {match.group(1)!r} is not an IP address; {usage}")
        return _BAD
    port = int(match.group(2))
    if not 1 <= port <= 65535:
        ctx.err(line, path, f"{text!r}: port {port} is out of range; valid: 1-65535")
        return _BAD
    return text


def _domain_capability(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    text = _string(ctx, value, path, line)
    if text is _BAD:
        return _BAD
    domain, sep, capabilities = text.partition(":")
    if not sep or not domain.strip() or not all(c.strip() for c in capabilities.split(",")):
        ctx.err(line, path, f"{text!r} is not \"Domain:Capability[,Capability...]\" "
                            "(e.g. \"mail.protection.outlook.com:AcceptCloudServicesMail\")")
        return _BAD
    return text


def _launch_seconds(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return _type_error(ctx, line, path, "a number", value)
    if not math.isfinite(value) or value < 0:
        ctx.err(line, path, f"must be a finite number >= 0, found {value!r}")
        return _BAD
    return float(value)


def _unique(ctx: _Ctx, seen: dict, name: Any, path: str, line: int, what: str,
            fold: bool = True) -> None:
    """Report ``name`` if already in ``seen`` (maps folded name -> first path)."""
    if not isinstance(name, str):
        return
    key = name.lower() if fold else name
    if key in seen:
        note = " (names are case-insensitive)" if fold else ""
        ctx.err(line, path, f"duplicate {what} {name!r}; first given at {seen[key]}{note}")
    else:
        seen[key] = path


# --------------------------------------------------------------------------- cross references


class _ServerInfo(NamedTuple):
    name: str
    role: str | None
    cert_ids: tuple[str, ...]
    receive_connectors: dict  # lower name -> declared name


class _Index:
    """Names gathered before validation so references can be checked in place."""

    def __init__(self, data: Any) -> None:
        self.by_position: list[_ServerInfo | None] = []
        self.by_name: dict[str, _ServerInfo] = {}
        self.send_connectors: dict[str, str] = {}
        if not isinstance(data, dict):
            return
        servers = data.get("servers")
        for server in servers if isinstance(servers, list) else ():
            info = None
            if isinstance(server, dict) and isinstance(server.get("name"), str):
                certs = server.get("certificates")
                ids = [c.get("id") for c in certs if isinstance(c, dict)] if isinstance(certs, list) else []
                rcs = server.get("receive_connectors")
                rc_names: dict[str, str] = {}
                for connector in rcs if isinstance(rcs, list) else ():
                    if isinstance(connector, dict) and isinstance(connector.get("name"), str):
                        rc_names.setdefault(connector["name"].lower(), connector["name"])
                info = _ServerInfo(
                    server["name"], _ROLE.lookup(server.get("role")),
                    tuple(dict.fromkeys(i for i in ids if isinstance(i, str))), rc_names)
                self.by_name.setdefault(info.name.lower(), info)
            self.by_position.append(info)
        send = data.get("send_connectors")
        for connector in send if isinstance(send, list) else ():
            if isinstance(connector, dict) and isinstance(connector.get("name"), str):
                self.send_connectors.setdefault(connector["name"].lower(), connector["name"])

    def server_names(self) -> list[str]:
        return [info.name for info in self.by_name.values()]

    def all_cert_refs(self) -> list[str]:
        return [f"{info.name}/{cid}" for info in self.by_name.values() for cid in info.cert_ids]


def _check_ref(ctx: _Ctx, ref: str, path: str, line: int, index: _Index,
               local: _ServerInfo | None, *, allow_local: bool) -> bool:
    """Check a certificate reference "id" (``local`` server) or "SERVER/id"."""
    if "/" in ref:
        server_name, _, cert_id = ref.partition("/")
        info = index.by_name.get(server_name.lower())
        if info is None:
            ctx.err(line, path, f"certificate reference {ref!r}: no server named {server_name!r}; "
                                f"servers: {_names(index.server_names())}")
            return False
        if cert_id not in info.cert_ids:
            ctx.err(line, path, f"certificate reference {ref!r}: server {info.name} has no "
                                f"certificate {cert_id!r}; ids on {info.name}: {_names(info.cert_ids)}")
            return False
        return True
    if not allow_local:
        ctx.err(line, path, f"certificate reference {ref!r} must name its server "
                            f"(\"SERVER/id\") here; certificates: {_names(index.all_cert_refs())}")
        return False
    if local is None:
        return False  # the server itself is invalid; reported elsewhere
    if ref not in local.cert_ids:
        ctx.err(line, path, f"certificate reference {ref!r}: server {local.name} has no "
                            f"certificate {ref!r}; ids on {local.name}: {_names(local.cert_ids)}")
        return False
    return True


def _tls_certificate_name(index: _Index, local: _ServerInfo | None, allow_local: bool) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            ref_map = _open_map(ctx, value, path, line, CERTIFICATE_REF_KEYS)
            ref = ref_map.get("certificate", _string)
            if ref is _BAD:
                return _BAD
            ok = _check_ref(ctx, ref, ref_map.p("certificate"), ref_map.vline("certificate"),
                            index, local, allow_local=allow_local)
            return {"certificate": ref} if ok else _BAD
        return _type_error(ctx, line, path, "a literal TlsCertificateName string, "
                                            "{certificate: ref} or null", value)
    return check


def _own_cert(local: _ServerInfo | None) -> Check:
    """A certificate id of the same server: "id" or "<this server>/id" -> "id"."""

    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        ref = _string(ctx, value, path, line)
        if ref is _BAD or local is None:
            return _BAD
        cert_id = ref
        if "/" in ref:
            server_name, _, cert_id = ref.partition("/")
            if server_name.lower() != local.name.lower():
                ctx.err(line, path, f"{ref!r} must be a certificate of this server ({local.name}); "
                                    f"ids on {local.name}: {_names(local.cert_ids)}")
                return _BAD
        if cert_id not in local.cert_ids:
            ctx.err(line, path, f"certificate reference {ref!r}: server {local.name} has no "
                                f"certificate {cert_id!r}; ids on {local.name}: {_names(local.cert_ids)}")
            return _BAD
        return cert_id
    return check


def _server_list(index: _Index, role: str | None, what: str) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        items = _items(ctx, value, path, line, "a list of server names")
        if items is None:
            return _BAD
        out: list[str] = []
        seen: dict[str, str] = {}
        for item_path, raw, item_line in items:
            name = _string(ctx, raw, item_path, item_line)
            if name is _BAD:
                continue
            info = index.by_name.get(name.lower())
            if info is None:
                ctx.err(item_line, item_path, f"no server named {name!r}; servers: "
                                              f"{_names(index.server_names())}")
                continue
            if role is not None and info.role is not None and info.role != role:
                valid = [i.name for i in index.by_name.values() if i.role == role]
                ctx.err(item_line, item_path, f"{info.name} has role {info.role}; {what} must name "
                                              f"{role} servers; valid: {_names(valid)}")
                continue
            if info.name.lower() in seen:
                ctx.err(item_line, item_path, f"{info.name!r} is listed twice (also {seen[info.name.lower()]})")
                continue
            seen[info.name.lower()] = item_path
            out.append(info.name)
        return out
    return check


# --------------------------------------------------------------------------- sections


def _latency(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    m = _open_map(ctx, value, path, line, LATENCY_KEYS)
    if m is None:
        return _BAD
    return {"launch_seconds": m.get("launch_seconds", _launch_seconds, 0.0)}


def _hybrid(index: _Index) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        if value is None:
            return None
        m = _open_map(ctx, value, path, line, HYBRID_KEYS, expected="a mapping or null")
        if m is None:
            return _BAD
        out = {
            "tls_certificate_name": m.get("tls_certificate_name",
                                          _tls_certificate_name(index, None, allow_local=False)),
            "receiving_transport_servers": m.get(
                "receiving_transport_servers", _server_list(index, "Mailbox", "receiving_transport_servers")),
            "sending_transport_servers": m.get(
                "sending_transport_servers", _server_list(index, "Mailbox", "sending_transport_servers")),
            "edge_transport_servers": m.get(
                "edge_transport_servers", _server_list(index, "Edge", "edge_transport_servers")),
        }
        edge, receiving, sending = (out["edge_transport_servers"], out["receiving_transport_servers"],
                                    out["sending_transport_servers"])
        if edge and edge is not _BAD and (receiving or sending) and _BAD not in (receiving, sending):
            ctx.err(m.vline("edge_transport_servers"), m.p("edge_transport_servers"),
                    "when edge_transport_servers is set, receiving_transport_servers and "
                    "sending_transport_servers must be empty (Set-HybridConfiguration)")
        return out
    return check


def _send_connectors(index: _Index) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        maps = _maps(ctx, value, path, line, SEND_CONNECTOR_KEYS)
        if maps is None:
            return _BAD
        seen: dict[str, str] = {}
        out = []
        for m in maps:
            connector = {
                "name": m.get("name", _string),
                "address_spaces": m.get("address_spaces",
                                        lambda *a: _string_list(*a, nonempty=True)),
                "source_transport_servers": m.get(
                    "source_transport_servers", _server_list(index, None, "source_transport_servers")),
                "fqdn": m.get("fqdn", _nullable_fqdn, None),
                "tls_certificate_name": m.get(
                    "tls_certificate_name", _tls_certificate_name(index, None, allow_local=False), None),
                "tls_auth_level": m.get("tls_auth_level", _TLS_AUTH_LEVEL.nullable, None),
                "tls_domain": m.get("tls_domain", _nullable_string, None),
                "require_tls": m.get("require_tls", _boolean, False),
                "cloud_services_mail_enabled": m.get("cloud_services_mail_enabled", _boolean, False),
                "smart_hosts": m.get("smart_hosts", _string_list, list),
                "outbound_tls": m.get("outbound_tls", _outbound_tls, None),
                "edge_copies": m.get("edge_copies", _edge_copies(index), None),
            }
            _unique(ctx, seen, connector["name"], m.p("name"), m.vline("name"), "send connector name")
            copies, sources = connector["edge_copies"], connector["source_transport_servers"]
            if isinstance(copies, dict) and isinstance(sources, list):
                for name in [n for n in copies if n not in sources]:
                    ctx.err(m.vline("edge_copies"), f"{m.p('edge_copies')}.{name}",
                            f"{name} is not a source server of this connector; valid: {_names(sources)}")
            level = connector["tls_auth_level"]
            if isinstance(connector["tls_domain"], str) and level not in ("DomainValidation", _BAD):
                ctx.err(m.vline("tls_domain"), m.p("tls_domain"),
                        f"tls_domain can only be set when tls_auth_level is DomainValidation "
                        f"(it is {level})")
            if isinstance(level, str) and connector["require_tls"] is False:
                ctx.err(m.vline("tls_auth_level"), m.p("tls_auth_level"),
                        "tls_auth_level can only be set when require_tls is true")
            out.append(connector)
        return out
    return check


def _certificates(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    maps = _maps(ctx, value, path, line, CERTIFICATE_KEYS)
    if maps is None:
        return _BAD
    seen: dict[str, str] = {}
    out = []
    for m in maps:
        cert = {
            "id": m.get("id", _cert_id),
            "subject": m.get("subject", _string),
            "issuer": m.get("issuer", _nullable_string, None),
            "self_signed": m.get("self_signed", _boolean, False),
            "domains": m.get("domains", _string_list, list),
            "not_before": m.get("not_before", _when),
            "not_after": m.get("not_after", _when),
            "services": m.get("services", _SERVICES.flags, list),
            "has_private_key": m.get("has_private_key", _boolean, True),
            "status": m.get("status", _STATUS.check, "Valid"),
            "in_store": m.get("in_store", _boolean, True),
            "friendly_name": m.get("friendly_name", _nullable_any_string, None),
            "root_ca_type": m.get("root_ca_type", _ROOT_CA_TYPE.check, None),
            "key": m.get("key", _KEY_TYPE.check, DEFAULT_KEY_TYPE),
            "signature_hash": m.get("signature_hash", _SIGNATURE_HASH.check, "sha256"),
            "eku": m.get("eku", _eku, lambda: list(EKU_NAMES)),
            "include_chain": m.get("include_chain", _boolean, True),
            "exportable": m.get("exportable", _boolean, False),
            "thumbprint": m.get("thumbprint", _thumbprint, None),
        }
        if cert["root_ca_type"] is None and isinstance(cert["self_signed"], bool):
            cert["root_ca_type"] = "Registry" if cert["self_signed"] else "ThirdParty"
        _unique(ctx, seen, cert["id"], m.p("id"), m.vline("id"), "certificate id", fold=False)
        issuer, subject = cert["issuer"], cert["subject"]
        if cert["self_signed"] is True:
            if isinstance(issuer, str) and isinstance(subject, str) and issuer != subject:
                ctx.err(m.vline("issuer"), m.p("issuer"),
                        f"a self-signed certificate's issuer is its subject ({subject!r}); "
                        f"omit issuer or set it to the subject, found {issuer!r}")
            if issuer is not _BAD:
                cert["issuer"] = None
        elif cert["self_signed"] is False and issuer is None:
            ctx.err(m.vline("issuer") if m.has("issuer") else m.line, m.p("issuer"),
                    "required when self_signed is false (the issuing CA's subject)")
        start, end = cert["not_before"], cert["not_after"]
        if isinstance(start, datetime) and isinstance(end, datetime) and end <= start:
            ctx.err(m.vline("not_after"), m.p("not_after"),
                    f"must be after not_before ({_iso(end)} <= {_iso(start)})")
        out.append(cert)
    return out


def _receive_connectors(index: _Index, local: _ServerInfo | None, role: Any) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        maps = _maps(ctx, value, path, line, RECEIVE_CONNECTOR_KEYS)
        if maps is None:
            return _BAD
        seen: dict[str, str] = {}
        out = []
        for m in maps:
            if role == "Edge":
                transport_role = None
                if m.has("transport_role") and m.raw["transport_role"] is not None:
                    ctx.err(m.vline("transport_role"), m.p("transport_role"),
                            "must be omitted on an Edge server (TransportRole cannot be set on "
                            f"Edge; {', '.join(TRANSPORT_ROLES)} are Mailbox connector roles)")
            elif role == "Mailbox":
                transport_role = m.get("transport_role", _TRANSPORT_ROLE.check)
            else:  # unknown role: reported elsewhere; only check the value
                transport_role = m.get("transport_role", _TRANSPORT_ROLE.nullable, None)
            connector = {
                "name": m.get("name", _string),
                "transport_role": transport_role,
                "bindings": m.get("bindings", lambda *a: _string_list(*a, nonempty=True, item=_binding)),
                "fqdn": m.get("fqdn", _nullable_fqdn, None),
                "auth_mechanism": m.get("auth_mechanism", _AUTH.flags, list),
                "permission_groups": m.get("permission_groups", _PERMISSION.flags, list),
                "tls_domain_capabilities": m.get(
                    "tls_domain_capabilities", lambda *a: _string_list(*a, item=_domain_capability), list),
                "tls_certificate_name": m.get(
                    "tls_certificate_name", _tls_certificate_name(index, local, allow_local=True), None),
                "require_tls": m.get("require_tls", _boolean, False),
                "remote_ip_ranges": m.get("remote_ip_ranges", lambda *a: _string_list(*a, nonempty=True, item=_ip_range),
                                          lambda: list(receive_selection.ALL_ADDRESSES)),
            }
            _unique(ctx, seen, connector["name"], m.p("name"), m.vline("name"),
                    "receive connector name")
            out.append(connector)
        return out
    return check


def _faults(index: _Index, local: _ServerInfo | None) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        items = _items(ctx, value, path, line)
        if items is None:
            return _BAD
        out = []
        for item_path, raw, item_line in items:
            kind = None
            if isinstance(raw, dict):
                kind = _FAULT_KIND.lookup(raw.get("kind"))
            allowed = CONCURRENT_CHANGE_KEYS if kind in (None, "concurrent_change") else FAULT_KEYS

            def hint(key: Any, kind: str | None = kind) -> str | None:
                if key in ("connector", "value"):
                    return (f"{key!r} is only valid for kind concurrent_change (this fault is "
                            f"{kind}); valid: {', '.join(FAULT_KEYS)}")
                return None

            m = _open_map(ctx, raw, item_path, item_line, allowed, hint)
            if m is None:
                continue
            fault = {
                "kind": m.get("kind", _FAULT_KIND.check),
                "cmdlet": m.get("cmdlet", _cmdlet, None),
                "times": m.get("times", _positive, 1),
                "occurrence": m.get("occurrence", _positive, 1),
            }
            if fault["occurrence"] not in (1, _BAD) and fault["cmdlet"] is None:
                # "The Nth call" needs a cmdlet to count; without one it would silently mean the first step.
                ctx.err(m.vline("occurrence"), m.p("occurrence"),
                        f"occurrence {fault['occurrence']} counts the calls of a cmdlet within one launch: set cmdlet"
                        " (for example Enable-ExchangeCertificate), or remove occurrence")
            if fault["kind"] == "concurrent_change":
                fault["connector"] = m.get("connector", _fault_connector(index, local))
                fault["value"] = m.get("value", _nullable_string_any)
            out.append(fault)
        return out
    return check


def _nullable_string_any(ctx, value, path, line):
    return _string(ctx, value, path, line, nullable=True, allow_empty=True)


def _fault_connector(index: _Index, local: _ServerInfo | None) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        name = _string(ctx, value, path, line)
        if name is _BAD or local is None:
            return _BAD
        found = local.receive_connectors.get(name.lower()) or index.send_connectors.get(name.lower())
        if found is None:
            valid = list(local.receive_connectors.values()) + list(index.send_connectors.values())
            ctx.err(line, path, f"no receive connector on {local.name} and no send connector named "
                                f"{name!r}; valid: {_names(valid)}")
            return _BAD
        return found
    return check


def _events(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    maps = _maps(ctx, value, path, line, EVENT_KEYS)
    if maps is None:
        return _BAD
    out = []
    for m in maps:
        out.append({
            "id": m.get("id", _count),
            "source": m.get("source", _string),
            "level": m.get("level", _string),
            "time": m.get("time", _when),
            "message": m.get("message", _any_string),
        })
    return out


def _servers(index: _Index) -> Check:
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        items = _items(ctx, value, path, line)
        if items is None:
            return _BAD
        if not items:
            ctx.err(line, path, "at least one server is required")
            return _BAD
        seen: dict[str, str] = {}
        out = []
        for position, (item_path, raw, item_line) in enumerate(items):
            local = index.by_position[position] if position < len(index.by_position) else None
            m = _open_map(ctx, raw, item_path, item_line, SERVER_KEYS)
            if m is None:
                continue
            name = m.get("name", _server_name)
            _unique(ctx, seen, name, m.p("name"), m.vline("name"), "server name")
            if name is _BAD:
                local = None
            fqdn = m.get("fqdn", _fqdn)
            role = m.get("role", _ROLE.check)
            server = {
                "name": name,
                "fqdn": fqdn,
                "role": role,
                "version": m.get("version", _version),
                "certificates": m.get("certificates", _certificates),
                "internal_transport_certificate": m.get("internal_transport_certificate",
                                                        _own_cert(local)),
                "edge_subscription_certificate": m.get("edge_subscription_certificate",
                                                       _nullable(_own_cert(local)), None),
                "transport_change_needs_restart": m.get("transport_change_needs_restart",
                                                        _boolean, False),
                "certificate_properties": m.get("certificate_properties",
                                                _CERTIFICATE_PROPERTIES.check, "full"),
                "enum_form": m.get("enum_form", _ENUM_FORM.check, "name"),
                "receive_connectors": m.get("receive_connectors",
                                            _receive_connectors(index, local, role)),
                "faults": m.get("faults", _faults(index, local), list),
                "launches": m.get("launches", _count, 0),
                "writes": m.get("writes", _count, 0),
                "restarts": m.get("restarts", _count, 0),
                "events": m.get("events", _events, list),
                "edgesync": m.get("edgesync", _EDGESYNC.nullable, None),
            }
            if role == "Mailbox":
                for key in ("edge_subscription_certificate", "edgesync"):
                    if m.has(key) and m.raw[key] is not None:
                        ctx.err(m.vline(key), m.p(key), f"only valid on an Edge server "
                                                        f"({name} is a Mailbox server)")
            out.append(server)
        return out
    return check


def _auth_certificate(index: _Index) -> Check:
    """auth_certificate: null or {certificate: SERVER/id, next_certificate: SERVER/id (optional)}."""
    def check(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        if value is None:
            return None
        m = _open_map(ctx, value, path, line, AUTH_CERTIFICATE_KEYS, expected="a mapping or null")
        if m is None:
            return _BAD
        out = {}
        for key in AUTH_CERTIFICATE_KEYS:
            ref = m.get(key, _string, None) if key != "certificate" else m.get(key, _string)
            if ref is None or ref is _BAD:
                continue
            if _check_ref(ctx, ref, m.p(key), m.vline(key), index, None, allow_local=False):
                out[key] = ref
        return out if "certificate" in out else _BAD
    return check


def _nullable(check: Check) -> Check:
    def wrapped(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        return None if value is None else check(ctx, value, path, line)
    return wrapped


def _validate(data: Any, filename: str) -> dict:
    ctx = _Ctx(filename)
    index = _Index(data)
    top = _open_map(ctx, data, "", 1, TOP_KEYS, expected="a mapping at the top level")
    if top is None:
        raise ScenarioError(details=ctx.problems)
    scenario = {
        "format": top.get("format", _format),
        "organization": top.get("organization", _string),
        "now": top.get("now", _nullable_when, None),
        "latency": top.get("latency", _latency, lambda: {"launch_seconds": 0.0}),
        "hybrid_configuration": top.get("hybrid_configuration", _hybrid(index), None),
        "send_connectors": top.get("send_connectors", _send_connectors(index), list),
        "servers": top.get("servers", _servers(index)),
        "replication_lag_seconds": top.get("replication_lag_seconds", _launch_seconds, 0.0),
        "auth_certificate": top.get("auth_certificate", _auth_certificate(index), None),
    }
    if ctx.problems:
        problems = sorted(ctx.problems, key=lambda p: (p.line or 0))
        raise ScenarioError(details=problems)
    return scenario


# --------------------------------------------------------------------------- public API


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


# --------------------------------------------------------------------------- dump


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
