"""Exchange values as they really arrive: enums by name or by number, certificates as RawData alone.

A session that could not rehydrate Exchange's types may hand the payload every
enum as its integer (lab/docs/scenario-format.md, Additions: `enum_form: number`); the
audit, the planned remediation (--check) and a real remediation must come out
exactly as with names. With `certificate_properties: raw_data` every
certificate still shows subject, issuer, expiry and domains, and the decisions
that need Exchange-only properties block with a reason naming the property.
"""

from __future__ import annotations

import base64
import pathlib
import re

import pytest
import yaml

from exchange_lab.model import Organization
from exchange_lab.scenario import ScenarioError, dump_state, load_scenario, load_scenario_text
from exchange_lab.server import state_of

from tests.conftest import SCENARIOS
from .test_audit_and_remediate import run, state_text
from lab.tests.test_model_rules import run as run_steps
from lab.tests.test_model_rules import thumb

# Report keys that differ between two runs whatever the lab returns: clocks, run ids, paths, durations,
# and the probe's port (each lab listens on its own ephemeral SMTP port).
_VOLATILE = {"port", "generated_at", "collected_at", "started_at", "finished_at", "run_id", "duration_seconds", "elapsed",
             "time_created", "report_dir", "path", "timestamp", "at", "when", "recorded_at", "settled_at"}


