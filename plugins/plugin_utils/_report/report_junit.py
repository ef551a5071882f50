# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""junit.xml of the connector_tls role, rendered from report.json's dict only.

CI systems (Jenkins, GitLab, Azure DevOps, GitHub test reporters) show JUnit
files as test results, so a fleet's TLS health lands where a pipeline already
looks. The layout follows the common JUnit schema (Jenkins' junit-10.xsd,
Ant's format):

- ``<testsuites name="exchange.transport_tls connector_tls">`` with the
  totals;
- one ``<testsuite>`` per inventory host (``name`` = host), one more named
  ``organization`` for send connectors and the hybrid configuration;
- a ``<testcase>`` per receive connector (classname ``<host>.receive_connector``,
  name = identity), per certificate that matters (``checked``; classname
  ``<host>.certificate``, name ``thumbprint (subject)``), per other host
  object with findings (e.g. ``<host>.transport_service``), and per
  organisation object (``organization.send_connector``,
  ``organization.hybrid_configuration``);
- a connector in drift, blocked or in error, a certificate in error, or an
  organisation object that is blocked or still needs a change has a
  ``<failure>`` (message = its worst finding's message, type = its code; the
  text lists every finding); a connector out of scope or disabled is
  ``<skipped/>``; a host that is unreachable or in error has a ``connection``
  testcase with an ``<error>``;
- probe results, restarts and changes are the host suite's ``<system-out>``.

Everything goes through ElementTree (escaping), and characters XML 1.0 cannot
carry (control characters, lone surrogates) are written as ``\\uXXXX``. So is
a carriage return in element text (failure, error, system-out): an XML parser
reads a literal CR there as a line feed, so the name a consumer saw would not
be the connector's. In attributes ElementTree writes it as ``&#13;``, which
parsers keep.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

__all__ = ["render", "SUITES_NAME"]

SUITES_NAME = "exchange.transport_tls connector_tls"

_FAILED_CONNECTOR = ("drift", "blocked", "error")
_SKIPPED_CONNECTOR = {"out_of_scope": "out of scope", "disabled": "disabled"}
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
# Characters that may not appear in an XML 1.0 document, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str:
    """A string XML can carry: None is empty, forbidden characters become \\uXXXX."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, (list, tuple)):
            value = ", ".join(_text(v) for v in value)
        else:
            value = str(value)
    return _NOT_XML.sub(lambda m: "\\u%04x" % ord(m.group()), value)


def _body(value) -> str:
    """Element text: as _text, and a CR (which XML parsers turn into LF in text) as \\u000d."""
    return _text(value).replace("\r", "\\u000d")


def _shown(value) -> str:
    """A property value in plain words: None is (none)."""
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


def _timestamp(generated_at) -> str:
    """JUnit's timestamp is xs:dateTime without a zone (Ant's pattern); report.json's is UTC with Z."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})", generated_at or "")
    return match.group(1) if match else "1970-01-01T00:00:00"


def _sorted_findings(findings: list) -> list:
    return sorted(findings, key=lambda f: _SEVERITY_RANK.get(f.get("severity"), 3))


def _finding_lines(findings: list) -> list:
    lines = []
    for f in findings:
        line = "[%s] %s: %s" % (f.get("severity"), f.get("code"), f.get("message"))
        if f.get("current") is not None or f.get("expected") is not None:
            line += "\n    current: %s\n    expected: %s" % (_shown(f.get("current")), _shown(f.get("expected")))
        if f.get("servers"):
            line += "\n    reported by: %s" % ", ".join(f["servers"])
        lines.append(line)
    return lines


