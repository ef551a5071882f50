"""exchange_lab.scenario: dump_state's format, and the round trip load -> dump -> load on generated scenarios."""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange_lab.scenario import (
    ALLOWED_SERVICES,
    AUTH_MECHANISMS,
    CERTIFICATE_STATUSES,
    FAULT_KINDS,
    PERMISSION_GROUPS,
    TLS_AUTH_LEVELS,
    dump_state,
    load_scenario,
    load_scenario_text,
)

from .test_scenario import BASE, FIXTURES, UTC


# --------------------------------------------------------------------------- dump


def test_dump_format_is_stable_and_readable():
    text = dump_state(load_scenario(FIXTURES / "doc-example-completed.yml"))
    assert text.splitlines()[:4] == ["format: 1", "organization: contoso", "now: 2026-11-27T12:00:00Z",
                                     "latency:"]
    assert "  tls_certificate_name: {certificate: EX01/old}" in text
    # Short lists stay on one line; how far block lists are indented depends on
    # the emitter (libyaml writes them at their key's indentation).
    assert re.search(r"^ +services: \[IIS, SMTP\]$", text, re.M)
    assert re.search(r"^ +not_before: 2025-09-01T00:00:00Z$", text, re.M)
    assert "edge_subscription_certificate" not in text.split("- name: EX02")[1].split("- name: EDGE01")[0]
    edge = text.split("- name: EDGE01")[1]
    assert "transport_role" not in edge and "issuer" not in edge
    assert "&" not in text and "*" not in text


def test_dump_quotes_strings_that_would_change_type():
    scenario = load_scenario_text(BASE)
    scenario["organization"] = "true"
    scenario["servers"][0]["receive_connectors"][0]["tls_certificate_name"] = "2025-09-01"
    scenario["servers"][0]["faults"].append(
        {"kind": "concurrent_change", "cmdlet": None, "times": 1, "occurrence": 1, "connector": "Default Frontend EX01",
         "value": "null"})
    text = dump_state(scenario)
    assert "organization: 'true'" in text
    assert load_scenario_text(text) == scenario


def test_dump_rejects_unknown_keys():
    scenario = load_scenario_text(BASE)
    scenario["servers"][1]["colour"] = "red"
    with pytest.raises(ValueError, match="colour"):
        dump_state(scenario)


# --------------------------------------------------------------------------- round trip (hypothesis)

SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " :#-'\",[]{}&*!|>%@`\\\t\né€", max_size=12)
TRICKY = st.sampled_from(["true", "null", "~", "2025-09-01", "15", "0x1F", "- a", "yes", "on", "a: b",
                          "#x", "", " lead", "trail ", "x\ny", "'q'", '"d"',
                          "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"])
STRINGS = SAFE_TEXT | TRICKY
NONEMPTY = STRINGS.map(lambda s: s if s.strip() else "x" + s)
TZS = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=TZS)


def cased(draw, name: str) -> str:
    return draw(st.sampled_from([name, name.lower(), name.upper()]))


def moment(draw, value: datetime):
    """The same instant as a YAML datetime, a date (at midnight) or an ISO string."""
    if value.time() == datetime.min.time() and value.tzinfo in (None, UTC) and draw(st.booleans()):
        return value.date()
    return draw(st.sampled_from([value, value.isoformat()]))


def maybe(draw, raw: dict, key: str, strategy) -> None:
    if draw(st.booleans()):
        raw[key] = draw(strategy)