def variant(tmp_path: pathlib.Path, name: str, **server_keys) -> pathlib.Path:
    """A copy of a shipped scenario with the given keys set on every server."""
    doc = yaml.safe_load((SCENARIOS / name).read_text())
    for server in doc["servers"]:
        server.update(server_keys)
    suffix = "-".join(str(v) for v in server_keys.values())
    path = tmp_path / f"{suffix}-{name}"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def stable(value):
    """A report without what changes from run to run (times, ids, paths, ports), for comparing two runs."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", value)
    return value


def differences(a, b, path: str = "") -> list[str]:
    """Where two reports differ, as "path: a != b" lines (an assertion message a person can read)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [line for k in sorted(set(a) | set(b), key=str)
                for line in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [line for i, (x, y) in enumerate(zip(a, b)) for line in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def reports(running_lab, tmp_path: pathlib.Path, scenario: pathlib.Path) -> dict:
    """Audit, remediation in check mode, then a real remediation, on one lab: rc and stable report of each."""
    lab = running_lab(scenario, state_path=tmp_path / f"{scenario.stem}.state.yml",
                      inventory_path=tmp_path / f"{scenario.stem}.ini", journal_path=tmp_path / f"{scenario.stem}.jsonl")
    out = {}
    for step, playbook, args in (("audit", "audit", ()), ("check", "remediate", ("--check",)),
                                 ("remediate", "remediate", ())):
        rc, output, report, _changes = run(lab, tmp_path / f"{scenario.stem}-{step}", playbook, *args)
        out[step] = (rc, stable(report), output)
        (tmp_path / f"{scenario.stem}-{step}.log").write_text(output)
    out["state"] = state_text(lab)
    return out


@pytest.mark.parametrize("name", ["demo.yml", "edgesync.yml"])
def test_enums_by_number_give_the_same_findings_plans_and_remediation(name, running_lab, tmp_path):
    by_name = reports(running_lab, tmp_path, variant(tmp_path, name, enum_form="name"))
    by_number = reports(running_lab, tmp_path, variant(tmp_path, name, enum_form="number"))
    for step in ("audit", "check", "remediate"):
        rc_name, report_name, output = by_name[step]
        rc_number, report_number, output_number = by_number[step]
        assert rc_number == rc_name, (step, output_number[-6000:])
        assert report_number == report_name, (step, differences(report_name, report_number)[:20])
    # The remediation really changed something, and the same thing.
    remediated = by_name["remediate"][1]
    assert any(host["status"] == "remediated" for host in remediated["hosts"].values()), by_name["remediate"][2]
    assert by_number["state"].replace("enum_form: number", "enum_form: name") == by_name["state"]


def test_only_raw_data_still_shows_every_certificate_and_blocks_with_the_reason(running_lab, tmp_path):
    lab_path = variant(tmp_path, "demo.yml", certificate_properties="raw_data")
    rc, output, report, _changes = run(running_lab(lab_path), tmp_path / "audit", "audit")
    scenario = load_scenario(lab_path)
    for server in scenario["servers"]:
        certificates = report["hosts"][server["name"]]["certificates"]
        in_store = [c for c in server["certificates"] if c["in_store"]]
        assert len(certificates) == len(in_store), server["name"]
        for certificate in certificates:
            assert certificate["subject"] and certificate["issuer"] and certificate["not_after"], certificate
            assert certificate["domains"], certificate
    ex01 = report["hosts"]["EX01"]
    blocked = [p for p in ex01["plans"] if p["status"] == "blocked"]
    assert blocked, ex01["plans"]
    assert any("HasPrivateKey" in (p.get("reason") or p.get("message") or str(p)) for p in blocked), blocked


# -- the lab: what a client of a number-form session receives ----------------------


def organization(tmp_path: pathlib.Path, **server_keys) -> Organization:
    return Organization(load_scenario(variant(tmp_path, "demo.yml", **server_keys)))


def one(org: Organization, session: str, cmdlet: str, parameters: dict, properties: list) -> list:
    result, code = run_steps(org, session, [{"cmdlet": cmdlet, "parameters": parameters, "properties": properties}])
    assert code == 0, result
    return result["steps"][0]["objects"]


def test_a_number_session_returns_every_enum_as_its_integer(tmp_path):
    named, numbered = organization(tmp_path, enum_form="name"), organization(tmp_path, enum_form="number")
    for org, expected in ((named, ("IIS", "Valid")), (numbered, (8, 1))):
        (cert,) = one(org, "EX01", "Get-ExchangeCertificate", {"Thumbprint": thumb(org, "EX01", "le-r11")},
                      ["Services", "Status", "RootCAType", "Thumbprint"])
        assert (cert["Services"], cert["Status"]) == expected
    (cert,) = one(numbered, "EX01", "Get-ExchangeCertificate", {"Thumbprint": thumb(numbered, "EX01", "le-r11")},
                  ["RootCAType", "Thumbprint"])
    assert isinstance(cert["RootCAType"], int) and cert["Thumbprint"] == thumb(numbered, "EX01", "le-r11")
    (server,) = one(numbered, "EX01", "Get-ExchangeServer", {"Identity": "EX01"}, ["ServerRole", "Site"])
    assert server == {"ServerRole": 2, "Site": "contoso.com/Configuration/Sites/Default-First-Site-Name"}
    connectors = one(numbered, "EX01", "Get-ReceiveConnector", {"Server": "EX01"},
                     ["Name", "AuthMechanism", "PermissionGroups", "TransportRole"])
    frontend = next(c for c in connectors if c["Name"] == "Default Frontend EX01")
    # Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer = 31; Anonymous, Servers, Legacy = 13.
    assert (frontend["AuthMechanism"], frontend["PermissionGroups"], frontend["TransportRole"]) == (31, 13, 16384)
    (send,) = one(numbered, "EX01", "Get-SendConnector", {}, ["TlsAuthLevel"])
    assert send["TlsAuthLevel"] in (None, 1, 2, 4)


def test_an_edge_server_has_no_site_and_its_role_by_number(tmp_path):
    numbered = organization(tmp_path, enum_form="number")
    (edge,) = one(numbered, "EDGE01", "Get-ExchangeServer", {"Identity": "EDGE01"}, ["ServerRole", "Site"])
    assert edge == {"ServerRole": 64, "Site": None}


def test_the_remote_view_is_the_clients_copy_of_the_certificate(tmp_path):
    org = organization(tmp_path, certificate_properties="remote")
    (cert,) = one(org, "EX01", "Get-ExchangeCertificate", {"Thumbprint": thumb(org, "EX01", "le-r11")},
                  ["HasPrivateKey", "FriendlyName", "Services", "PublicKeySize", "RawData"])
    assert cert["HasPrivateKey"] is False and cert["FriendlyName"] == ""
    assert cert["Services"] is None and cert["PublicKeySize"] is None and base64.b64decode(cert["RawData"])


# -- the scenario key ---------------------------------------------------------------


def test_enum_form_defaults_to_name_and_is_normalised(tmp_path):
    scenario = load_scenario(variant(tmp_path, "demo.yml", enum_form="NUMBER"))
    assert {s["enum_form"] for s in scenario["servers"]} == {"number"}
    default = load_scenario(SCENARIOS / "demo.yml")
    assert {s["enum_form"] for s in default["servers"]} == {"name"}


def test_an_invalid_enum_form_names_the_key_the_line_and_the_valid_values(tmp_path):
    path = variant(tmp_path, "demo.yml", enum_form="integer")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problem = info.value.details[0]
    assert problem.key == "servers[0].enum_form"
    assert problem.message == "'integer' is not an enum_form; valid: name, number"
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "enum_form: integer" in text)
    assert problem.line == line and f":{line}: servers[0].enum_form: " in str(info.value)


def test_a_saved_state_keeps_enum_form(tmp_path):
    scenario = load_scenario(variant(tmp_path, "demo.yml", enum_form="number"))
    assert load_scenario_text(dump_state(scenario)) == scenario
    reloaded = load_scenario_text(dump_state(state_of(Organization(scenario), scenario)))
    assert {s["enum_form"] for s in reloaded["servers"]} == {"number"}