class _Suite:
    """One <testsuite> being built, with its counts."""

    def __init__(self, name: str, timestamp: str, hostname=None):
        self.element = ET.Element("testsuite")
        self.name = name
        self.timestamp = timestamp
        self.hostname = hostname
        self.properties: list = []
        self.cases: list = []
        self.out: list = []
        self.tests = self.failures = self.errors = self.skipped = 0

    def prop(self, name: str, value) -> None:
        if value is not None:
            self.properties.append((name, _shown(value) if isinstance(value, list) else str(value)))

    def case(self, classname: str, name: str) -> ET.Element:
        case = ET.Element("testcase", {"name": _text(name), "classname": _text(classname), "time": "0"})
        self.cases.append(case)
        self.tests += 1
        return case

    def fail(self, case: ET.Element, message: str, kind: str, text: str) -> None:
        failure = ET.SubElement(case, "failure", {"message": _text(message), "type": _text(kind)})
        failure.text = _body(text)
        self.failures += 1

    def error(self, case: ET.Element, message: str, kind: str, text: str) -> None:
        error = ET.SubElement(case, "error", {"message": _text(message), "type": _text(kind)})
        error.text = _body(text)
        self.errors += 1

    def skip(self, case: ET.Element, message: str) -> None:
        ET.SubElement(case, "skipped", {"message": _text(message)})
        self.skipped += 1

    def build(self) -> ET.Element:
        attrs = {
            "name": _text(self.name),
            "tests": str(self.tests),
            "failures": str(self.failures),
            "errors": str(self.errors),
            "skipped": str(self.skipped),
            "timestamp": self.timestamp,
            "time": "0",
        }
        if self.hostname:
            attrs["hostname"] = _text(self.hostname)
        self.element.attrib.update(attrs)
        if self.properties:
            properties = ET.SubElement(self.element, "properties")
            for name, value in self.properties:
                ET.SubElement(properties, "property", {"name": _text(name), "value": _text(value)})
        self.element.extend(self.cases)
        if self.out:
            out = ET.SubElement(self.element, "system-out")
            out.text = _body("\n".join(self.out) + "\n")
        return self.element


def _fail_with_findings(suite: _Suite, case: ET.Element, findings: list, extra: list, fallback_message: str,
                        fallback_type: str) -> None:
    ordered = _sorted_findings(findings)
    if ordered:
        message, kind = ordered[0].get("message"), ordered[0].get("code")
    else:
        message, kind = fallback_message, fallback_type
    lines = _finding_lines(ordered) + extra
    suite.fail(case, message, kind, "\n".join(lines) if lines else fallback_message)


def _note(case: ET.Element, lines: list) -> None:
    """What a passing testcase still has to say (a change made, warnings), as its <system-out>."""
    if lines:
        out = ET.SubElement(case, "system-out")
        out.text = _body("\n".join(lines))


def _probe_line(probe: dict) -> str:
    where = "%s:%s" % (probe.get("host"), probe.get("port"))
    head = "probe [%s] %s" % (probe.get("phase"), where)
    if probe.get("connector"):
        head += " (%s)" % probe["connector"]
    if not probe.get("connected"):
        return "%s: not connected: %s" % (head, probe.get("error") or "no answer")
    if not probe.get("starttls_offered"):
        text = "%s: connected, STARTTLS not offered" % head
    elif probe.get("thumbprint"):
        text = "%s: STARTTLS offered, certificate %s" % (head, probe["thumbprint"])
        details = [d for d in (probe.get("subject"), probe.get("issuer") and "issuer " + probe["issuer"],
                               probe.get("not_after") and "until " + probe["not_after"]) if d]
        if details:
            text += " (%s)" % "; ".join(details)
        if probe.get("tls_version"):
            text += ", %s" % probe["tls_version"]
        if probe.get("cipher"):
            text += " %s" % probe["cipher"]
    else:
        text = "%s: STARTTLS offered, no certificate seen" % head
    expected = probe.get("expected_thumbprint")
    if expected:
        if probe.get("thumbprint") == expected:
            text += "; the expected certificate"
        else:
            text += "; expected certificate %s" % expected
    if probe.get("error"):
        text += "; error: %s" % probe["error"]
    return text


def _change_line(change: dict) -> str:
    return "changed %s %s %s: %s -> %s" % (
        change.get("object_type"), change.get("object"), change.get("property"),
        _shown(change.get("before")), _shown(change.get("after")))


