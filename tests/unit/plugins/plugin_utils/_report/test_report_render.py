"""report.json / changes.json schemas, and the junit.xml and report.html renderers.

The fixtures are a remediate run over three hosts and the organisation: EX01 remediated
with changes, EX02 blocked (one connector has an admin-chosen name full of markup and a
right-to-left override), EDGE01 unreachable, and the organisation blocked by one send
connector while the hybrid send connector and the hybrid configuration were fixed.
"""

from __future__ import annotations

import copy
import html
import json
import re
import pathlib
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import jsonschema
import pytest
from junitparser import Error as JError
from junitparser import Failure as JFailure
from junitparser import JUnitXml
from junitparser import Skipped as JSkipped

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import html_parts, impact_html, report_html, report_junit

ROOT = pathlib.Path(__file__).resolve().parents[5]
ROOM = "ansible_collections.exchange.transport_tls.plugins.plugin_utils._report"
FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures"
HOSTILE = 'EX02\\Relay "<script>alert(1)</script>" \u202e'


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def schema(name: str) -> dict:
    return json.loads((ROOT / "schemas" / name).read_text(encoding="utf-8"))


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def report() -> dict:
    return load("report-sample.json")


@pytest.fixture
def changes() -> dict:
    return load("changes-sample.json")


# -- schemas ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["report-v1.schema.json", "changes-v1.schema.json"])
def test_schemas_are_valid_draft_2020_12(name):
    doc = schema(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)


def test_report_fixture_validates(report):
    validator("report-v1.schema.json").validate(report)


def test_changes_fixture_validates(changes):
    validator("changes-v1.schema.json").validate(changes)


def test_fixture_is_the_scenario_the_tests_describe(report, changes):
    hosts = report["hosts"]
    assert {name: host["status"] for name, host in hosts.items()} == {
        "EX01": "remediated", "EX02": "blocked", "EDGE01": "unreachable"}
    assert report["mode"] == "remediate" and not report["check_mode"]
    assert any(c["identity"] == HOSTILE for c in hosts["EX02"]["connectors"])
    assert hosts["EX01"]["changes"] and not hosts["EX02"]["changes"]
    assert hosts["EDGE01"]["server"] is None
    # The summary counts the hosts by status.
    summary = report["summary"]
    assert summary["hosts"] == len(hosts)
    for status in ("compliant", "drift", "remediated", "blocked", "error", "unreachable"):
        assert summary[status] == sum(1 for h in hosts.values() if h["status"] == status), status
    # changes.json's applied changes are the report's changes.
    reported = [(c["object_type"], c["object"], c["property"], c["before"], c["after"])
                for c in [*hosts["EX01"]["changes"], *report["organization"]["changes"]]]
    applied = [(c["object_type"], c["object"], c["property"], c["before"], c["after"])
               for c in changes["changes"] if c["status"] == "applied"]
    assert sorted(reported) == sorted(applied)


def test_optional_fields_may_be_left_out(report):
    org = report["organization"]
    for plan in org["plans"]:
        plan.pop("source_servers", None)
    for finding in org["findings"]:
        finding.pop("servers", None)
    validator("report-v1.schema.json").validate(report)


def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split("/")
    for key in parents:
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    if value is _DELETE:
        del doc[last]
    elif isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value


_DELETE = object()

