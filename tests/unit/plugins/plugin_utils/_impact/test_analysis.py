# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The impact analysis: which objects a candidate renews, where it must go, and what it would break."""

from __future__ import annotations

import dataclasses

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import parse_time
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact.analysis import SCHEMA, analyse, breaks_mail
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact.candidate import candidate_from_facts
from tests.unit import facts_factories as ff

NOW = parse_time(ff.NOW)
HYBRID_NAME = f"<I>{ff.R11}<S>{ff.MAIL}"


def _fleet(hybrid=True, edge=None):
    """EX01 and EX02, both holding LE R11's mail.contoso.com, hybrid connectors naming it; EX01 also an internal one."""
    fleet = {}
    for name in ("EX01", "EX02"):
        rcs = [ff.receive_connector(identity=f"{name}\\Default Frontend {name}", server=name, hybrid=hybrid,
                                    fqdn=f"{name.lower()}.contoso.com", tls_certificate_name=HYBRID_NAME)]
        if name == "EX01":
            rcs.append(ff.receive_connector(identity="EX01\\Partners", name="Partners", fqdn="mail.contoso.com",
                                            tls_certificate_name=HYBRID_NAME))
            rcs.append(ff.receive_connector(identity="EX01\\Internal", name="Internal", fqdn="ex01.contoso.com",
                                            tls_certificate_name="<I>CN=EX01<S>CN=EX01"))
        fleet[name.lower()] = ff.server_facts(
            name,
            certificates=[ff.own_certificate_of(name), ff.r11()],
            receive_connectors=rcs,
            send_connectors=[ff.send_connector(tls_certificate_name=HYBRID_NAME)] if hybrid else [],
            hybrid_configuration=ff.hybrid_configuration(tls_certificate_name=HYBRID_NAME, edge_transport_servers=edge or [])
            if hybrid else None,
        )
    return fleet


def _renamed(doc):
    return sorted((o["host"], o["object"]) for o in doc["objects"] if o["action"] == "rename")


def _codes(doc):
    return sorted({f["code"] for f in doc["findings"]})


def test_clean_renewal_from_a_new_intermediate_lists_exactly_the_renames():
    candidate = dataclasses.replace(candidate_from_facts(ff.r12()), eku=("serverAuth", "clientAuth"))
    doc = analyse(_fleet(), candidate, now=NOW)
    assert doc["schema"] == SCHEMA
    assert _renamed(doc) == [
        ("ex01", "EX01\\Default Frontend EX01"), ("ex01", "EX01\\Partners"), ("ex02", "EX02\\Default Frontend EX02"),
        ("organization", ff.OUTBOUND), ("organization", "hybrid configuration"),
    ]
    # The internal connector names EX01's own certificate, which the candidate does not renew: not listed.
    assert not [o for o in doc["objects"] if o["object"] == "EX01\\Internal"]
    assert all(o["after"] == f"<I>{ff.R12}<S>{ff.MAIL}" for o in doc["objects"] if o["action"] == "rename")
    assert sorted(o["host"] for o in doc["objects"] if o["action"] == "import") == ["ex01", "ex02"]
    assert sorted(o["host"] for o in doc["objects"] if o["action"] == "enable_smtp") == ["ex01", "ex02"]
    assert _codes(doc) == ["candidate_name_change"]
    assert not breaks_mail(doc) and doc["summary"]["breaks_mail"] is False
    exo = [o for o in doc["objects"] if o["object_type"] == "exo_inbound_connector"]
    assert exo and exo[0]["action"] == "unchanged" and "mail.contoso.com" in exo[0]["current"]


def test_candidate_already_named_is_unchanged_and_already_held_needs_nothing():
    doc = analyse(_fleet(), dataclasses.replace(candidate_from_facts(ff.r11()), eku=None), now=NOW)
    assert _renamed(doc) == []
    assert {o["action"] for o in doc["objects"]} == {"unchanged"}
    assert _codes(doc) == []


