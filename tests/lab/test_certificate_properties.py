"""certificate_properties: Get-ExchangeCertificate over a plain remote session (exchange-reference.md section 1).

Cmdlets run through the lab's payload runner, as in test_model_rules.py, asking
for every property of the EMS view; a property the object lacks projects as null.
IISServices is asked for too: the lab never models it, so it is always null.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
import yaml

from exchange_lab.model import Organization
from exchange_lab.scenario import ScenarioError, dump_state, load_scenario, load_scenario_text
from exchange_lab.server import state_of

from tests.conftest import SCENARIOS
from .test_model_rules import run, thumb

X509_MEMBERS = {"Thumbprint", "Subject", "Issuer", "NotBefore", "NotAfter", "HasPrivateKey", "SerialNumber",
                "FriendlyName", "SignatureAlgorithm", "RawData"}
EMS_VIEW = X509_MEMBERS | {"Services", "Status", "IsSelfSigned", "RootCAType", "CertificateDomains", "Identity",
                           "PublicKeySize"}
# What the client's copy of an X509Certificate2 (rebuilt from RawData) says, whatever the server's store holds.
CLIENT_COPY = {"HasPrivateKey": False, "FriendlyName": ""}


def variant(tmp_path, properties: dict[str, str]) -> dict:
    """demo.yml with certificate_properties set per server ({server: value})."""
    doc = yaml.safe_load((SCENARIOS / "demo.yml").read_text())
    for server in doc["servers"]:
        if server["name"] in properties:
            server["certificate_properties"] = properties[server["name"]]
    path = tmp_path / "variant-demo.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_scenario(path)


def get_certificate(org: Organization, session: str, parameters: dict) -> dict:
    step = {"cmdlet": "Get-ExchangeCertificate", "parameters": parameters,
            "properties": sorted(EMS_VIEW | {"IISServices"})}
    result, code = run(org, session, [step])
    assert code == 0, result
    (obj,) = result["steps"][0]["objects"]
    return obj


def non_null(obj: dict) -> set[str]:
    return {k for k, v in obj.items() if v is not None}


@pytest.mark.parametrize("value, expected", [
    ("full", EMS_VIEW),
    ("remote", X509_MEMBERS),
    ("raw_data", {"RawData"}),
])
def test_get_exchange_certificate_returns_only_what_the_session_carries(tmp_path, value, expected):
    org = Organization(variant(tmp_path, {"EX01": value}))
    full = Organization(variant(tmp_path, {}))
    params = {"Thumbprint": thumb(org, "EX01", "le-r11")}
    obj = get_certificate(org, "EX01", params)
    ems = get_certificate(full, "EX01", params)
    assert non_null(ems) == EMS_VIEW
    assert non_null(obj) == expected
    # What is left is unchanged, except what only the server's store knows.
    copy = CLIENT_COPY if value == "remote" else {}
    assert {k: obj[k] for k in non_null(obj)} == {k: copy.get(k, ems[k]) for k in non_null(obj)}


def test_raw_data_alone_still_identifies_the_certificate(tmp_path):
    # Microsoft's fallback: rebuild the certificate from RawData when Thumbprint is null.
    org = Organization(variant(tmp_path, {"EX01": "raw_data"}))
    obj = get_certificate(org, "EX01", {"Thumbprint": thumb(org, "EX01", "selfsigned")})
    assert obj["Thumbprint"] is None and obj["Services"] is None
    assert hashlib.sha1(base64.b64decode(obj["RawData"])).hexdigest().upper() == thumb(org, "EX01", "selfsigned")


def test_the_sessions_server_decides_not_the_target_server(tmp_path):
    org = Organization(variant(tmp_path, {"EX01": "remote"}))
    from_ex02 = get_certificate(org, "EX02", {"Server": "EX01", "Thumbprint": thumb(org, "EX01", "le-r11")})
    assert from_ex02["Services"] == "IIS"
    from_ex01 = get_certificate(org, "EX01", {"Server": "EX02", "Thumbprint": thumb(org, "EX02", "le-r11")})
    assert from_ex01["Services"] is None and from_ex01["Thumbprint"] == thumb(org, "EX02", "le-r11")


# -- the scenario key ---------------------------------------------------------------


def test_default_is_full_and_names_are_normalised(tmp_path):
    scenario = variant(tmp_path, {"EX02": "Raw_Data", "EDGE01": "REMOTE"})
    assert [s["certificate_properties"] for s in scenario["servers"]] == ["full", "raw_data", "remote"]


def test_an_invalid_value_names_the_key_and_lists_the_valid_values(tmp_path):
    with pytest.raises(ScenarioError) as info:
        variant(tmp_path, {"EX02": "partial"})
    assert len(info.value.details) == 1, str(info.value)
    problem = info.value.details[0]
    assert problem.key == "servers[1].certificate_properties"
    assert problem.message == "'partial' is not a certificate_properties view; valid: full, remote, raw_data"
    assert f":{problem.line}: servers[1].certificate_properties: " in str(info.value)


def test_a_saved_state_keeps_the_setting(tmp_path):
    scenario = variant(tmp_path, {"EX01": "remote", "EDGE01": "raw_data"})
    text = dump_state(scenario)
    assert load_scenario_text(text) == scenario
    # Written for every server, the default too, right after transport_change_needs_restart.
    lines = [line.strip() for line in text.splitlines()]
    after = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("transport_change_needs_restart:")]
    assert after == [f"certificate_properties: {v}" for v in ("remote", "full", "raw_data")]
    org = Organization(scenario)
    reloaded = load_scenario_text(dump_state(state_of(org, scenario)))
    assert [s["certificate_properties"] for s in reloaded["servers"]] == ["remote", "full", "raw_data"]