REPORT_INVALID = {
    "unknown schema id": ("schema", "exchange.transport_tls/report/v2"),
    "unknown mode": ("mode", "fix"),
    "fleet verdict cannot be unreachable": ("status", "unreachable"),
    "host status not in the enum": ("hosts/EX01/status", "ok"),
    "connector status not in the enum": ("hosts/EX01/connectors/0/status", "fixed"),
    "certificate status is not a severity": ("hosts/EX02/certificates/0/status", "expired"),
    "unknown severity": ("hosts/EX01/findings/0/severity", "critical"),
    "unknown plan status": ("hosts/EX01/plans/0/status", "planned"),
    "unknown probe phase": ("hosts/EX01/probe/0/phase", "during"),
    "unknown object type": ("hosts/EX01/changes/0/object_type", "mailbox"),
    "unknown property": ("hosts/EX01/changes/0/property", "Fqdn"),
    "organisation status not in the enum": ("organization/status", "unreachable"),
    "missing host key": ("hosts/EX01/launches", _DELETE),
    "missing summary count": ("summary/unreachable", _DELETE),
    "missing connector key": ("hosts/EX01/connectors/0/starttls_offered", _DELETE),
    "missing organisation": ("organization", _DELETE),
    "extra top-level key": ("extra", True),
    "extra connector key": ("hosts/EX01/connectors/0/note", "x"),
    "servers only on organisation findings": ("hosts/EX01/findings/0/servers", ["EX01"]),
    "extra source server key": ("organization/plans/1/source_servers/EX02/note", "x"),
    "negative summary count": ("summary/blocked", -1),
    "fractional summary count": ("summary/blocked", 1.5),
    "count as a string": ("summary/hosts", "3"),
    "negative launches": ("hosts/EX01/launches", -1),
    "hosts as a list": ("hosts", []),
    "host as a string": ("hosts/EDGE01", "unreachable"),
    "timestamp without Z": ("generated_at", "2026-11-27T12:00:00+01:00"),
    "services neither a list nor unknown": ("hosts/EX01/certificates/0/services", "SMTP"),
    "check_mode as a string": ("check_mode", "false"),
    "port out of range": ("hosts/EX01/connectors/0/ports/0", 70000),
}


@pytest.mark.parametrize("path,value", REPORT_INVALID.values(), ids=list(REPORT_INVALID))
def test_report_schema_rejects(report, path, value):
    _set(report, path, value)
    assert not validator("report-v1.schema.json").is_valid(report)


CHANGES_INVALID = {
    "unknown change status": ("changes/0/status", "done"),
    "unknown object type": ("changes/0/object_type", "mailbox"),
    "unknown property": ("changes/0/property", "Name"),
    "missing message": ("changes/0/message", _DELETE),
    "missing host": ("changes/0/host", _DELETE),
    "missing complete": ("complete", _DELETE),
    "extra key": ("changes/0/extra", 1),
    "before as a number": ("changes/0/before", 3),
    "unknown schema id": ("schema", "exchange.transport_tls/report/v1"),
}


@pytest.mark.parametrize("path,value", CHANGES_INVALID.values(), ids=list(CHANGES_INVALID))
def test_changes_schema_rejects(changes, path, value):
    _set(changes, path, value)
    assert not validator("changes-v1.schema.json").is_valid(changes)


def test_changes_written_before_the_writes_are_all_planned(changes):
    changes["complete"] = False
    assert not validator("changes-v1.schema.json").is_valid(changes), "applied before anything was attempted"
    for change in changes["changes"]:
        change["status"] = "planned"
    validator("changes-v1.schema.json").validate(changes)
    changes["changes"][0]["before"] = ["IIS", "SMTP"]  # Services is a list
    validator("changes-v1.schema.json").validate(changes)


# -- junit.xml -------------------------------------------------------------------------------------

# Jenkins' xunit junit-10.xsd (the common JUnit schema): allowed attributes and children.
XSD_ATTRIBUTES = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time", "disabled", "skipped", "skips", "timestamp",
                  "hostname", "id", "package", "assertions", "file", "skip", "log", "url"},
    "testcase": {"name", "assertions", "time", "timestamp", "classname", "status", "class", "file", "line", "log",
                 "group", "url"},
    "properties": set(),
    "property": {"name", "value"},
    "failure": {"type", "message"},
    "error": {"type", "message"},
    "skipped": {"type", "message"},
    "system-out": set(),
    "system-err": set(),
}
XSD_REQUIRED = {"testsuite": {"name", "tests", "failures", "errors", "skipped", "timestamp", "time"},
                "testcase": {"name", "classname", "time"}, "property": {"name", "value"}}
XSD_CHILDREN = {
    "testsuites": {"testsuite"},
    "testsuite": {"properties", "testcase", "system-out", "system-err"},
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "properties": {"property"},
}
# Ant's order inside a testsuite: properties, testcases, system-out, system-err.
SUITE_ORDER = {"properties": 0, "testcase": 1, "system-out": 2, "system-err": 3}