def test_domain_not_covered_blocks_the_rename():
    candidate = candidate_from_facts(ff.r12(subject="CN=smtp.contoso.com", domains=["smtp.contoso.com", "mail.contoso.com"]))
    doc = analyse(_fleet(), candidate, now=NOW)
    assert "candidate_domain_not_covered" not in _codes(doc)  # mail.contoso.com is a SAN
    narrow = candidate_from_facts(ff.r12(domains=["mail.contoso.com"], subject="CN=mail.contoso.com"))
    partner_only = analyse({"ex01": ff.server_facts("EX01", certificates=[ff.r11()], receive_connectors=[
        ff.receive_connector(identity="EX01\\Partners", fqdn="relay.contoso.com", tls_certificate_name=HYBRID_NAME)])},
        narrow, now=NOW)
    blocked = [o for o in partner_only["objects"] if o["action"] == "blocked"]
    assert [o["object"] for o in blocked] == ["EX01\\Partners"]
    assert "candidate_domain_not_covered" in blocked[0]["findings"]
    assert breaks_mail(partner_only)


def test_exo_domain_not_covered_uses_the_option_or_the_hybrid_certificate():
    candidate = candidate_from_facts(ff.r12())
    doc = analyse(_fleet(), candidate, now=NOW, exo_inbound_domain="hybrid.contoso.com")
    finding = next(f for f in doc["findings"] if f["code"] == "candidate_exo_domain_not_covered")
    assert "hybrid.contoso.com" in finding["message"] and finding["severity"] == "error"
    other = candidate_from_facts(ff.r12(subject="CN=autodiscover.contoso.com", domains=["autodiscover.contoso.com"]))
    assert "candidate_exo_domain_not_covered" in _codes(analyse(_fleet(), other, now=NOW))


def test_certificate_checks():
    base = candidate_from_facts(ff.r12())
    cases = {
        "candidate_weak_key": dict(key="RSA 1024", key_size=1024),
        "candidate_weak_signature": dict(signature_hash="sha1"),
        "candidate_no_server_auth": dict(eku=("clientAuth",)),
        "candidate_no_client_auth": dict(eku=("serverAuth",)),
        "candidate_expiring": dict(not_after="2026-12-01T00:00:00Z"),
        "candidate_not_yet_valid": dict(not_before="2026-12-01T00:00:00Z"),
        "candidate_no_private_key": dict(has_private_key=False),
        "candidate_chain_incomplete": dict(chain_complete=False, trust_detail="the issuer is missing"),
        "candidate_not_third_party": dict(third_party=False),
    }
    for code, change in cases.items():
        doc = analyse(_fleet(), dataclasses.replace(base, **change), now=NOW)
        assert code in _codes(doc), code
        finding = next(f for f in doc["findings"] if f["code"] == code)
        assert finding["hosts"] == ["ex01", "ex02"], code
    assert "candidate_not_third_party" not in _codes(analyse(_fleet(hybrid=False), dataclasses.replace(base, third_party=False), now=NOW))
    assert not breaks_mail(analyse(_fleet(), dataclasses.replace(base, eku=("serverAuth",)), now=NOW))


def test_edge_servers_that_would_differ():
    fleet = _fleet(edge=["EDGE01"])
    fleet["edge01"] = ff.server_facts("EDGE01", role="Edge", certificates=[ff.cert(subject="CN=edge.contoso.com", domains=["edge.contoso.com"])],
                                      receive_connectors=[ff.receive_connector(identity="EDGE01\\Default internal receive connector EDGE01",
                                                                               tls_certificate_name=f"<I>{ff.R11}<S>CN=edge.contoso.com")])
    doc = analyse(fleet, candidate_from_facts(ff.r12()), now=NOW)
    mismatch = next(f for f in doc["findings"] if f["code"] == "candidate_edge_subject_mismatch")
    assert mismatch["hosts"] == ["edge01"]


def test_unread_hosts_are_never_green():
    doc = analyse({}, candidate_from_facts(ff.r12()), now=NOW, unread_hosts={"ex03": "unreachable"})
    assert "candidate_host_unread" in _codes(doc) and breaks_mail(doc)
    assert breaks_mail(analyse({}, candidate_from_facts(ff.r12()), now=NOW))


