# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html of the connector_tls role, rendered from report.json's dict only.

One self-contained page for people: inline CSS, no script, and nothing it
loads from elsewhere (no fonts, images or stylesheets), so it can be mailed,
archived as a CI artefact or opened on an isolated admin workstation as it is.
The only links that leave the page are to Microsoft's own articles, from a
fixed table in this module (never from the report's data), as HealthChecker
gives a "More information" link for each problem.

It puts first what to do (the most serious problems, one line each), colours
certificate lifetimes as HealthChecker does (red under 30 days, yellow under
60), and folds the host cards so that a fleet of hundreds stays readable: hosts
that need a person are open, the others closed, and a filter (CSS only) shows
only the hosts with problems.

Every value from the report goes through ``html.escape``: connector names
are chosen by administrators and may hold markup, quotes or text-direction
characters. Invisible direction and zero-width characters (U+202E and its
kind, which make text read differently from what it is) are shown as a
visible ``U+XXXX`` mark instead of being obeyed, and each value is isolated
(``<bdi>``) so right-to-left names do not reorder the text around them.
"""

from __future__ import annotations

from html import escape

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.html_parts import (
    _badge,
    _before_after,
    _chips,
    _code,
    _code_chip,
    _CSS,
    _current_expected,
    _escape_controls,
    _object,
    _plain,
    _SEVERITY_RANK,
    _STATUS_CLASS,
    _t,
    _table,
    _td,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report.impact_html import impact_section, render_impact

# impact_section and render_impact live in impact_html; they stay importable from here.
__all__ = ["impact_section", "render", "render_impact"]

_TILES = ("hosts", "compliant", "remediated", "drift", "blocked", "error", "unreachable")
_TILE_CLASS = {"compliant": "s-ok", "remediated": "s-fixed", "drift": "s-drift", "blocked": "s-bad",
               "error": "s-bad", "unreachable": "s-grey", "hosts": "s-none"}

# Microsoft's article for what a finding is about: fixed addresses, never taken from the report's data.
_KB2989382 = ("KB 2989382", "https://learn.microsoft.com/exchange/troubleshoot/email-delivery/cannot-receive-mail-with-new-certificate")
_STARTTLS = ("Selection of inbound STARTTLS certificates",
             "https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates-selection")
_ENABLE = ("Enable-ExchangeCertificate", "https://learn.microsoft.com/powershell/module/exchange/enable-exchangecertificate")
_HYBRID = ("HealthChecker: hybrid connector certificate", "https://aka.ms/HC-HybridConnector")
ARTICLES = (_KB2989382, _STARTTLS, _ENABLE, _HYBRID)
_ARTICLE_BY_PREFIX = (
    ("hybrid_", _HYBRID), ("tls_certificate_self_signed_for_hybrid", _HYBRID),
    ("tls_certificate_smtp_not_enabled", _ENABLE), ("internal_transport_certificate", _ENABLE),
    ("tls_certificate_name", _KB2989382), ("no_replacement_certificate", _KB2989382),
    ("ambiguous_replacement_certificate", _KB2989382), ("tls_certificate_expired", _KB2989382),
    ("tls_certificate_expiring", _KB2989382),
    ("starttls_", _STARTTLS), ("tls_", _STARTTLS), ("transport_tls_event", _STARTTLS),
)
_TOP_ROWS = 25
_CODE_TEXT = {
    "tls_certificate_name_not_found": "no certificate on the server matches the connector's TlsCertificateName",
    "hybrid_tls_certificate_name_missing": "a hybrid connector has no TlsCertificateName",
    "tls_certificate_expired": "the certificate the connector uses has expired",
    "tls_certificate_smtp_not_enabled": "the certificate the connector uses is not enabled for SMTP",
    "tls_not_in_auth_mechanism": "the connector's AuthMechanism lacks Tls: STARTTLS is never offered",
}
_QUIET = ("compliant", "remediated")


# -- sections --------------------------------------------------------------------------------------

def _header(report: dict) -> str:
    mode = report.get("mode")
    mode_text = _plain(mode or "unknown")
    if report.get("check_mode"):
        mode_text += ' <span class="dim">(check mode: nothing was changed)</span>'
    scope = report.get("scope")
    scope_html = _code(scope) if scope else "all connectors"
    hosts = report.get("hosts") or {}
    return (
        '<header class="card"><div class="page-head"><div>'
        "<h1>Exchange transport TLS report</h1>"
        '<p class="sub">Receive connectors, send connectors, the hybrid configuration and their certificates, '
        "as the exchange.transport_tls connector_tls role found and left them.</p></div>"
        '<div class="verdict"><span class="label">Fleet verdict</span>%s</div></div>'
        '<dl class="meta">'
        "<div><dt>Mode</dt><dd>%s</dd></div>"
        "<div><dt>Generated (UTC)</dt><dd>%s</dd></div>"
        "<div><dt>Scope</dt><dd>%s</dd></div>"
        "<div><dt>Hosts</dt><dd>%s</dd></div>"
        "</dl></header>"
    ) % (_badge(report.get("status"), big=True), mode_text, _t(report.get("generated_at")), scope_html,
         escape(str(len(hosts))))


def _tiles(summary: dict) -> str:
    tiles = []
    for key in _TILES:
        value = summary.get(key, 0)
        try:
            n = int(value)
        except (TypeError, ValueError):
            n = 0
        css = _TILE_CLASS[key] + (" zero" if n == 0 and key != "hosts" else "")
        tiles.append('<div class="tile %s"><div class="n">%s</div><div class="l">%s</div></div>'
                     % (css, escape(str(value)), escape(key)))
    return '<section class="tiles" aria-label="summary">%s</section>' % "".join(tiles)


def _severity_counts(findings) -> str:
    counts: dict = {}
    for f in findings or []:
        counts[f.get("severity")] = counts.get(f.get("severity"), 0) + 1
    parts = []
    for severity in ("error", "warning", "info"):
        if counts.get(severity):
            parts.append('<span class="badge %s">%d %s</span>' % (_STATUS_CLASS[severity], counts[severity],
                                                                  escape(severity)))
    return " ".join(parts) or '<span class="none">none</span>'


def _overview(report: dict) -> str:
    rows = []
    for index, (name, host) in enumerate((report.get("hosts") or {}).items(), 1):
        server = host.get("server") or {}
        connectors = host.get("connectors") or []
        in_scope = sum(1 for c in connectors if c.get("in_scope"))
        server_text = " \u00b7 ".join(_t(server.get(k)) for k in ("fqdn", "role", "version") if server.get(k)) \
            or '<span class="none">not read</span>'
        rows.append([
            _td('<a href="#host-%d">%s</a>' % (index, _t(name))),
            _td(_badge(host.get("status"))),
            _td(server_text),
            _td("%d of %d" % (in_scope, len(connectors)) if connectors else '<span class="none">\u2014</span>', "num"),
            _td(_severity_counts([f for f in host.get("findings") or [] if f not in _history(host)])),
            _td(escape(str(len(host.get("changes") or []))), "num"),
        ])
    org = report.get("organization") or {}
    runner = org.get("runner")
    rows.append([
        _td('<a href="#organization">organization</a>'),
        _td(_badge(org.get("status"))),
        _td(("send connectors, hybrid configuration; run on %s" % _t(runner)) if runner
            else "send connectors, hybrid configuration"),
        _td('<span class="none">\u2014</span>', "num"),
        _td(_severity_counts(org.get("findings"))),
        _td(escape(str(len(org.get("changes") or []))), "num"),
    ])
    table = _table([("Host", "w-host"), ("Status", "w-status"), ("Server", ""), ("In scope", "num w-count"),
                    ("Findings", "w-findings"), ("Changes", "num w-count")], rows, "")
    return '<nav class="card overview" aria-label="hosts"><h3 style="margin-top:0">Hosts</h3>%s</nav>' % table


def _changed_objects(changes) -> set:
    return {(c.get("object_type"), c.get("object")) for c in changes or []}


def _findings_table(findings, changed: set, with_servers: bool = False) -> str:
    """Findings, worst first; those about an object this run changed are marked as such."""
    ordered = sorted(findings or [], key=lambda f: _SEVERITY_RANK.get(f.get("severity"), 3))
    rows = []
    for f in ordered:
        fixed = (f.get("object_type"), f.get("object")) in changed
        tag = ('<br><span class="badge s-fixed tag" title="this run changed the object the finding is about">'
               "changed</span>") if fixed else ""
        row = [
            _td(_badge(f.get("severity")) + tag),
            _td(_code_chip(f.get("code"))),
            _td(_object(f.get("object_type"), f.get("object"))),
            _td(_t(f.get("message")) + ("" if f.get("in_scope", True) else ' <span class="dim">(out of scope)</span>')),
            _td(_current_expected(f.get("current"), f.get("expected"))),
        ]
        if with_servers:
            row.append(_td(_t(f.get("servers"))))
        rows.append(row)
    headers = [("Severity", "w-sev"), ("Code", "w-code"), ("Object", "w-object"), ("Message", ""),
               ("Current \u2192 expected", "w-values")]
    if with_servers:
        headers.append(("Reported by", "w-servers"))
    return _table(headers, rows, "No findings.")


def _changes_table(changes) -> str:
    rows = [[
        _td(_object(c.get("object_type"), c.get("object"))),
        _td('<span class="mono">%s</span>' % _plain(c.get("property") or "")),
        _td(_before_after(c.get("before"), c.get("after"))),
        _td(_t(c.get("server"))),
    ] for c in changes or []]
    return _table([("Object", "w-object"), ("Property", "w-prop"), ("Before \u2192 after", ""), ("Server", "w-server")],
                  rows, "Nothing was changed.")


def _connectors_table(connectors) -> str:
    rows = []
    for c in connectors or []:
        names = c.get("tls_certificate_name") or {}
        name_html = _before_after(names.get("before"), names.get("after"), "not set")
        if c.get("selected_certificate"):
            name_html += '<span class="uses">uses <span class="mono">%s</span></span>' % _plain(
                c["selected_certificate"])
        starttls = c.get("starttls_offered")
        starttls_html = ('<span class="yes">offered</span>' if starttls
                         else '<span class="no">not offered</span>' if starttls is False
                         else '<span class="none">unknown</span>')
        if c.get("status") in ("disabled", "out_of_scope") and not starttls:
            starttls_html = '<span class="dim">not offered</span>'
        rows.append([
            _td(_t(c.get("identity"))),
            _td(escape(", ".join(str(p) for p in c.get("ports") or [])) or '<span class="none">\u2014</span>', "nowrap"),
            _td(_badge(c.get("status")) + ('<br><span class="dim">%s</span>' % _t(c["exempt"]) if c.get("exempt") else "")),
            _td(name_html),
            _td(starttls_html, "nowrap"),
            _td(_chips(c.get("findings"))),
        ])
    return _table([("Connector", ""), ("Ports", "w-ports"), ("Status", "w-status"),
                   ("TlsCertificateName before \u2192 after", "w-values"), ("STARTTLS", "w-starttls"),
                   ("Findings", "w-findings")], rows, "No receive connectors were read.")


def _certificates_table(certificates) -> str:
    rows = []
    for c in certificates or []:
        days = c.get("days_remaining")
        if isinstance(days, int):
            # HealthChecker's colours for certificate lifetime: red under 30 days, yellow under 60.
            days_html = ('<span class="life-red">expired %d days ago</span>' % -days if days < 0
                         else '<span class="%s">%d days</span>' % (
                             "life-red" if days < 30 else "life-yellow" if days < 60 else "life-green", days))
        else:
            days_html = '<span class="none">\u2014</span>'
        services = c.get("services")
        services_html = ('<span class="dim">unknown</span>' if services == "unknown"
                         else escape(", ".join(str(s) for s in services or [])) or '<span class="none">none</span>')
        rows.append([
            _td('<span class="mono">%s</span>%s' % (_plain(c.get("thumbprint") or ""),
                                                    "" if c.get("checked") else
                                                    '<br><span class="dim" title="no connector uses it and no finding'
                                                    ' names it">not in use</span>')),
            _td(_t(c.get("subject")) + '<br><span class="dim">issued by %s</span>' % _t(c.get("issuer"))),
            _td(_t(c.get("not_after")) + "<br>" + days_html, "nowrap"),
            _td(services_html),
            _td(_t(c.get("used_by"))),
            # An expired certificate is flagged even when nothing uses it: it is the one a renewal forgot.
            _td(_badge(c.get("status")) + (' <span class="badge s-bad">expired</span>' if isinstance(days, int) and days < 0
                                           else "")
                + (" " + _chips(c.get("findings")) if c.get("findings") else "")),
        ])
    return _table([("Thumbprint", "w-thumb"), ("Subject / issuer", ""), ("Expires", "w-date"), ("Services", "w-services"),
                   ("Used by", ""), ("Status", "w-cstatus")], rows, "No certificates were read.")


def _plans_table(plans, organization: bool = False) -> str:
    rows = []
    for p in plans or []:
        row = [
            _td(_object(p.get("object_type"), p.get("object"))),
            _td(_badge(p.get("status"))),
            _td(_current_expected(p.get("current"), p.get("expected"))),
            _td(_t(p.get("reason"))),
        ]
        if organization:
            items = []
            for server, source in sorted((p.get("source_servers") or {}).items()):
                ok = source.get("status") == "ok"
                line = '<span class="%s">%s</span> %s' % (
                    "src-ok" if ok else "src-bad", "\u2713" if ok else "\u2717", _t(server))
                details = [d for d in (source.get("role"),) if d]
                line += (' <span class="dim">(%s)</span>' % _t(details[0])) if details else ""
                line += " %s" % _badge(source.get("status"))
                if source.get("thumbprint"):
                    line += ' <span class="mono dim">%s</span>' % _plain(source["thumbprint"])
                if source.get("reason"):
                    line += '<br><span class="%s">%s</span>' % ("dim" if ok else "src-bad", _t(source["reason"]))
                items.append("<li>%s</li>" % line)
            row.append(_td('<ul class="plain">%s</ul>' % "".join(items) if items else '<span class="none">\u2014</span>'))
        rows.append(row)
    headers = [("Object", "w-object"), ("Plan", "w-status"), ("Current \u2192 expected", "w-values"), ("Reason", "")]
    if organization:
        headers.append(("Source servers", "w-sources"))
    return _table(headers, rows, "Nothing was planned.")


def _probe_table(probes) -> str:
    rows = []
    for p in probes or []:
        expected = p.get("expected_thumbprint")
        if not p.get("connected"):
            result = '<span class="no">not connected</span>'
        elif not p.get("starttls_offered"):
            result = '<span class="no">no STARTTLS</span>'
        elif expected and p.get("thumbprint") != expected:
            result = '<span class="no">unexpected certificate</span>'
        elif p.get("thumbprint"):
            result = '<span class="yes">STARTTLS, %s</span>' % ("expected certificate" if expected else "certificate")
        else:
            result = '<span class="dim">STARTTLS offered</span>'
        cert = []
        if p.get("thumbprint"):
            cert.append('<span class="mono">%s</span>' % _plain(p["thumbprint"]))
            if p.get("subject"):
                cert.append(_t(p["subject"]))
            if p.get("not_after"):
                cert.append('<span class="dim">until %s</span>' % _t(p["not_after"]))
        if expected and p.get("thumbprint") != expected:
            cert.append('<span class="dim">expected <span class="mono">%s</span></span>' % _plain(expected))
        tls = " ".join(_t(v) for v in (p.get("tls_version"), p.get("cipher")) if v)
        endpoint = _t(p.get("connector"), "no connector")
        if p.get("proves_microsoft_365") is False:
            # The probe's address reached another connector than Microsoft 365's: that one stays unproven.
            endpoint += '<br><span class="no">not the connector Microsoft 365 reaches (%s)</span>' % _t(
                p.get("microsoft_365_connector"), "none accepts it")
        if p.get("error"):
            tls += ('<br>' if tls else "") + '<span class="no">%s</span>' % _t(p["error"])
        rows.append([
            _td('<span class="chip">%s</span>' % _plain(p.get("phase") or "")),
            _td('<span class="mono">%s:%s</span><br>%s' % (_plain(p.get("host") or ""), _plain(p.get("port")), endpoint)),
            _td(result),
            _td("<br>".join(cert) or '<span class="none">\u2014</span>'),
            _td(tls or '<span class="none">\u2014</span>'),
        ])
    return _table([("Phase", "w-phase"), ("Endpoint", ""), ("Result", "w-result"), ("Certificate presented", ""),
                   ("TLS / error", "w-tls")], rows, "No SMTP probes were made.")


def _article(code) -> str:
    for prefix, (title, url) in _ARTICLE_BY_PREFIX:
        if str(code or "").startswith(prefix):
            return '<a href="%s">%s</a>' % (escape(url, quote=True), escape(title))
    return '<span class="none">\u2014</span>'


def _history(host: dict) -> list:
    """Transport TLS events on a host that is fine now: logged before its current configuration (history)."""
    if host.get("status") not in _QUIET:
        return []
    return [f for f in host.get("findings") or [] if f.get("code") == "transport_tls_event"]


_RANK = {"unreachable": 0, "error": 0, "blocked": 1, "drift": 2, "warning": 3}


def _problems(name: str, entry: dict) -> list:
    """(rank, row) per object of a host (or the organisation) that needs a person, worst first."""
    if entry.get("status") in ("unreachable", "error") and entry.get("message"):
        return [(0, [_td(_t(name)), _td('<span class="none">\u2014</span>'), _td(_badge(entry["status"])),
                     _td(_t(entry["message"]), "what"), _td('<span class="none">\u2014</span>')])]
    history = {id(f) for f in _history(entry)}
    changed = _changed_objects(entry.get("changes"))
    plans = {(p.get("object_type"), p.get("object")): p for p in entry.get("plans") or []}
    objects: dict = {}
    for f in entry.get("findings") or []:
        if id(f) in history or not f.get("in_scope", True) or f.get("severity") not in ("error", "warning") or f.get("exempt"):
            continue
        key = (f.get("object_type"), f.get("object"))
        # What this run changed was dealt with, and a host that is fine now needs a person only for a warning.
        if key in changed or (entry.get("status") in _QUIET and f.get("severity") == "error"):
            continue
        objects.setdefault(key, []).append(f)
    rows = []
    for key, found in objects.items():
        found.sort(key=lambda f: _SEVERITY_RANK.get(f.get("severity"), 3))
        worst = found[0]
        plan = plans.get(key) or {}
        if plan.get("status") == "blocked":
            status, todo = "blocked", plan.get("reason")
        elif plan.get("status") == "change":
            status = "drift"
            todo = "run exchange.transport_tls.remediate: it sets TlsCertificateName to %s" % plan.get("expected")
        else:
            status, todo = worst.get("severity"), worst.get("message")
        what = worst.get("message") if todo != worst.get("message") else _CODE_TEXT.get(worst.get("code"), worst.get("code"))
        rows.append((_RANK.get(status, 3), [
            _td(_t(name)), _td(_object(*key)), _td(_badge(status) + " " + _code_chip(worst.get("code"))),
            _td(_t(what) + '<br><span class="dim">%s</span>' % _t(todo), "what"), _td(_article(worst.get("code")))]))
    return rows


def _top_issues(report: dict) -> str:
    """What to do first: one line per object that needs a person, worst first, with Microsoft's article."""
    ranked = []
    for name, host in (report.get("hosts") or {}).items():
        ranked += _problems(name, host)
    ranked += _problems("organization", report.get("organization") or {})
    ranked.sort(key=lambda item: item[0])
    if not ranked:
        return ('<section class="card top"><h3 style="margin-top:0">What to do first</h3>'
                '<p class="empty">Nothing: no host and no organisation object needs a person.</p></section>')
    more = len(ranked) - _TOP_ROWS
    table = _table([("Server", "w-host"), ("Object", "w-object"), ("Problem", "w-findings"), ("What is wrong / what to do", ""),
                    ("More information", "w-findings")], [row for _rank, row in ranked[:_TOP_ROWS]], "")
    tail = '<p class="dim">and %d more below.</p>' % more if more > 0 else ""
    return '<section class="card top"><h3 style="margin-top:0">What to do first</h3>%s%s</section>' % (table, tail)


def _message(message, status) -> str:
    if not message:
        return ""
    css = {"blocked": "s-bad", "error": "s-bad", "unreachable": "", "drift": "s-drift", "remediated": "s-fixed"}.get(
        status, "")
    return '<div class="note %s">%s</div>' % (css, _t(message))


def _host_section(index: int, name: str, host: dict) -> str:
    server = host.get("server")
    if server:
        line = "<b>%s</b>" % _t(server.get("name"))
        for key in ("fqdn", "role", "version"):
            if server.get(key):
                line += " \u00b7 %s" % _t(server[key])
    else:
        line = "server facts were not read"
    launches = host.get("launches")
    if isinstance(launches, int):
        line += " \u00b7 %d PowerShell launch%s" % (launches, "" if launches == 1 else "es")
    quiet = host.get("status") in _QUIET
    # Closed when nothing needs a person, so a large fleet reads as its problems; the filter hides those.
    parts = [
        '<details class="card host%s" id="host-%d"%s><summary>' % (" quiet" if quiet else "", index, "" if quiet else " open"),
        '<div class="host-head"><h2><span class="fold"></span>%s</h2>%s</div>' % (_t(name), _badge(host.get("status"))),
        '<div class="server">%s</div></summary>' % line,
        _message(host.get("message"), host.get("status")),
    ]
    history = _history(host)
    nothing_read = not server and not any(host.get(k) for k in ("connectors", "certificates", "findings", "plans"))
    if nothing_read:
        parts.append('<p class="empty" style="margin-top:14px">Nothing was read from this host.</p>')
    else:
        parts += [
            "<h3>Receive connectors</h3>", _connectors_table(host.get("connectors")),
            "<h3>Findings</h3>", _findings_table([f for f in host.get("findings") or [] if f not in history],
                                                 _changed_objects(host.get("changes"))),
        ]
        if history:
            parts += ['<h3>History</h3><p class="history">Transport logged these events before the configuration'
                      ' this report shows (the server is %s now); they are kept for the record.</p>'
                      % _plain(host.get("status")), _findings_table(history, set())]
        if any(p.get("status") != "unchanged" for p in host.get("plans") or []):
            parts += ["<h3>Plan</h3>", _plans_table([p for p in host.get("plans") or []
                                                     if p.get("status") != "unchanged"])]
        parts += [
            "<h3>Changes</h3>", _changes_table(host.get("changes")),
            "<h3>Certificates</h3>", _certificates_table(host.get("certificates")),
        ]
    if host.get("probe"):
        parts += ["<h3>SMTP probe</h3>", _probe_table(host.get("probe"))]
    if host.get("restarts"):
        items = "".join("<li><b>%s</b>: %s</li>" % (_t(r.get("service")), _t(r.get("reason")))
                        for r in host["restarts"])
        parts += ["<h3>Service restarts</h3>", '<ul class="plain">%s</ul>' % items]
    parts.append("</details>")
    return "".join(parts)


def _organization_section(org: dict) -> str:
    runner = org.get("runner")
    return "".join([
        '<section class="card org" id="organization">',
        '<div class="host-head"><h2>Organization</h2>%s</div>' % _badge(org.get("status")),
        '<div class="server">send connectors and the hybrid configuration%s</div>' % (
            "; evaluated and changed from <b>%s</b>" % _t(runner) if runner else ""),
        _message(org.get("message"), org.get("status")),
        "<h3>Plans</h3>", _plans_table(org.get("plans"), organization=True),
        "<h3>Findings</h3>", _findings_table(org.get("findings"), _changed_objects(org.get("changes")),
                                             with_servers=True),
        "<h3>Changes</h3>", _changes_table(org.get("changes")),
        "</section>",
    ])


def render(report: dict) -> str:
    """report.html for a report.json dict: one self-contained page."""
    hosts = report.get("hosts") or {}
    title = "Exchange transport TLS report \u2013 %s \u2013 %s" % (report.get("status") or "unknown",
                                                                   report.get("generated_at") or "")
    body = [
        _header(report),
        # A run that checked nothing says so before anything else (report.run_problems).
        "".join(_message(problem, "error") for problem in report.get("problems") or []),
        _tiles(report.get("summary") or {}),
        _top_issues(report),
        _overview(report),
        # The filter: radio buttons before the host cards, read by CSS (:checked ~), so the page needs no script.
        '<input type="radio" name="show" id="show-all" class="f" checked>'
        '<input type="radio" name="show" id="show-problems" class="f">'
        '<div class="filter"><span>Show</span><label for="show-all">every host</label>'
        '<label for="show-problems">only hosts that need a person</label></div>'
        if hosts else "",
    ]
    body.append('<div class="hosts">%s</div>' % "".join(
        _host_section(index, name, host) for index, (name, host) in enumerate(hosts.items(), 1)))
    body.append(_organization_section(report.get("organization") or {}))
    body.append('<footer>%s \u00b7 rendered from report.json by exchange.transport_tls</footer>'
                % _t(report.get("schema")))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n%s\n</main>\n</body>\n</html>\n"
    ) % (_escape_controls(title), _CSS, "\n".join(body))