def check_junit_schema(root: ET.Element) -> None:
    assert root.tag == "testsuites"
    for element in root.iter():
        assert element.tag in XSD_ATTRIBUTES, element.tag
        assert set(element.attrib) <= XSD_ATTRIBUTES[element.tag], (element.tag, element.attrib)
        assert XSD_REQUIRED.get(element.tag, set()) <= set(element.attrib), (element.tag, element.attrib)
        children = [child.tag for child in element]
        assert set(children) <= XSD_CHILDREN.get(element.tag, set()), (element.tag, children)
        if element.tag == "testsuite":
            assert children == sorted(children, key=SUITE_ORDER.__getitem__), children
            assert children.count("properties") <= 1 and children.count("system-out") <= 1
            assert element.get("timestamp") and len(element.get("timestamp")) == 19  # xs:dateTime, no zone (Ant)
        for number in ("tests", "failures", "errors", "skipped"):
            if number in element.attrib:
                assert element.get(number).isdigit(), (element.tag, number)
        if "time" in element.attrib:
            float(element.get("time"))


def junit_counts(suite: ET.Element) -> dict:
    cases = suite.findall("testcase")
    return {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }


def test_junit_is_valid_against_the_common_schema(report):
    text = report_junit.render(report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))
    check_junit_schema(root)
    assert root.get("name") == "exchange.transport_tls connector_tls"


def test_junit_counts_match_the_testcases_and_the_report(report):
    root = ET.fromstring(report_junit.render(report).encode("utf-8"))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["EX01", "EX02", "EDGE01", "organization"]
    for name, suite in suites.items():
        counts = junit_counts(suite)
        assert {k: int(suite.get(k)) for k in counts} == counts, name
    totals = {k: sum(junit_counts(s)[k] for s in suites.values()) for k in ("tests", "failures", "errors")}
    assert {k: int(root.get(k)) for k in totals} == totals

    for name, host in report["hosts"].items():
        cases = suites[name].findall("testcase")
        connectors = [c for c in cases if c.get("classname") == name + ".receive_connector"]
        assert [c.get("name") for c in connectors] == [c["identity"] for c in host["connectors"]]
        for case, connector in zip(connectors, host["connectors"]):
            failed = connector["status"] in ("drift", "blocked", "error")
            skipped = connector["status"] in ("out_of_scope", "disabled")
            assert (case.find("failure") is not None) == failed, connector["identity"]
            assert (case.find("skipped") is not None) == skipped, connector["identity"]
        certificates = [c for c in cases if c.get("classname") == name + ".certificate"]
        checked = [c for c in host["certificates"] if c["checked"]]
        assert [c.get("name") for c in certificates] == ["%s (%s)" % (c["thumbprint"], c["subject"]) for c in checked]
        for case, cert in zip(certificates, checked):
            assert (case.find("failure") is not None) == (cert["status"] == "error"), cert["thumbprint"]
        connection = [c for c in cases if c.get("name") == "connection"]
        if host["status"] in ("error", "unreachable"):
            (case,) = connection
            assert case.find("error").get("message") == host["message"]
        else:
            assert not connection

    # The fixture's numbers, worked out by hand.
    assert {n: junit_counts(s) for n, s in suites.items()} == {
        "EX01": {"tests": 8, "failures": 0, "errors": 0, "skipped": 2},   # 5 connectors, 2 certificates, transport service
        # EX02: 3 connectors and 3 certificates (the unused relay certificate is not checked)
        "EX02": {"tests": 6, "failures": 3, "errors": 0, "skipped": 0},   # 2 blocked connectors, 1 expired certificate
        "EDGE01": {"tests": 1, "failures": 0, "errors": 1, "skipped": 0},
        "organization": {"tests": 3, "failures": 1, "errors": 0, "skipped": 0},
    }