def test_documents_follow_the_schema_and_render():
    import json
    import pathlib
    import xml.etree.ElementTree as ET

    import jsonschema

    from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import impact_html, report_junit

    schema = json.loads((pathlib.Path(__file__).resolve().parents[5] / "schemas/impact-v1.schema.json").read_text())
    hostile = "<script>alert(1)</script>\u202e"
    fleet = _fleet()
    fleet["ex01"]["receive_connectors"][1]["identity"] = "EX01\\" + hostile
    fleet["ex01"]["receive_connectors"][1]["fqdn"] = "relay.contoso.com"
    doc = analyse(fleet, candidate_from_facts(ff.r12()), now=NOW, unread_hosts={"ex03": "unreachable"})
    jsonschema.validate(doc, schema)
    html = impact_html.render_impact(doc)
    assert "<script>" not in html and "U+202E" in html
    assert "candidate_<wbr>domain_<wbr>not_<wbr>covered" in html
    root = ET.fromstring(report_junit.render_impact(doc).split("\n", 1)[1])
    failures = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    # The blocked object and each error finding fail; the name changes (info) pass.
    assert any(hostile.replace("\u202e", "\\u202e") in n or hostile in n for n in failures)
    assert any(n.startswith("candidate_host_unread") for n in failures)
    assert not any(n.startswith("candidate_name_change") for n in failures)
    assert int(root.get("failures")) == len(failures)


def test_the_exo_domain_falls_back_to_the_hybrid_identity():
    fleet = _fleet()
    for facts in fleet.values():
        facts["hybrid_configuration"]["tls_certificate_name"] = None  # HCW's name lost; the cloud send connector keeps it
    other = candidate_from_facts(ff.r12(subject="CN=autodiscover.contoso.com", domains=["autodiscover.contoso.com"]))
    doc = analyse(fleet, other, now=NOW)
    assert doc["options"]["exo_inbound_domain"] == "mail.contoso.com"
    assert "candidate_exo_domain_not_covered" in _codes(doc)
    # Without hybrid there is no Microsoft 365 connector to check, unless the option names its domain.
    plain = _fleet(hybrid=False)
    assert not [o for o in analyse(plain, other, now=NOW)["objects"] if o["object_type"] == "exo_inbound_connector"]
    given = analyse(plain, other, now=NOW, exo_inbound_domain="autodiscover.contoso.com")
    assert [o["action"] for o in given["objects"] if o["object_type"] == "exo_inbound_connector"] == ["unchanged"]


def test_the_page_says_unknown_for_what_facts_do_not_carry():
    from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import impact_html

    by_thumbprint = impact_html.impact_section(analyse(_fleet(), candidate_from_facts(ff.r12()), now=NOW))
    assert "not known (given by thumbprint)" in by_thumbprint and "every purpose" not in by_thumbprint
    from_file = impact_html.impact_section(analyse(_fleet(), dataclasses.replace(candidate_from_facts(ff.r12()), source="der"), now=NOW))
    assert "no EKU extension (every purpose)" in from_file and "not in the file" in from_file


def test_an_unrelated_candidate_is_not_a_clean_result():
    unrelated = candidate_from_facts(ff.cert(issuer="CN=Fabrikam CA", subject="CN=www.fabrikam.com", domains=["www.fabrikam.com"]))
    doc = analyse(_fleet(hybrid=False), unrelated, now=NOW)
    assert doc["objects"] == []
    finding = next(f for f in doc["findings"] if f["code"] == "candidate_renews_nothing")
    assert finding["severity"] == "warning" and "www.fabrikam.com" in finding["message"]
    assert "candidate_renews_nothing" not in _codes(analyse(_fleet(), candidate_from_facts(ff.r12()), now=NOW))


def test_findings_name_the_objects_they_affect():
    narrow = candidate_from_facts(ff.r12(domains=["mail.contoso.com"], key="RSA 1024", key_size=1024))
    fleet = _fleet()
    fleet["ex01"]["receive_connectors"][1]["fqdn"] = "relay.contoso.com"
    doc = analyse(fleet, narrow, now=NOW)
    by_code = {f["code"]: f for f in doc["findings"]}
    assert by_code["candidate_domain_not_covered"]["objects"] == ["EX01\\Partners"]
    assert by_code["candidate_weak_key"]["objects"] == sorted([
        "EX01\\Default Frontend EX01", "EX01\\Partners", "EX02\\Default Frontend EX02", ff.OUTBOUND, "hybrid configuration"])