def _host_suite(name: str, host: dict, timestamp: str) -> _Suite:
    server = host.get("server") or {}
    suite = _Suite(name, timestamp, server.get("fqdn"))
    status = host.get("status")
    suite.prop("status", status)
    suite.prop("message", host.get("message"))
    for key in ("name", "fqdn", "role", "version"):
        suite.prop("server." + key, server.get(key))
    suite.prop("launches", host.get("launches"))

    if status in ("error", "unreachable"):
        case = suite.case(name, "connection")
        message = host.get("message") or "the host is %s" % status
        suite.error(case, message, status, message)

    findings = host.get("findings") or []
    plans = {(p.get("object_type"), p.get("object")): p for p in host.get("plans") or []}
    used = set()

    for connector in host.get("connectors") or []:
        identity = connector.get("identity")
        key = ("receive_connector", identity)
        own = [f for f in findings if (f.get("object_type"), f.get("object")) == key]
        used.update(id(f) for f in own)
        case = suite.case(name + ".receive_connector", identity)
        cstatus = connector.get("status")
        if cstatus in _FAILED_CONNECTOR:
            plan = plans.get(key)
            extra = []
            if plan and plan.get("reason") and plan.get("status") != "unchanged":
                extra.append("plan (%s): %s" % (plan.get("status"), plan["reason"]))
            fallback = (plan or {}).get("reason") or host.get("message") or "the connector is %s" % cstatus
            _fail_with_findings(suite, case, own, extra, fallback, cstatus)
        elif cstatus == "exempt":
            # Skipped with the user's reason, so CI shows it on every run rather than hiding it.
            suite.skip(case, "exempt: %s" % _shown(connector.get("exempt")))
            _note(case, _finding_lines(_sorted_findings(own)))
        elif cstatus in _SKIPPED_CONNECTOR:
            suite.skip(case, _SKIPPED_CONNECTOR[cstatus])
        else:
            lines = []
            if cstatus == "remediated":
                names = connector.get("tls_certificate_name") or {}
                lines.append("remediated: TlsCertificateName %s -> %s" % (
                    _shown(names.get("before")), _shown(names.get("after"))))
            _note(case, lines + _finding_lines(_sorted_findings(own)))

    for cert in host.get("certificates") or []:
        if not cert.get("checked"):
            continue
        thumbprint = cert.get("thumbprint")
        codes = set(cert.get("findings") or [])
        own = [f for f in findings if thumbprint in (f.get("certificates") or []) and (not codes or f.get("code") in codes)]
        own += [f for f in findings if (f.get("object_type"), f.get("object")) == ("certificate", thumbprint)
                and f not in own]
        used.update(id(f) for f in own if f.get("object_type") == "certificate")
        case = suite.case(name + ".certificate", "%s (%s)" % (thumbprint, cert.get("subject")))
        if cert.get("status") == "error":
            at_fault = [f for f in own if f.get("severity") == "error"] or own
            _fail_with_findings(suite, case, at_fault, [], "the certificate is in error", "error")
        else:
            _note(case, _finding_lines(_sorted_findings(own)))

    # Host findings about other objects (the transport service, the store as a whole): a testcase
    # each, failed when one of them is an error.
    others: dict = {}
    for f in findings:
        if id(f) in used or f.get("object_type") == "receive_connector":
            continue
        if f.get("object_type") == "certificate" and any(
                t in {c.get("thumbprint") for c in host.get("certificates") or [] if c.get("checked")}
                for t in f.get("certificates") or []):
            continue
        others.setdefault((f.get("object_type"), f.get("object")), []).append(f)
    for (object_type, obj), own in others.items():
        case = suite.case("%s.%s" % (name, object_type), obj)
        if any(f.get("severity") == "error" for f in own):
            _fail_with_findings(suite, case, own, [], "", "error")
        else:
            _note(case, _finding_lines(_sorted_findings(own)))

    suite.out.extend(_probe_line(p) for p in host.get("probe") or [])
    suite.out.extend("restarted %s: %s" % (r.get("service"), _shown(r.get("reason"))) for r in host.get("restarts") or [])
    suite.out.extend(_change_line(c) for c in host.get("changes") or [])
    return suite