@st.composite
def scenarios(draw) -> str:
    names = draw(st.lists(st.sampled_from(["EX01", "EX02", "EDGE01", "mbx-3"]), min_size=1, max_size=3,
                          unique=True))
    roles = {n: draw(st.sampled_from(["Mailbox", "Edge"])) for n in names}
    certs = {n: draw(st.lists(st.sampled_from(["self", "old", "new", "x.1"]), min_size=1, max_size=3,
                              unique=True)) for n in names}
    qualified = [f"{cased(draw, n)}/{c}" for n in names for c in certs[n]]
    send_names = draw(st.lists(st.sampled_from(["Outbound A", "Outbound B"]), max_size=2, unique=True))

    def tls_name(local: str | None):
        options = [st.none(), STRINGS, st.sampled_from(qualified).map(lambda r: {"certificate": r})]
        if local:
            options.append(st.sampled_from(certs[local]).map(lambda r: {"certificate": r}))
        return st.one_of(options)

    raw: dict = {"format": 1, "organization": draw(NONEMPTY)}
    maybe(draw, raw, "now", MOMENTS.map(lambda m: moment(draw, m)) | st.none())
    maybe(draw, raw, "latency", st.fixed_dictionaries({}, optional={
        "launch_seconds": st.integers(0, 5) | st.floats(0, 5, allow_nan=False)}))
    if draw(st.booleans()):
        mailboxes = [n for n in names if roles[n] == "Mailbox"]
        edges = [n for n in names if roles[n] == "Edge"]
        use_edge = bool(edges) and draw(st.booleans())

        def some(pool: list[str]) -> list[str]:
            return draw(st.lists(st.sampled_from(pool), unique=True)) if pool else []

        raw["hybrid_configuration"] = {
            "tls_certificate_name": draw(tls_name(None)),
            "receiving_transport_servers": [] if use_edge else some(mailboxes),
            "sending_transport_servers": [] if use_edge else some(mailboxes),
            "edge_transport_servers": some(edges) if use_edge else [],
        }
    if send_names or draw(st.booleans()):
        raw["send_connectors"] = []
    for name in send_names:
        connector = {"name": name, "address_spaces": draw(st.lists(NONEMPTY, min_size=1, max_size=2)),
                     "source_transport_servers": [
                         cased(draw, n) for n in draw(st.lists(st.sampled_from(names), unique=True))]}
        maybe(draw, connector, "fqdn", st.sampled_from([None, "mail.contoso.com", "x"]))
        maybe(draw, connector, "tls_certificate_name", tls_name(None))
        if draw(st.booleans()):
            connector["require_tls"] = True
            level = draw(st.sampled_from(TLS_AUTH_LEVELS))
            connector["tls_auth_level"] = cased(draw, level)
            if level == "DomainValidation":
                maybe(draw, connector, "tls_domain", NONEMPTY)
        maybe(draw, connector, "cloud_services_mail_enabled", st.booleans())
        maybe(draw, connector, "smart_hosts", st.lists(NONEMPTY, max_size=2))
        raw["send_connectors"].append(connector)
    raw["servers"] = []
    for name in names:
        edge = roles[name] == "Edge"
        server = {"name": name, "fqdn": f"{name}.contoso.com", "role": cased(draw, roles[name]),
                  "version": draw(st.sampled_from(["15.2.1544.4", "15.1.2507.6", "15.0"])), "certificates": []}
        for cid in certs[name]:
            start = draw(MOMENTS)
            end = start + draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=4000)))
            subject = "CN=" + draw(STRINGS)
            cert = {"id": cid, "subject": subject, "not_before": moment(draw, start), "not_after": moment(draw, end)}
            if draw(st.booleans()):
                cert["self_signed"] = True
                if draw(st.booleans()):
                    cert["issuer"] = draw(st.sampled_from([subject, None]))
            else:
                cert["issuer"] = "CN=" + draw(STRINGS)
                maybe(draw, cert, "self_signed", st.just(False))
            maybe(draw, cert, "domains", st.lists(NONEMPTY, max_size=2))
            maybe(draw, cert, "services", st.lists(st.sampled_from(ALLOWED_SERVICES[1:]), unique=True).map(
                lambda xs: [cased(draw, x) for x in xs]) | st.just(["None"]))
            maybe(draw, cert, "has_private_key", st.booleans())
            maybe(draw, cert, "status", st.sampled_from(CERTIFICATE_STATUSES))
            maybe(draw, cert, "in_store", st.booleans())
            maybe(draw, cert, "thumbprint", st.none() | st.text("0123456789ABCDEF", min_size=40, max_size=40))
            server["certificates"].append(cert)
        server["internal_transport_certificate"] = draw(st.sampled_from(certs[name] + [f"{name}/{certs[name][0]}"]))
        if edge:
            maybe(draw, server, "edge_subscription_certificate", st.none() | st.sampled_from(certs[name]))
            maybe(draw, server, "edgesync", st.sampled_from([None, "intact", "BROKEN"]))
        maybe(draw, server, "transport_change_needs_restart", st.booleans())
        rc_names = draw(st.lists(st.sampled_from(["Default Frontend", "Client Frontend", "Default"]),
                                 max_size=2, unique=True))
        server["receive_connectors"] = []
        for rc_name in rc_names:
            rc = {"name": rc_name, "bindings": draw(st.lists(st.sampled_from(
                ["0.0.0.0:25", "[::]:25", "10.0.0.1:2525", "[2001:db8::1]:587", "192.168.1.1:65535"]),
                min_size=1, max_size=3, unique=True))}
            if not edge:
                rc["transport_role"] = cased(draw, draw(st.sampled_from(["FrontendTransport", "HubTransport"])))
            elif draw(st.booleans()):
                rc["transport_role"] = None
            maybe(draw, rc, "fqdn", st.sampled_from([None, "mail.contoso.com"]))
            maybe(draw, rc, "auth_mechanism", st.lists(st.sampled_from(AUTH_MECHANISMS[1:]), unique=True))
            maybe(draw, rc, "permission_groups", st.lists(st.sampled_from(PERMISSION_GROUPS[1:]), unique=True))
            maybe(draw, rc, "tls_domain_capabilities", st.lists(st.sampled_from(
                ["mail.protection.outlook.com:AcceptCloudServicesMail",
                 "NO-TLS:AcceptOorgProtocol,AcceptCloudServicesMail"]), unique=True))
            maybe(draw, rc, "tls_certificate_name", tls_name(name))
            maybe(draw, rc, "require_tls", st.booleans())
            server["receive_connectors"].append(rc)
        faults = []
        for kind in draw(st.lists(st.sampled_from(FAULT_KINDS), max_size=3)):
            fault = {"kind": kind}
            maybe(draw, fault, "cmdlet", st.sampled_from([None, "Get-ReceiveConnector", "Set-SendConnector"]))
            maybe(draw, fault, "times", st.integers(1, 5))
            if kind == "concurrent_change":
                targets = rc_names + send_names
                if not targets:
                    continue
                fault["connector"] = cased(draw, draw(st.sampled_from(targets)))
                fault["value"] = draw(st.none() | STRINGS)
            faults.append(fault)
        if faults or draw(st.booleans()):
            server["faults"] = faults
        maybe(draw, server, "launches", st.integers(0, 10 ** 6))
        maybe(draw, server, "writes", st.integers(0, 10 ** 6))
        maybe(draw, server, "events", st.lists(st.fixed_dictionaries({
            "id": st.integers(0, 65535), "source": NONEMPTY, "level": st.sampled_from(["Error", "Warning"]),
            "time": MOMENTS.map(lambda m: moment(draw, m)), "message": STRINGS}), max_size=2))
        raw["servers"].append(server)
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=draw(st.booleans()))


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_round_trip_generated(text):
    scenario = load_scenario_text(text, "generated.yml")
    dumped = dump_state(scenario)
    again = load_scenario_text(dumped, "dumped.yml")
    assert again == scenario
    assert dump_state(again) == dumped