def test_junit_failures_carry_the_findings(report):
    root = ET.fromstring(report_junit.render(report).encode("utf-8"))
    findings = report["hosts"]["EX02"]["findings"]
    (hostile,) = [c for c in root.iter("testcase") if c.get("name") == HOSTILE]  # round-trips exactly
    assert hostile.get("classname") == "EX02.receive_connector"
    failure = hostile.find("failure")
    own = [f for f in findings if f["object"] == HOSTILE]
    assert failure.get("message") == own[0]["message"]
    assert failure.get("type") == own[0]["code"]
    for finding in own:
        assert finding["message"] in failure.text
    (default,) = [c for c in root.iter("testcase") if c.get("name") == "EX02\\Default Frontend EX02"]
    assert default.find("failure").get("type") == "tls_certificate_expired"

    (org,) = [s for s in root.findall("testsuite") if s.get("name") == "organization"]
    by_name = {c.get("name"): c for c in org.findall("testcase")}
    assert by_name["Internet Outbound"].get("classname") == "organization.send_connector"
    assert by_name["Internet Outbound"].find("failure").get("type") == "blocked"
    assert "source server EX02" in by_name["Internet Outbound"].find("failure").text
    assert by_name["Hybrid Configuration"].get("classname") == "organization.hybrid_configuration"
    assert by_name["Hybrid Configuration"].find("failure") is None


def test_junit_probe_results_are_the_host_suites_output(report):
    root = ET.fromstring(report_junit.render(report).encode("utf-8"))
    (ex01,) = [s for s in root.findall("testsuite") if s.get("name") == "EX01"]
    out = ex01.find("system-out").text
    assert out.count("probe [") == len(report["hosts"]["EX01"]["probe"])
    assert "probe [after_restart] ex01.contoso.com:25" in out and "TLSv1.2" in out
    assert "restarted MSExchangeFrontEndTransport" in out


def test_junit_parses_with_junitparser(report, tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(report_junit.render(report), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"EX01", "EX02", "EDGE01", "organization"}
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites.values():
        cases = list(suite)
        kinds = [type(r) for case in cases for r in case.result]
        assert suite.tests == len(cases)
        assert suite.failures == kinds.count(JFailure)
        assert suite.errors == kinds.count(JError)
        assert suite.skipped == kinds.count(JSkipped)
        for key in totals:
            totals[key] += getattr(suite, key)
    assert totals == {"tests": 18, "failures": 4, "errors": 1, "skipped": 2}
    assert xml.tests == 18 and xml.failures == 4 and xml.errors == 1
    (edge,) = list(suites["EDGE01"])
    assert edge.name == "connection" and isinstance(edge.result[0], JError)
    assert edge.result[0].message == report["hosts"]["EDGE01"]["message"]
    hostile = [c for c in suites["EX02"] if c.name == HOSTILE]
    assert len(hostile) == 1 and not hostile[0].is_passed


def test_junit_carries_characters_xml_cannot(report):
    connector = report["hosts"]["EX01"]["connectors"][0]
    connector["identity"] = "EX01\\bell\x07 nul\x00 esc\x1b surrogate\ud800 & <done>"
    connector["status"] = "drift"
    report["hosts"]["EX01"]["findings"][0]["object"] = connector["identity"]
    report["hosts"]["EX01"]["findings"][0]["message"] = "ctl \x0b\x0c in message"
    text = report_junit.render(report)
    root = ET.fromstring(text.encode("utf-8"))
    check_junit_schema(root)
    names = [c.get("name") for c in root.iter("testcase")]
    assert "EX01\\bell\\u0007 nul\\u0000 esc\\u001b surrogate\\ud800 & <done>" in names


def test_junit_of_an_audit_with_drift_and_an_organisation_error():
    report = {
        "schema": "exchange.transport_tls/report/v1", "mode": "audit", "check_mode": False,
        "generated_at": "2026-11-27T12:00:00.250Z", "scope": "[?contains(identity, 'Frontend')]", "status": "error",
        "summary": {"hosts": 1, "compliant": 0, "drift": 1, "remediated": 0, "blocked": 0, "error": 0, "unreachable": 0},
        "hosts": {"EX09": {
            "status": "drift", "message": None,
            "server": {"name": "EX09", "fqdn": None, "role": "Mailbox", "version": None}, "launches": 1,
            "findings": [{"code": "tls_certificate_name_not_found", "severity": "error", "object_type": "receive_connector",
                          "object": "EX09\\A", "message": "stale", "current": "<I>a<S>b", "expected": "<I>c<S>b",
                          "certificates": [], "in_scope": True}],
            "connectors": [{"identity": "EX09\\A", "in_scope": True, "enabled": True, "ports": [25], "status": "drift",
                            "tls_certificate_name": {"before": "<I>a<S>b", "after": "<I>a<S>b"},
                            "selected_certificate": None, "starttls_offered": False,
                            "findings": ["tls_certificate_name_not_found"]}],
            "certificates": [], "plans": [], "changes": [], "probe": [], "restarts": []}},
        "organization": {"status": "error", "message": "Get-SendConnector failed: access denied", "runner": "EX09",
                         "findings": [], "plans": [{"object_type": "send_connector", "object": "To partner",
                                                    "status": "change", "current": "x", "expected": "y",
                                                    "reason": "renewed"}], "changes": []},
    }
    validator("report-v1.schema.json").validate(report)
    root = ET.fromstring(report_junit.render(report).encode("utf-8"))
    check_junit_schema(root)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "1")
    (org,) = [s for s in root.findall("testsuite") if s.get("name") == "organization"]
    cases = {c.get("name"): c for c in org.findall("testcase")}
    assert cases["run"].find("error").get("message") == "Get-SendConnector failed: access denied"
    assert cases["To partner"].find("failure").get("type") == "drift"


