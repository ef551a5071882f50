# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests for the converging modules' decisions: receive_plan, send_plan and smtp_enable.

Hypothesis draws well-formed facts (the shape exchange_certificate_facts
returns, built with facts_factories) at NOW: certificates from a small pool
of issuers (Let's Encrypt R10, R11, R12, a DigiCert CA, self-signed) and
subjects (mail.contoso.com with and without O=/OU=, partner.contoso.com,
the server's own name), validity windows that are expired, valid or not yet
valid, any services, private key and status; a default SMTP certificate
that may be missing or unusable; receive connectors naming a certificate of
the store, a stale name or nothing; and send connectors whose source servers
may have no facts. The properties are the rules the modules promise: a
refusal is a PlanError and nothing else, a new name selects a usable
certificate, the default SMTP certificate is never replaced, every write is
guarded and read back, and a second run changes nothing.

Where a property is checked against the facts, it is computed here from the
certificates' fields, not through the planners' own helpers.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import receive_plan, send_plan, smtp_enable
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import BLOCKED, CHANGE, UNCHANGED, PlanError, same_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.findings import analyze

from ..facts_factories import (
    MAIL,
    NOW,
    OV_WITH_OU,
    OV_WITHOUT_OU,
    R10,
    R11,
    R12,
    cert,
    hybrid_configuration,
    own_certificate_of,
    receive_connector,
    send_connector,
    server_facts,
)

DIGICERT = "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"
PARTNER = "CN=partner.contoso.com"
SELF_SIGNED = "self-signed"
ISSUERS = [R10, R11, R12, DIGICERT, SELF_SIGNED]
SERVICES = ["IIS", "SMTP", "IMAP", "POP"]
# Every subset of SERVICES (in that order), and "unknown" as a remote session reports it.
SERVICE_SETS = [[s for bit, s in enumerate(SERVICES) if mask >> bit & 1] for mask in range(16)] + ["unknown"] * 2
UNUSABLE_STATUS = {"revoked", "invalid", "dateinvalid", "pendingrequest"}
HYBRID_CAPABILITY = "mail.protection.outlook.com:AcceptCloudServicesMail"
# EX04 is a source server that never has facts in the play.
SOURCE_SERVERS = ["EX01", "EX02", "EX03", "EX04", "EDGE01", "ex02.contoso.com", "edge01.contoso.com"]
# Forty hexadecimal digits that are no certificate of any store.
RANDOM_THUMBPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"
NOW_TIME = dt.datetime.strptime(NOW, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _subjects(server: str) -> list:
    return [MAIL, OV_WITH_OU, OV_WITHOUT_OU, PARTNER, f"CN={server}"]


def _domains(subject: str) -> list:
    """The DNS names of a certificate, following its CN (CN=EX01 also holds ex01.contoso.com)."""
    host = subject.split(",")[0][len("CN="):]
    if host == "mail.contoso.com":
        return ["mail.contoso.com", "autodiscover.contoso.com"]
    return [host] if "." in host else [host, f"{host.lower()}.contoso.com"]


def _pick(draw, items: list):
    return draw(st.sampled_from(items))


# Strategies are built once: building them inside every example costs more than the planning itself.
_WINDOW = st.sampled_from(["expired", "valid", "valid", "valid", "not_yet_valid"])
_HOURS_LONG = st.integers(24, 800 * 24)
_HOURS_AGO = st.integers(1, 400 * 24)
_HOURS_VALID_FROM = st.integers(0, 700 * 24)
_HOURS_VALID_TO = st.integers(0, 400 * 24)
_HOURS_AHEAD = st.integers(1, 60 * 24)
_ISSUER = st.sampled_from(ISSUERS)
_WILDCARD = st.sampled_from([False] * 5 + [True])
_SERVICES = st.sampled_from(SERVICE_SETS)
_HEALTHY_SERVICES = st.sampled_from([["IIS", "SMTP"]] * len(SERVICE_SETS) + SERVICE_SETS)
_PRIVATE_KEY = st.sampled_from([True] * 8 + [False, "unknown"])
_STATUS = st.sampled_from(["Valid"] * 8 + ["Revoked", "unknown"])
_IMPORTED = st.sampled_from([True] * 9 + [False])
_AS_EXPORTED = st.sampled_from([True] * 6 + [False])
_HEALTHY = st.sampled_from([True, True, False])
_TWIN = st.sampled_from([False] * 3 + [True])
_CERTIFICATES = st.sampled_from([0, 1, 2, 2, 3, 3, 4])
_SHARED = st.sampled_from([0, 1, 1, 2, 2, 3])
_IDENTITIES = st.sampled_from([1, 1, 2, 3])
_DEFAULT = st.sampled_from(["ok"] * 8 + ["expired", "no_key", "unknown", "missing", "unset"])
_BOOLEAN = st.booleans()
_EXPLICIT = st.sampled_from([False, False, True])
_ENABLED = st.sampled_from([True] * 7 + [False])
_ENABLE_SMTP = st.sampled_from([True, True, False])
_AUTH = st.sampled_from([["Tls", "Integrated", "BasicAuth"]] * 5 + [["Integrated", "BasicAuth"]])
_PORT = st.sampled_from([25, 587, 2525])
_STATE = st.sampled_from(["present"] * 5 + ["absent"])
_NAME_KIND = st.sampled_from(["store", "store", "stale", "stale", "none"])


def _validity(draw, kind: str | None = None) -> tuple:
    """(not_before, not_after): expired, valid (some expiring soon, some exactly at NOW) or not yet valid."""
    kind = kind or draw(_WINDOW)
    length = dt.timedelta(hours=draw(_HOURS_LONG))
    if kind == "expired":
        not_after = NOW_TIME - dt.timedelta(hours=draw(_HOURS_AGO))
        not_before = not_after - length
    elif kind == "valid":
        not_before = NOW_TIME - dt.timedelta(hours=draw(_HOURS_VALID_FROM))
        not_after = max(NOW_TIME + dt.timedelta(hours=draw(_HOURS_VALID_TO)), not_before + dt.timedelta(hours=1))
    else:
        not_before = NOW_TIME + dt.timedelta(hours=draw(_HOURS_AHEAD))
        not_after = not_before + length
    return _iso(not_before), _iso(not_after)


def _on_server(draw, issued: dict, healthy: bool = False) -> dict:
    """A certificate as one server's store reports it: services, private key and status are per server."""
    services = draw(_HEALTHY_SERVICES if healthy else _SERVICES)
    has_private_key, status = (True, "Valid") if healthy else (draw(_PRIVATE_KEY), draw(_STATUS))
    return dict(issued, services=services, has_private_key=has_private_key, status=status,
                properties_complete="unknown" not in (services, status, has_private_key))


def _certificate(draw, subjects: list, like: dict | None = None, healthy: bool = False) -> dict:
    """One certificate of a store, as exchange_certificate_facts reports it at NOW.

    ``like``: another issue of that certificate (same issuer, subject and names, other dates), such as
    a renewal installed beside the certificate it renews. ``healthy``: valid now, with its private key
    and status Valid (its services vary, SMTP more often).
    """
    if like is None:
        subject = _pick(draw, [MAIL, MAIL] + subjects)
        issuer = draw(_ISSUER)
        issuer = subject if issuer == SELF_SIGNED else issuer
        domains = _domains(subject) + (["*.contoso.com"] if draw(_WILDCARD) else [])
    else:
        issuer, subject, domains = like["issuer"], like["subject"], like["domains"]
    not_before, not_after = _validity(draw, "valid" if healthy else None)
    issued = cert(issuer=issuer, subject=subject, not_before=not_before, not_after=not_after, domains=domains,
                  root_ca_type="Registry" if issuer == subject else "ThirdParty")
    return _on_server(draw, issued, healthy)


def _default_certificate(server: str, kind: str) -> dict:
    """Exchange's own certificate of ``server`` (its default SMTP certificate), healthy or not."""
    if kind == "expired":
        return own_certificate_of(server, not_before="2021-03-01T10:00:00Z", not_after="2026-03-01T10:00:00Z")
    if kind == "no_key":
        return own_certificate_of(server, has_private_key=False)
    if kind == "unknown":
        # Over a remote session Exchange returns neither services, status nor private key.
        return own_certificate_of(server, services="unknown", status="unknown", has_private_key="unknown",
                                  root_ca_type="unknown", properties_complete=False)
    return own_certificate_of(server)


def _store(draw, server: str, shared: tuple = ()) -> tuple:
    """(certificates, internal_transport_certificate) of one server; ``shared`` are certificates it may have imported too."""
    kind = draw(_DEFAULT)
    # Imported as exported (mostly), or with its own services, private key or status on this server.
    imported = [dict(c) if draw(_AS_EXPORTED) else _on_server(draw, c) for c in shared if draw(_IMPORTED)]
    drawn = [_certificate(draw, _subjects(server)) for dummy in range(draw(_CERTIFICATES))]
    drawn += [_certificate(draw, [], like=c) for c in drawn + imported if draw(_TWIN)]
    certificates = list({c["thumbprint"]: c for c in drawn + imported}.values())
    if kind == "unset":
        return certificates, None
    default = _default_certificate(server, kind)
    others = [c for c in certificates if c["thumbprint"] != default["thumbprint"]]
    if kind == "missing":
        # The recorded default was deleted from the store (event 12013).
        return others, RANDOM_THUMBPRINT
    return draw(st.permutations([default] + others)), default["thumbprint"]


def _stale_name(draw, server: str) -> str:
    """A name built from the pool, whether or not the store holds such a certificate."""
    subject = _pick(draw, _subjects(server))
    issuer = draw(_ISSUER)
    return f"<I>{subject if issuer == SELF_SIGNED else issuer}<S>{subject}"


def _name(draw, certificates: list, server: str):
    """A connector's TlsCertificateName: a certificate of the store, a stale name, or none."""
    kind = draw(_NAME_KIND)
    if kind == "store" and certificates:
        return _pick(draw, [c["tls_certificate_name"] for c in certificates])
    return _stale_name(draw, server) if kind == "stale" else None


RECEIVE_NAMES = ["Default Frontend {0}", "Client Frontend {0}", "Default {0}", "Outbound Proxy Frontend {0}", "Partner {0}"]
_RECEIVE_NAMES = st.lists(st.sampled_from(RECEIVE_NAMES), min_size=1, max_size=4, unique=True)


@st.composite
def receive_facts(draw, server: str = "EX01") -> dict:
    """The facts of one server with one to four receive connectors."""
    certificates, default = _store(draw, server)
    connectors = []
    for template in draw(_RECEIVE_NAMES):
        name = template.format(server)
        hybrid = draw(_BOOLEAN)
        port = draw(_PORT)
        connectors.append(receive_connector(
            identity=f"{server}\\{name}",
            name=name,
            server=server,
            bindings=[f"0.0.0.0:{port}"],
            ports=[port],
            fqdn=_pick(draw, ["mail.contoso.com", f"{server.lower()}.contoso.com", "partner.contoso.com", None]),
            auth_mechanism=draw(_AUTH),
            tls_certificate_name=_name(draw, certificates, server),
            tls_domain_capabilities=[HYBRID_CAPABILITY] if hybrid else [],
            hybrid=hybrid,
            enabled=draw(_ENABLED),
        ))
    return server_facts(server, certificates=certificates, receive_connectors=connectors,
                        internal_transport_certificate=default)


@st.composite
def receive_case(draw) -> tuple:
    """(facts, plan options) for receive_plan.plan."""
    facts = draw(receive_facts())
    connectors = facts["receive_connectors"]
    identities = None
    if draw(_EXPLICIT):
        # Existing identities (most often), bare names in another case, or a connector that does not exist.
        known = [c["identity"] for c in connectors] * 4 + [c["name"].upper() for c in connectors] + ["EX01\\No Such Connector"]
        identities = [_pick(draw, known) for dummy in range(draw(_IDENTITIES))]
    thumbprints = [c["thumbprint"] for c in facts["certificates"]]
    options = {
        "identities": identities,
        "certificate": _pick(draw, [None] * max(6, 3 * len(thumbprints)) + [RANDOM_THUMBPRINT] + thumbprints),
        "state": draw(_STATE),
        "enable_smtp": draw(_ENABLE_SMTP),
    }
    return facts, options


SEND_NAMES = ["Outbound to Office 365 - 6e2b4c3a", "To Fabrikam", "EdgeSync - Default-First-Site-Name to Internet"]
_IN_PLAY = st.sampled_from([True, True, False])
_SOURCE_COUNT = st.sampled_from([1, 2, 2, 3])
_SEND_NAMES = st.lists(st.sampled_from(SEND_NAMES), min_size=1, max_size=3, unique=True)
_RUNNER = st.sampled_from(["ex01"] * 8 + ["edge01", "ex09"])
_IGNORE = st.lists(st.sampled_from(SOURCE_SERVERS + ["ex03.contoso.com"]), max_size=2)


@st.composite
def fleet_case(draw) -> tuple:
    """(fleet, runner, plan options) for send_plan.plan: one to four servers sharing the organisation's send connectors."""
    servers = ["EX01"] + [server for server in ("EX02", "EX03", "EDGE01") if draw(_IN_PLAY)]
    # The same certificate is usually imported on every server that sends with it; most often a healthy one.
    shared = [_certificate(draw, [MAIL, OV_WITH_OU, OV_WITHOUT_OU, PARTNER], healthy=draw(_HEALTHY))
              for dummy in range(draw(_SHARED))]
    stores = {server: _store(draw, server, tuple(shared)) for server in servers}
    names = [c["tls_certificate_name"] for certificates, dummy in stores.values() for c in certificates]
    # Mostly servers of the play, sometimes by FQDN, sometimes one without facts (EX04, or one not in the play).
    sources = servers * 3 + [s.lower() + ".contoso.com" for s in servers] + ["EX04", "EX02", "edge01.contoso.com"]
    connectors = []
    for connector_name in draw(_SEND_NAMES):
        cloud = draw(_BOOLEAN)
        connectors.append(send_connector(
            identity=connector_name,
            name=connector_name,
            source_transport_servers=list(dict.fromkeys(_pick(draw, sources) for dummy in range(draw(_SOURCE_COUNT)))),
            fqdn=_pick(draw, ["mail.contoso.com", "partner.contoso.com", None]),
            tls_certificate_name=_name(draw, [{"tls_certificate_name": n} for n in names], "EX01"),
            # What exchange_certificate_facts calls a cloud connector: CloudServicesMailEnabled, or mail to EXO.
            address_spaces=["smtp:contoso.mail.onmicrosoft.com;1"] if cloud else ["smtp:fabrikam.com;1"],
            tls_domain="mail.protection.outlook.com" if cloud else None,
            require_tls=cloud,
            cloud=cloud,
            cloud_services_mail_enabled=cloud,
            enabled=draw(_ENABLED),
        ))
    fleet = {}
    for server, (certificates, default) in stores.items():
        fqdn = f"{server.lower()}.contoso.com"
        own = [dict(c, this_server_is_source=any(s.lower() in (server.lower(), fqdn) for s in c["source_transport_servers"]))
               for c in connectors]
        hybrid = None
        if server == "EX01" and draw(_BOOLEAN):
            hybrid = hybrid_configuration(tls_certificate_name=_stale_name(draw, server) if draw(_BOOLEAN) else None)
        fleet[server.lower()] = server_facts(server, "Edge" if server.startswith("EDGE") else "Mailbox",
                                             certificates=certificates, internal_transport_certificate=default,
                                             send_connectors=own, hybrid_configuration=hybrid)
    thumbprints = [c["thumbprint"] for certificates, dummy in stores.values() for c in certificates]
    present = [c["name"] for c in connectors]
    identities = None
    if draw(_EXPLICIT):
        identities = [_pick(draw, present * 3 + [present[0].lower(), "Nope"]) for dummy in range(draw(_IDENTITIES))]
    options = {
        "identities": identities,
        "certificate": _pick(draw, [None] * max(6, 3 * len(thumbprints)) + [RANDOM_THUMBPRINT] + thumbprints),
        "enable_smtp": draw(_ENABLE_SMTP),
        "ignore_source_servers": draw(_IGNORE),
        "update_hybrid_configuration": draw(_BOOLEAN),
    }
    return fleet, draw(_RUNNER), options


# --------------------------------------------------------------------------
# Checks computed from the facts
# --------------------------------------------------------------------------


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def _valid_at(certificate: dict, now: dt.datetime) -> bool:
    return _time(certificate["not_before"]) <= now <= _time(certificate["not_after"])


def _usable(certificate: dict, now: dt.datetime, public: bool) -> bool:
    """Private key, valid now, a usable status, and from a CA when ``public``."""
    return (certificate["has_private_key"] is True
            and _valid_at(certificate, now)
            and str(certificate["status"]).lower() not in UNUSABLE_STATUS
            and not (public and certificate["issuer"] == certificate["subject"]))


def _names(name: str, certificate: dict) -> bool:
    """Whether a TlsCertificateName names the certificate (issuer and subject, ignoring case)."""
    return name.lower() == f"<I>{certificate['issuer']}<S>{certificate['subject']}".lower()


def _transport_selects(name: str, certificates: list):
    """The certificate transport uses for a TlsCertificateName (docs/exchange-behaviour.md#starttls-selection), or None.

    Among the certificates with that issuer and subject and a private key (one not known to lack it),
    CA-issued before self-signed, then the newest NotBefore, then the latest NotAfter.
    """
    matching = [c for c in certificates if _names(name, c) and c["has_private_key"] is not False]
    return min(matching, key=_transport_order, default=None)


def _transport_order(certificate_: dict) -> tuple:
    return (certificate_["self_signed"], -_time(certificate_["not_before"]).timestamp(),
            -_time(certificate_["not_after"]).timestamp(), certificate_["thumbprint"])


def _smtp_ready(certificate: dict, server: str, items: list, enable_smtp: bool) -> bool:
    """SMTP is on, is enabled by this run, or is unknown and the user said it is on (enable_smtp=false)."""
    if certificate["services"] == "unknown":
        return not enable_smtp
    planned = any(i.server == server and i.thumbprint == certificate["thumbprint"] for i in items)
    return "SMTP" in certificate["services"] or planned


def _first_label(name: str) -> str:
    return name.split(".")[0].strip().lower()


def _facts_of_source(fleet: dict, source: str):
    wanted = source.strip().lower()
    return next((f for f in fleet.values() if wanted in (f["server"]["name"].lower(), f["server"]["fqdn"].lower())), None)


def _positions(steps: list, predicate) -> list:
    return [i for i, s in enumerate(steps) if predicate(s)]


def _receive_plan(facts: dict, options: dict):
    """The plan, or None when refused; any other exception fails the property."""
    try:
        return receive_plan.plan(facts, **options)
    except PlanError:
        return None


def _send_plans(fleet: dict, runner: str, options: dict) -> list:
    """(options, plan) for the drawn options and for the sweep with them, leaving out refusals (PlanError).

    Any other exception fails the property.
    """
    plans = []
    for tried in (options, dict(options, identities=None, certificate=None)):
        try:
            plans.append((tried, send_plan.plan(fleet, runner, **tried)))
        except PlanError:
            pass
    return plans


def _check_enable_steps(items: list, defaults: dict) -> None:
    """Every item keeps ``defaults[server]`` (a usable certificate); guards first, each enable then its restore."""
    for item in items:
        facts = defaults[item.server]
        assert item.default_thumbprint == facts["internal_transport_certificate"]
        (default,) = [c for c in facts["certificates"] if c["thumbprint"] == item.default_thumbprint]
        assert not default["expired"] and _valid_at(default, _time(facts["collected_at"]))
        assert default["has_private_key"] is True, (item.server, default["thumbprint"], default["has_private_key"])
    steps = smtp_enable.enable_steps(items)
    guards = _positions(steps, lambda s: "guard" in s)
    enables = _positions(steps, lambda s: s["cmdlet"] == "Enable-ExchangeCertificate")
    assert len(enables) == 2 * len(items)
    if items:
        assert max(guards) < min(enables)
    for item in items:
        (at,) = _positions(steps, lambda s, i=item: s["id"] == f"enable|certificate|{i.key}")
        assert steps[at]["parameters"]["Thumbprint"] == item.thumbprint
        restore = steps[at + 1]
        assert restore["cmdlet"] == "Enable-ExchangeCertificate"
        assert restore["parameters"]["Server"] == item.server
        assert restore["parameters"]["Thumbprint"] == item.default_thumbprint
        assert "SMTP" in restore["parameters"]["Services"].split(", ")


def _check_write_steps(steps: list, changing: list, get: str, set_: str) -> None:
    """Guards before every Set; each Set guarded with the decision's current value and read back after."""
    guards = _positions(steps, lambda s: "guard" in s)
    sets = _positions(steps, lambda s: s["cmdlet"].startswith("Set-"))
    if sets:
        assert max(guards) < min(sets)
    for at in _positions(steps, lambda s: s["cmdlet"] == set_):
        identity = steps[at]["parameters"]["Identity"]
        (decision,) = [d for d in changing if d.object == identity]
        assert steps[at]["parameters"]["TlsCertificateName"] == decision.expected
        guarded = [s for s in steps[:at] if s["cmdlet"] == get and s["parameters"].get("Identity") == identity and "guard" in s]
        assert [s["guard"] for s in guarded] == [{"TlsCertificateName": decision.current}]
        assert any(s["cmdlet"] == get and s["parameters"].get("Identity") == identity and "guard" not in s for s in steps[at + 1:])


def _check_send_decisions(fleet: dict, runner: str, options: dict, plan) -> None:
    """A source without facts blocks its connector; a new name selects a usable certificate on every source.

    Ignored sources are left out, by name or FQDN (either matches the other's first label).
    """
    ignored = {i.strip().lower() for i in options["ignore_source_servers"]}
    ignored |= {_first_label(i) for i in ignored}
    connectors = {c["name"]: c for c in fleet[runner]["send_connectors"]}
    for decision in plan.decisions:
        if decision.object_type != "send_connector":
            continue
        connector = connectors[decision.object]
        sources = [s for s in connector["source_transport_servers"] if s.lower() not in ignored and _first_label(s) not in ignored]
        missing = [s for s in sources if _facts_of_source(fleet, s) is None]
        if missing and (options["identities"] or connector["enabled"]):
            assert decision.status == BLOCKED, (decision, missing)
        if decision.status != CHANGE:
            continue
        for source in sources:
            facts = _facts_of_source(fleet, source)
            now = _time(facts["collected_at"])
            chosen = _transport_selects(decision.expected, facts["certificates"])
            assert chosen is not None, (source, decision.expected)
            assert _usable(chosen, now, connector["cloud"]), (source, chosen)
            assert _smtp_ready(chosen, facts["server"]["name"], plan.smtp, options["enable_smtp"]), (source, chosen)


# --------------------------------------------------------------------------
# receive_plan
# --------------------------------------------------------------------------


@PROPERTY
@given(receive_case())
def test_receive_plan_returns_a_plan_or_refuses_with_plan_error(case) -> None:
    facts, options = case
    plan = _receive_plan(facts, options)
    if plan is not None:
        assert all(d.status in (CHANGE, UNCHANGED, BLOCKED) for d in plan.decisions)
        receive_plan.write_steps(plan)
        smtp_enable.enable_steps(plan.smtp)


@PROPERTY
@given(receive_case())
def test_receive_change_names_a_usable_certificate_of_the_store(case) -> None:
    facts, options = case
    plan = _receive_plan(facts, options)
    if plan is None:
        return
    now = _time(facts["collected_at"])
    connectors = {c["identity"]: c for c in facts["receive_connectors"]}
    for decision in plan.decisions:
        if decision.status != CHANGE or decision.expected is None:
            continue
        if decision.smtp and same_name(decision.current, decision.expected):
            continue  # only SMTP is missing on the certificate transport already selects: the name stays
        # The certificate the decision stands for is the one transport presents for the new name.
        chosen = _transport_selects(decision.expected, facts["certificates"])
        assert chosen is decision.certificate, (decision.expected, chosen, decision.certificate)
        assert _usable(chosen, now, connectors[decision.object]["hybrid"]), chosen
        assert _smtp_ready(chosen, facts["server"]["name"], plan.smtp, options["enable_smtp"])


@PROPERTY
@given(receive_case())
def test_receive_smtp_enabling_never_replaces_the_default(case) -> None:
    facts, options = case
    # The drawn options, and the sweep that enables SMTP wherever the policy's choice lacks it.
    for plan in (_receive_plan(facts, options), receive_plan.plan(facts)):
        if plan is not None:
            _check_enable_steps(plan.smtp, {facts["server"]["name"]: facts})


@PROPERTY
@given(receive_case())
def test_receive_write_steps_guard_every_write_and_read_it_back(case) -> None:
    facts, options = case
    for plan in (_receive_plan(facts, options), receive_plan.plan(facts)):
        if plan is None:
            continue
        steps = receive_plan.write_steps(plan)
        changing = [d for d in plan.decisions if d.status == CHANGE and not same_name(d.current, d.expected)]
        assert len(_positions(steps, lambda s: s["cmdlet"] == "Set-ReceiveConnector")) == len(changing)
        _check_write_steps(steps, changing, "Get-ReceiveConnector", "Set-ReceiveConnector")


@PROPERTY
@given(receive_facts(), _ENABLE_SMTP)
def test_receive_sweep_is_idempotent(facts, enable_smtp) -> None:
    first = receive_plan.plan(facts, enable_smtp=enable_smtp)
    after = receive_plan.facts_after(facts, [c.as_dict() for c in first.changes])
    second = receive_plan.plan(after, enable_smtp=enable_smtp)
    # Known: without an FQDN, the renewal of an expiring certificate need not cover the names it was chosen for
    # (test_receive_renewal_keeps_the_names_the_certificate_was_chosen_for, xfail).
    known = {c["identity"] for c in after["receive_connectors"] if not c["fqdn"]} & {
        f["object"] for f in after["findings"] if f["code"] == "tls_certificate_expiring_soon" and f["expected"]}
    again = [(d.object, d.current, d.expected, d.reason) for d in second.decisions if d.status == CHANGE and d.object not in known]
    assert again == []


@PROPERTY
@given(receive_facts(), _ENABLE_SMTP)
def test_receive_sweep_leaves_connectors_that_are_not_drifted(facts, enable_smtp) -> None:
    found = analyze(facts)
    plan = receive_plan.plan(facts, enable_smtp=enable_smtp)
    for decision in plan.decisions:
        mine = [f for f in found if f["object_type"] == "receive_connector" and f["object"] == decision.object]
        drifted = any(f["expected"] or f["code"] in ("no_replacement_certificate", "ambiguous_replacement_certificate")
                      for f in mine)
        if not drifted:
            assert decision.status != CHANGE, (decision, mine)


# --------------------------------------------------------------------------
# send_plan
# --------------------------------------------------------------------------


@PROPERTY
@given(fleet_case())
def test_send_change_names_a_certificate_every_source_server_holds(case) -> None:
    fleet, runner, drawn = case
    for options, plan in _send_plans(fleet, runner, drawn):
        _check_send_decisions(fleet, runner, options, plan)


@PROPERTY
@given(fleet_case())
def test_send_smtp_enabling_and_write_steps_keep_the_rules(case) -> None:
    fleet, runner, drawn = case
    for dummy, plan in _send_plans(fleet, runner, drawn):
        _check_enable_steps(plan.smtp, {f["server"]["name"]: f for f in fleet.values()})
        steps = send_plan.write_steps(plan, fleet)
        changing = [d for d in plan.decisions if d.status == CHANGE and not same_name(d.current, d.expected)]
        _check_write_steps(steps, changing, "Get-SendConnector", "Set-SendConnector")
        for at in _positions(steps, lambda s: s["cmdlet"] == "Set-HybridConfiguration"):
            assert any(s["cmdlet"] == "Get-HybridConfiguration" and "guard" in s for s in steps[:at])
            assert any(s["cmdlet"] == "Get-HybridConfiguration" and "guard" not in s for s in steps[at + 1:])


# --------------------------------------------------------------------------
# What the properties found: regression tests for the bugs fixed since, and
# strict xfail tests for those still open (they fail once the bug is fixed)
# --------------------------------------------------------------------------

R10_MAIL = f"<I>{R10}<S>{MAIL}"
# R11's certificate for mail.contoso.com and *.contoso.com, expiring within expiring_days; R12's renewal
# for mail.contoso.com only.
WILDCARD_EXPIRING = dict(domains=["mail.contoso.com", "*.contoso.com"], not_before="2026-09-10T00:00:00Z",
                         not_after="2026-12-10T00:00:00Z")
RENEWAL_WITHOUT_WILDCARD = dict(issuer=R12, not_before="2026-11-15T00:00:00Z", not_after="2027-02-13T00:00:00Z")


def _receive_second_run(facts: dict) -> list:
    """What a second sweep changes once the first one's changes are made."""
    first = receive_plan.plan(facts)
    second = receive_plan.plan(receive_plan.facts_after(facts, [c.as_dict() for c in first.changes]))
    return [(d.object, d.current, d.expected) for d in second.decisions if d.status == CHANGE]


def _send_second_run(connector: dict, certificates: list) -> list:
    """The same for a send connector whose one source server is EX01."""
    (decision,) = send_plan.plan({"ex01": server_facts(certificates=certificates, send_connectors=[connector])}, "ex01").decisions
    renamed = dict(connector, tls_certificate_name=decision.expected) if decision.status == CHANGE else connector
    second = send_plan.plan({"ex01": server_facts(certificates=certificates, send_connectors=[renamed])}, "ex01")
    return [(d.object, d.current, d.expected) for d in second.decisions if d.status == CHANGE]


def test_a_new_name_selects_the_certificate_the_decision_chose() -> None:
    # The stale name's renewal is valid now; a second issue of it (same issuer and subject) is installed
    # already but valid only from 2026-12-01, without SMTP. Transport takes the newest NotBefore for a name,
    # so naming the valid one presents the one that is not valid yet (the policy used to name it anyway).
    valid = cert()
    not_yet_valid = cert(not_before="2026-12-01T00:00:00Z", not_after="2027-03-01T00:00:00Z", services=["IIS"])
    facts = server_facts(certificates=[own_certificate_of("EX01"), valid, not_yet_valid],
                         receive_connectors=[receive_connector(tls_certificate_name=R10_MAIL)])
    plan = receive_plan.plan(facts)
    (decision,) = plan.decisions
    if decision.status == CHANGE:
        after = receive_plan.facts_after(facts, [c.as_dict() for c in plan.changes])
        (connector,) = after["receive_connectors"]
        assert connector["selected_certificate"] == decision.certificate["thumbprint"]
        # Before the fix, the next run enabled SMTP on the certificate that is not valid yet.
        assert [d.status for d in receive_plan.plan(after).decisions] != [CHANGE]
    else:
        assert decision.status == BLOCKED and not_yet_valid["thumbprint"] in decision.reason


def test_smtp_enabling_refuses_a_default_whose_private_key_is_unknown() -> None:
    # Enable-ExchangeCertificate -Force makes the renewal the default; putting the old default back needs
    # its private key, which Exchange did not report. A target certificate in that state is refused.
    default = own_certificate_of("EX01", has_private_key="unknown", properties_complete=False)
    renewal = cert(services=["IIS"])
    facts = server_facts(certificates=[default, renewal], receive_connectors=[receive_connector(tls_certificate_name=R10_MAIL)])
    plan = receive_plan.plan(facts)
    assert plan.smtp == [], [i.as_dict() for i in plan.smtp]
    with pytest.raises(PlanError):
        smtp_enable.plan(facts, renewal)


def test_send_an_expiring_certificate_is_replaced_only_by_one_that_expires_later() -> None:
    # R11's certificate expires on 2026-12-10 (within expiring_days); R10's, issued later, on 2026-12-05.
    r11 = cert(not_before="2026-11-10T00:00:00Z", not_after="2026-12-10T00:00:00Z")
    r10 = cert(issuer=R10, not_before="2026-11-15T00:00:00Z", not_after="2026-12-05T00:00:00Z")
    connector = send_connector(tls_certificate_name=r11["tls_certificate_name"], source_transport_servers=["EX01"])
    fleet = {"ex01": server_facts(certificates=[own_certificate_of("EX01"), r11, r10], send_connectors=[connector])}
    (decision,) = send_plan.plan(fleet, "ex01").decisions
    assert (decision.status, decision.expected) != (CHANGE, r10["tls_certificate_name"])


def test_receive_an_expiring_certificate_is_replaced_only_by_one_that_expires_later() -> None:
    # The same on a receive connector: the "renewal" used to be the newest certificate for the subject.
    r11 = cert(not_before="2026-11-10T00:00:00Z", not_after="2026-12-10T00:00:00Z")
    r10 = cert(issuer=R10, not_before="2026-11-15T00:00:00Z", not_after="2026-12-05T00:00:00Z")
    connector = receive_connector(tls_certificate_name=r11["tls_certificate_name"])
    facts = server_facts(certificates=[own_certificate_of("EX01"), r11, r10], receive_connectors=[connector])
    (decision,) = receive_plan.plan(facts).decisions
    assert (decision.status, decision.expected) != (CHANGE, r10["tls_certificate_name"])


def test_receive_sweep_does_not_replace_its_choice_on_the_next_run() -> None:
    # The hybrid connector names nothing and announces ex01.contoso.com; only R11's certificate (with
    # *.contoso.com) covers it, so the first run names it. It expires on 2026-12-10, within expiring_days, so
    # the second run looks for a renewal from the name: R12's certificate for the same subject, newer and
    # longer, but without *.contoso.com. The policy used to take it, and the second run changed the connector
    # again, to a certificate that does not cover its FQDN (the first run would not choose it for that reason).
    r11, r12 = cert(**WILDCARD_EXPIRING), cert(**RENEWAL_WITHOUT_WILDCARD)
    connector = receive_connector(fqdn="ex01.contoso.com", hybrid=True, tls_domain_capabilities=[HYBRID_CAPABILITY])
    facts = server_facts(certificates=[own_certificate_of("EX01"), r11, r12], receive_connectors=[connector])
    assert _receive_second_run(facts) == []


def test_send_sweep_does_not_replace_its_choice_on_the_next_run() -> None:
    # The connector's name is stale (partner.contoso.com's certificate is gone); only R11's certificate (with
    # *.contoso.com) covers its FQDN, so the first run names it. It expires on 2026-12-10, within expiring_days,
    # so the second run used to renew it from the name: R12's certificate for the same subject, without
    # *.contoso.com.
    r11, r12 = cert(**WILDCARD_EXPIRING), cert(**RENEWAL_WITHOUT_WILDCARD)
    connector = send_connector(tls_certificate_name=f"<I>{R10}<S>{PARTNER}", fqdn="partner.contoso.com", source_transport_servers=["EX01"])
    assert _send_second_run(connector, [own_certificate_of("EX01"), r11, r12]) == []


@pytest.mark.xfail(strict=True, reason="without an FQDN, the renewal of an expiring certificate need not cover the stale name it replaced")
def test_send_renewal_keeps_the_names_the_certificate_was_chosen_for() -> None:
    # Like test_send_sweep_does_not_replace_its_choice_on_the_next_run, for a connector without an FQDN (common
    # on partner connectors): R11's certificate is chosen because *.contoso.com covers the stale partner name,
    # and the next run renews it with R12's, which does not cover partner.contoso.com.
    r11, r12 = cert(**WILDCARD_EXPIRING), cert(**RENEWAL_WITHOUT_WILDCARD)
    connector = send_connector(tls_certificate_name=f"<I>{R10}<S>{PARTNER}", fqdn=None, source_transport_servers=["EX01"])
    assert _send_second_run(connector, [own_certificate_of("EX01"), r11, r12]) == []


@pytest.mark.xfail(strict=True, reason="without an FQDN, the renewal of an expiring certificate need not cover the stale name it replaced")
def test_receive_renewal_keeps_the_names_the_certificate_was_chosen_for() -> None:
    # The same for a receive connector whose Fqdn the facts report as null.
    r11, r12 = cert(**WILDCARD_EXPIRING), cert(**RENEWAL_WITHOUT_WILDCARD)
    connector = receive_connector(tls_certificate_name=f"<I>{R10}<S>{PARTNER}", fqdn=None)
    facts = server_facts(certificates=[own_certificate_of("EX01"), r11, r12], receive_connectors=[connector])
    assert _receive_second_run(facts) == []
