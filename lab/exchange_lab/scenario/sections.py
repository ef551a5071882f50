"""The sections of a scenario (hybrid configuration, send connectors, servers, certificates, ...)
and the cross-references between them; ``_validate`` checks a whole document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import receive_selection

from .checks import (
    Check, _AUTH, _BAD, _CERTIFICATE_PROPERTIES, _REQUIRED, _Map, _Ctx, _EDGESYNC, _ENUM_FORM, _FAULT_KIND, _KEY_TYPE,
    _PERMISSION, _ROLE, _ROOT_CA_TYPE, _SERVICES, _SIGNATURE_HASH, _STATUS, _TLS_AUTH_LEVEL, _TRANSPORT_ROLE,
    _any_string, _binding, _boolean, _cert_id, _cmdlet, _count, _domain_capability, _edge_copies, _eku,
    _format, _fqdn, _ip_range, _items, _launch_seconds, _maps, _names, _nullable_any_string, _nullable_fqdn,
    _nullable_string, _nullable_when, _open_map, _outbound_tls, _positive, _server_name, _string,
    _string_list, _thumbprint, _type_error, _unique, _version, _when,
)
from .dump import _iso
from .schema import (
    CERTIFICATE_KEYS, CERTIFICATE_REF_KEYS, CONCURRENT_CHANGE_KEYS, DEFAULT_KEY_TYPE, EKU_NAMES, EVENT_KEYS,
    FAULT_KEYS, HYBRID_KEYS, LATENCY_KEYS, RECEIVE_CONNECTOR_KEYS, SEND_CONNECTOR_KEYS, SERVER_KEYS,
    AUTH_CERTIFICATE_KEYS, ScenarioError, TOP_KEYS, TRANSPORT_ROLES,
)


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


# Sections whose keys each take one check and a default are tables of (key, check, default), in dump
# order (_REQUIRED: the key must be present); adding such a key is one row. Sections whose checks need
# the cross-reference index or the server's role build their dicts in their own functions below.
CERTIFICATE_FIELDS: tuple = (
    ("id", _cert_id, _REQUIRED),
    ("subject", _string, _REQUIRED),
    ("issuer", _nullable_string, None),
    ("self_signed", _boolean, False),
    ("domains", _string_list, list),
    ("not_before", _when, _REQUIRED),
    ("not_after", _when, _REQUIRED),
    ("services", _SERVICES.flags, list),
    ("has_private_key", _boolean, True),
    ("status", _STATUS.check, "Valid"),
    ("in_store", _boolean, True),
    ("friendly_name", _nullable_any_string, None),
    ("root_ca_type", _ROOT_CA_TYPE.check, None),
    ("key", _KEY_TYPE.check, DEFAULT_KEY_TYPE),
    ("signature_hash", _SIGNATURE_HASH.check, "sha256"),
    ("eku", _eku, lambda: list(EKU_NAMES)),
    ("include_chain", _boolean, True),
    ("exportable", _boolean, False),
    ("thumbprint", _thumbprint, None),
)

EVENT_FIELDS: tuple = (
    ("id", _count, _REQUIRED),
    ("source", _string, _REQUIRED),
    ("level", _string, _REQUIRED),
    ("time", _when, _REQUIRED),
    ("message", _any_string, _REQUIRED),
)

# Every fault's keys; concurrent_change adds connector and value, checked against the index.
FAULT_FIELDS: tuple = (
    ("kind", _FAULT_KIND.check, _REQUIRED),
    ("cmdlet", _cmdlet, None),
    ("times", _positive, 1),
    ("occurrence", _positive, 1),
)


def _fields(m: _Map, fields: tuple) -> dict:
    return {key: m.get(key, check, default) for key, check, default in fields}


def _certificates(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
    maps = _maps(ctx, value, path, line, CERTIFICATE_KEYS)
    if maps is None:
        return _BAD
    seen: dict[str, str] = {}
    out = []
    for m in maps:
        cert = _fields(m, CERTIFICATE_FIELDS)
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
            fault = _fields(m, FAULT_FIELDS)
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
        out.append(_fields(m, EVENT_FIELDS))
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


def _nullable(check: Check) -> Check:
    def wrapped(ctx: _Ctx, value: Any, path: str, line: int) -> Any:
        return None if value is None else check(ctx, value, path, line)
    return wrapped


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

