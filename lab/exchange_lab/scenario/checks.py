"""Value checks shared by every section: strings, numbers, dates, names, enums, bindings.

A check is ``check(ctx, value, path, line) -> normalised value`` (or ``_BAD`` after recording a problem).
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, Sequence

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import receive_selection

from .schema import (
    ALLOWED_SERVICES, AUTH_MECHANISMS, CERTIFICATE_KEY_TYPES, CERTIFICATE_PROPERTIES, CERTIFICATE_STATUSES,
    EDGESYNC_STATES, EKU_NAMES, ENUM_FORMS, FAULT_KINDS, FORMAT_VERSION, PERMISSION_GROUPS, Problem, ROLES,
    SIGNATURE_HASHES, TLS_AUTH_LEVELS, TRANSPORT_ROLES, _BINDING_V4_RE, _BINDING_V6_RE, _CMDLET_RE,
    _DATE_ONLY_RE, _FQDN_LABEL_RE, _HOST_NAME_RE, _RESERVED_HOST_NAMES, _THUMBPRINT_RE, _VERSION_RE,
)


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