def _organization_suite(org: dict, timestamp: str) -> _Suite:
    suite = _Suite("organization", timestamp)
    status = org.get("status")
    suite.prop("status", status)
    suite.prop("message", org.get("message"))
    suite.prop("runner", org.get("runner"))

    if status == "error":
        case = suite.case("organization", "run")
        message = org.get("message") or "the organisation task failed"
        suite.error(case, message, "error", message)

    objects: dict = {}
    for plan in org.get("plans") or []:
        objects.setdefault((plan.get("object_type"), plan.get("object")), {"plans": [], "findings": [], "changes": []})[
            "plans"].append(plan)
    for f in org.get("findings") or []:
        objects.setdefault((f.get("object_type"), f.get("object")), {"plans": [], "findings": [], "changes": []})[
            "findings"].append(f)
    for change in org.get("changes") or []:
        key = (change.get("object_type"), change.get("object"))
        if key in objects:
            objects[key]["changes"].append(change)

    for (object_type, obj), parts in objects.items():
        case = suite.case("organization.%s" % object_type, obj)
        exempt = next((f["exempt"] for f in parts["findings"] if f.get("exempt")), None) or next(
            (p.get("reason") for p in parts["plans"] if p.get("status") == "exempt"), None)
        if exempt:
            suite.skip(case, exempt if str(exempt).startswith("exempt: ") else "exempt: %s" % exempt)
            _note(case, _finding_lines(_sorted_findings(parts["findings"])))
            continue
        blocked = [p for p in parts["plans"] if p.get("status") == "blocked"]
        pending = [p for p in parts["plans"] if p.get("status") == "change"]
        extra = []
        for plan in blocked + pending:
            extra.append("plan (%s): %s" % (plan.get("status"), _shown(plan.get("reason"))))
            for server, source in sorted((plan.get("source_servers") or {}).items()):
                if source.get("status") != "ok":
                    extra.append("    source server %s (%s): %s%s" % (
                        server, _shown(source.get("role")), source.get("status"),
                        ": " + source["reason"] if source.get("reason") else ""))
        if blocked:
            reason = blocked[0].get("reason") or "blocked"
            _fail_with_findings(suite, case, [], _finding_lines(_sorted_findings(parts["findings"])) + extra,
                                reason, "blocked")
        elif parts["changes"]:
            _note(case, ["remediated: " + _change_line(c) for c in parts["changes"]])
        elif pending:
            _fail_with_findings(suite, case, parts["findings"], extra, pending[0].get("reason") or "needs a change",
                                "drift")
        elif any(f.get("severity") == "error" for f in parts["findings"]):
            _fail_with_findings(suite, case, parts["findings"], [], "", "error")
        else:
            _note(case, _finding_lines(_sorted_findings(parts["findings"])))

    suite.out.extend(_change_line(c) for c in org.get("changes") or [])
    return suite


def render(report: dict) -> str:
    """junit.xml for a report.json dict (UTF-8 text with an XML declaration)."""
    timestamp = _timestamp(report.get("generated_at"))
    suites = [_host_suite(name, host, timestamp) for name, host in (report.get("hosts") or {}).items()]
    suites.append(_organization_suite(report.get("organization") or {}, timestamp))
    if report.get("problems"):
        # A run that checked nothing fails CI on its own, whatever the hosts say (report.run_problems).
        run = _Suite("run", timestamp)
        for problem in report["problems"]:
            run.error(run.case("run", "checked"), problem, "error", problem)
        suites.append(run)
    return _document(SUITES_NAME, suites)


IMPACT_SUITES_NAME = "exchange.transport_tls certificate impact"


def render_impact(impact: dict) -> str:
    """junit.xml of an impact/v1 document: a testcase per finding and per object; errors fail, warnings are noted."""
    timestamp = _timestamp(impact.get("generated_at"))
    findings, objects = _Suite("findings", timestamp), _Suite("objects", timestamp)
    for finding in _sorted_findings(impact.get("findings") or []):
        case = findings.case("impact.finding", "%s: %s" % (finding.get("code"), finding.get("message")))
        text = "hosts: %s\nobjects: %s" % (", ".join(finding.get("hosts") or []) or "none", ", ".join(finding.get("objects") or []) or "none")
        if finding.get("severity") == "error":
            findings.fail(case, finding.get("message") or "", finding.get("code") or "", text)
        else:
            _note(case, ["%s: %s" % (finding.get("severity"), text)])
    codes = {f.get("code"): f for f in impact.get("findings") or []}
    for obj in impact.get("objects") or []:
        case = objects.case("%s.%s" % (obj.get("host"), obj.get("object_type")), "%s (%s)" % (obj.get("object"), obj.get("action")))
        line = "%s: %s -> %s" % (obj.get("action"), _shown(obj.get("current")), _shown(obj.get("after")))
        if obj.get("action") == "blocked":
            _fail_with_findings(objects, case, [codes[c] for c in obj.get("findings") or [] if c in codes], [line], line, "blocked")
        else:
            _note(case, [line])
    return _document(IMPACT_SUITES_NAME, [findings, objects])


def _document(name: str, suites: list) -> str:
    """The <testsuites> document around the suites, with their totals (UTF-8 text with an XML declaration)."""
    root = ET.Element("testsuites", {
        "name": name,
        "tests": str(sum(s.tests for s in suites)),
        "failures": str(sum(s.failures for s in suites)),
        "errors": str(sum(s.errors for s in suites)),
        "time": "0",
    })
    root.extend(suite.build() for suite in suites)
    if hasattr(ET, "indent"):
        ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