def test_junit_of_an_empty_report():
    report = {"generated_at": "2026-11-27T12:00:00Z", "hosts": {},
              "organization": {"status": "compliant", "message": None, "runner": None, "findings": [], "plans": [],
                               "changes": []}}
    root = ET.fromstring(report_junit.render(report).encode("utf-8"))
    check_junit_schema(root)
    assert root.get("tests") == "0" and [s.get("name") for s in root] == ["organization"]


# -- report.html -----------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Tags, attributes, style text and visible text of a page; checks that tags are balanced."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list = []
        self.attributes: list = []
        self.styles: list = []
        self.text: list = []
        self.stack: list = []
        self.feed(text)
        self.close()
        assert self.stack == [], self.stack

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, k, v or "") for k, v in attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, k, v or "") for k, v in attrs)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


ARTICLE_URLS = {url for _title, url in report_html.ARTICLES}


def without_articles(page: str) -> str:
    """The page without the links to Microsoft's articles (a fixed table of the renderer, never report data)."""
    for url in ARTICLE_URLS:
        page = page.replace('href="%s"' % url, 'href="#article"')
    return page


def test_html_is_self_contained(report):
    page = report_html.render(report)
    assert 'href="https://learn.microsoft.com/' in page, "the top issues link to Microsoft's articles"
    for needle in ("http:", "https:", "src=", "@import", "url(", "<script", "<link", "<img", "//"):
        assert needle not in without_articles(page).lower(), needle
    assert '<meta charset="utf-8">' in page
    parsed = Page(page)
    assert {"script", "link", "img", "iframe", "object", "embed", "base", "form"}.isdisjoint(parsed.tags)
    for tag, name, value in parsed.attributes:
        assert not name.startswith("on"), (tag, name)
        if name == "href":
            assert value.startswith("#") or value in ARTICLE_URLS, value


def test_html_keeps_urls_in_messages_as_text_only(report):
    report["hosts"]["EDGE01"]["message"] = "See https://learn.example/winrm and http://x/y; url(evil) @import"
    report["hosts"]["EX01"]["connectors"][0]["identity"] = '"><img src=x onerror=alert(1)><a href="https://evil">'
    page = report_html.render(report)
    parsed = Page(page)
    assert "https://learn.example/winrm" in parsed.visible
    assert '"><img src=x onerror=alert(1)><a href="https://evil">' in parsed.visible
    assert "img" not in parsed.tags
    for tag, name, value in parsed.attributes:
        assert ("http" not in value or value in ARTICLE_URLS) and not name.startswith("on"), (tag, name, value)
        assert name != "src"
    for style in parsed.styles:
        assert "url(" not in style and "@import" not in style and "http" not in style


