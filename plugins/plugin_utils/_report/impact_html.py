# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html of an impact run (exchange_certificate_impact, impact/v1): one self-contained page holding the
impact section, in the same style and with the same escaping as the run report.

Standard library only.
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
    _escape_controls,
    _object,
    _plain,
    _SEVERITY_RANK,
    _t,
    _table,
    _td,
)

__all__ = ["impact_section", "render_impact"]


_IMPACT_ACTION_CLASS = {"rename": "change", "unchanged": "unchanged", "import": "change", "enable_smtp": "change", "blocked": "blocked"}


def impact_section(impact: dict) -> str:
    """The section of an impact/v1 document: the candidate, its findings and every object it changes."""
    cand = impact.get("candidate") or {}
    # Given by thumbprint, the facts carry no EKU and no chain: unknown, not "none".
    unknown = "not known (given by thumbprint)" if cand.get("source") == "facts" else None
    facts = [("Thumbprint", _code(cand.get("thumbprint"))), ("TlsCertificateName", _code(cand.get("tls_certificate_name"))),
             ("Domains", _t(cand.get("domains"))), ("Valid", "%s \u2013 %s" % (_t(cand.get("not_before")), _t(cand.get("not_after")))),
             ("Key", _t(cand.get("key"))), ("Signature hash", _t(cand.get("signature_hash"))),
             ("EKU", _t(cand.get("eku"), none=unknown or "no EKU extension (every purpose)")),
             ("Chain", _t([c.get("subject") for c in cand.get("chain") or []], none=unknown or "not in the file"))]
    findings = sorted(impact.get("findings") or [], key=lambda f: (_SEVERITY_RANK.get(f.get("severity"), 3), f.get("code") or ""))
    finding_rows = [[_td(_badge(f.get("severity"))), _td(_code_chip(f.get("code"))), _td(_t(f.get("message"))), _td(_t(f.get("hosts"))),
                     _td(_t(f.get("objects")))] for f in findings]
    object_rows = [[_td(_t(o.get("host"))), _td(_object(o.get("object_type"), o.get("object"))),
                    _td(_badge(_IMPACT_ACTION_CLASS.get(o.get("action"), o.get("action")))
                        + ' <span class="dim">%s</span>' % _plain(o.get("action") or "")),
                    _td(_before_after(o.get("current"), o.get("after"))), _td(_chips(o.get("findings")))]
                   for o in impact.get("objects") or []]
    breaks = (impact.get("summary") or {}).get("breaks_mail")
    return "".join([
        '<section class="card org" id="impact">',
        '<div class="host-head"><h2>Candidate certificate impact</h2>%s</div>' % _badge("error" if breaks else "ok"),
        '<div class="server">%s</div>' % _t(cand.get("subject")),
        _table([("Property", ""), ("Value", "")], [[_td(escape(k)), _td(v)] for k, v in facts], "no candidate"),
        "<h3>Findings</h3>",
        _table([("Severity", ""), ("Code", ""), ("Message", ""), ("Servers", ""), ("Objects", "")], finding_rows, "No findings."),
        "<h3>Objects</h3>",
        _table([("Host", ""), ("Object", ""), ("Action", ""), ("Current \u2192 after", ""), ("Findings", "")], object_rows,
               "No object names the certificate the candidate renews."),
        "</section>",
    ])


def render_impact(impact: dict) -> str:
    """report.html of an impact run: one self-contained page holding the impact section."""
    title = "Exchange certificate impact \u2013 %s" % ((impact.get("candidate") or {}).get("thumbprint") or "")
    body = impact_section(impact) + '<footer>%s \u00b7 rendered from impact.json by exchange.transport_tls</footer>' % _t(impact.get("schema"))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n%s\n</main>\n</body>\n</html>\n"
    ) % (_escape_controls(title), _CSS, body)