def test_html_escapes_the_hostile_connector_name(report):
    page = report_html.render(report)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\u202e" not in page  # the override is shown, not obeyed
    parsed = Page(page)
    assert "script" not in parsed.tags
    shown = 'EX02\\Relay "<script>alert(1)</script>" U+202E'
    assert shown in parsed.visible
    assert parsed.visible.count('Relay "<script>alert(1)</script>"') >= 4  # connectors, findings, plans, probe, message


def test_html_escapes_every_string_of_the_report(report):
    """Every connector identity, certificate subject and finding message is on the page, as text."""
    visible = Page(report_html.render(report)).visible

    def shown(value: str) -> str:
        return value.replace("\u202e", "U+202E")

    for name, host in report["hosts"].items():
        assert name in visible
        if host["message"]:
            assert shown(host["message"]) in visible
        for connector in host["connectors"]:
            assert shown(connector["identity"]) in visible
        for cert in host["certificates"]:
            assert cert["subject"] in visible and cert["thumbprint"] in visible
        for finding in host["findings"]:
            assert shown(finding["message"]) in visible
    for finding in report["organization"]["findings"]:
        assert finding["message"] in visible


def test_html_shows_hosts_statuses_and_summary(report):
    page = report_html.render(report)
    parsed = Page(page)
    visible = parsed.visible
    for name, host in report["hosts"].items():
        assert name in visible
    for status in ("remediated", "blocked", "unreachable", "compliant", "out of scope", "disabled", "error"):
        assert status in visible, status
    # Status badges carry their colour class.
    assert '<span class="badge s-fixed">remediated</span>' in page
    assert '<span class="badge s-bad">blocked</span>' in page
    assert '<span class="badge s-grey">unreachable</span>' in page
    assert '<span class="badge s-ok">compliant</span>' in page
    for key, value in report["summary"].items():
        assert '<div class="n">%d</div><div class="l">%s</div>' % (value, key) in page
    assert report["generated_at"] in visible and "remediate" in visible and "all connectors" in visible
    assert "Organization" in visible and "Internet Outbound" in visible
    assert "EX02 holds no certificate with issuer" in visible  # the source server that blocks


def test_html_marks_check_mode_and_scope(report):
    report["check_mode"] = True
    report["scope"] = "[?ports[?@ == `25`]] | [?identity != '<x>']"
    page = report_html.render(report)
    visible = Page(page).visible
    assert "check mode" in visible
    assert report["scope"] in visible


def test_html_of_a_minimal_report_renders():
    report = {"hosts": {"H": {"status": "compliant", "server": None}}, "organization": {}}
    page = report_html.render(report)
    Page(page)
    assert "H" in page


def test_html_spells_out_control_characters(report):
    report["hosts"]["EX01"]["connectors"][0]["identity"] = "bell\x07 nul\x00 zw\u200b rtl\u202b"
    visible = Page(report_html.render(report)).visible
    assert "bell\\x07 nul\\x00 zwU+200B rtlU+202B" in visible


def test_renderers_use_only_the_standard_library():
    # The HTML page is split over modules of the same room; each may import the others and the standard library only.
    own = {f"{ROOM}.{name}" for name in ("html_parts", "impact_html")}
    for module in (report_html, html_parts, impact_html, report_junit):
        source = pathlib.Path(module.__file__).read_text(encoding="utf-8")
        imports = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
        assert set(imports) <= {"__future__", "re", "html", "xml.etree.ElementTree"} | own, imports


def test_renderers_do_not_change_the_report(report):
    before = copy.deepcopy(report)
    report_html.render(report)
    report_junit.render(report)
    assert report == before


def test_html_says_when_the_probe_did_not_reach_microsoft_365s_connector(report):
    doc = copy.deepcopy(report)
    entry = doc["hosts"]["EX01"]["probe"][-1]
    entry.update(connector="EX01\\Relay EX01", source="127.0.0.1", microsoft_365_connector="EX01\\Default Frontend EX01",
                 proves_microsoft_365=False)
    validator("report-v1.schema.json").validate(doc)
    page = report_html.render(doc)
    assert ("not the connector Microsoft 365 reaches (<bdi>EX01\\Default Frontend EX01</bdi>)") in page
    entry["proves_microsoft_365"] = True
    assert "not the connector Microsoft 365 reaches" not in report_html.render(doc)


# --- What to do first, lifetimes, history, folding (issue: output that says what to do) ---

def top_section(page: str) -> str:
    start = page.index('<section class="card top">')
    return page[start:page.index("</section>", start)]


def test_what_to_do_first_lists_every_object_that_needs_a_person_worst_first_with_microsofts_article(report):
    page = report_html.render(report)
    top = top_section(page)
    text = re.sub(r"<[^>]+>", "", top)
    # EX02 is blocked, EDGE01 unreachable, the organisation blocked; EX01 was remediated and needs nobody.
    assert "EX02" in text and "EDGE01" in text and "organization" in text
    assert top.index("EDGE01") < top.index("EX02"), "unreachable before blocked"
    assert report["hosts"]["EDGE01"]["message"][:40] in html.unescape(text)
    assert 'href="https://learn.microsoft.com/exchange/troubleshoot/email-delivery/cannot-receive-mail-with-new-certificate"' in top
    assert page.index('<section class="card top">') < page.index('<nav class="card overview"'), "it comes first"


def test_a_fleet_that_needs_nobody_says_so_first(report):
    for host in report["hosts"].values():
        host.update(status="compliant", message=None, findings=[])
    report["organization"].update(status="compliant", message=None, findings=[], plans=[])
    assert "Nothing: no host and no organisation object needs a person." in top_section(report_html.render(report))


@pytest.mark.parametrize("days, css", [(-7, "life-red"), (10, "life-red"), (29, "life-red"), (30, "life-yellow"),
                                       (59, "life-yellow"), (60, "life-green"), (400, "life-green")])
def test_certificate_lifetimes_are_coloured_as_healthchecker_does(report, days, css):
    cert = report["hosts"]["EX01"]["certificates"][0]
    cert["days_remaining"] = days
    page = report_html.render(report)
    shown = ("expired %d days ago" % -days) if days < 0 else "%d days" % days
    assert '<span class="%s">%s</span>' % (css, shown) in page


def test_an_expired_certificate_is_flagged_even_when_nothing_uses_it(report):
    cert = report["hosts"]["EX01"]["certificates"][0]
    cert.update(days_remaining=-3, status="compliant", used_by=[], checked=False, findings=[])
    page = report_html.render(report)
    row = page[page.index('<span class="mono">%s</span><br><span class="dim" title' % cert["thumbprint"]):]
    row = row[:row.index("</tr>")]
    assert '<span class="badge s-bad">expired</span>' in row and "not in use" in row


def test_events_on_a_host_that_is_fine_now_are_history_not_findings(report):
    ex01 = report["hosts"]["EX01"]
    assert ex01["status"] == "remediated" and any(f["code"] == "transport_tls_event" for f in ex01["findings"])
    page = report_html.render(report)
    card = page[page.index('id="host-1"'):page.index('id="host-2"')]
    findings = card[card.index("<h3>Findings</h3>"):card.index("<h3>History</h3>")]
    history = card[card.index("<h3>History</h3>"):]
    assert "transport_<wbr>tls_<wbr>event" not in findings and "transport_<wbr>tls_<wbr>event" in history
    ex01["status"] = "blocked"
    card = report_html.render(report)
    assert "<h3>History</h3>" not in card, "while the host needs a person, an event is a finding"


def test_host_cards_are_folded_open_only_where_a_person_is_needed(report):
    page = report_html.render(report)
    statuses = {name: host["status"] for name, host in report["hosts"].items()}
    for index, name in enumerate(report["hosts"], 1):
        tag = re.search(r'<details class="card host( quiet)?" id="host-%d"( open)?>' % index, page)
        assert tag, name
        quiet = statuses[name] in ("compliant", "remediated")
        assert bool(tag.group(1)) is quiet and bool(tag.group(2)) is not quiet, name
    assert page.index('id="show-problems"') < page.index('<div class="hosts">')
