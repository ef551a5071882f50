# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the HTML pages of the collection share: the stylesheet, the status badges, and the escaping of
every value from a report (see report_html's docstring for why values are escaped and isolated as they are).

Standard library only.
"""

from __future__ import annotations

import re
from html import escape

_STATUS_CLASS = {
    "compliant": "s-ok",
    "remediated": "s-fixed",
    "drift": "s-drift",
    "blocked": "s-bad",
    "error": "s-bad",
    "unreachable": "s-grey",
    "disabled": "s-muted",
    "out_of_scope": "s-muted",
    "exempt": "s-muted",
    "warning": "s-drift",
    "info": "s-fixed",
    "change": "s-drift",
    "unchanged": "s-ok",
    "ok": "s-ok",
}
_STATUS_LABEL = {"out_of_scope": "out of scope"}
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
_OBJECT_LABEL = {
    "receive_connector": "receive connector",
    "send_connector": "send connector",
    "hybrid_configuration": "hybrid configuration",
    "certificate": "certificate",
    "transport_service": "transport service",
}

# Characters that change how the text around them reads without being seen: direction
# embeddings, overrides and isolates, direction marks, zero-width space, word joiner, BOM.
_INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Control characters (and what no HTML document may hold) are shown as \\xNN / \\uNNNN.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

_CSS = """
:root {
  --text: #1f2328; --muted: #59636e; --border: #d1d9e0; --line: #e7ebef; --page: #f3f5f8; --card: #ffffff;
  --ok: #1a7f37; --ok-bg: #dcf5e3; --ok-line: #8fd3a3;
  --fixed: #0b5cc4; --fixed-bg: #ddeeff; --fixed-line: #8ec2f5;
  --drift: #8a5a00; --drift-bg: #fff4cc; --drift-line: #e8c55c;
  --bad: #c4212b; --bad-bg: #ffe5e3; --bad-line: #f2a3a0;
  --grey: #4f5a66; --grey-bg: #e6eaef; --grey-line: #b8c1cb;
}
* { box-sizing: border-box; }
html { background: var(--page); }
body { margin: 0; color: var(--text); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  "Liberation Sans", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 56px; }
h1 { font-size: 24px; margin: 0; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 0; font-weight: 650; }
h3 { font-size: 13px; margin: 22px 0 8px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted);
  font-weight: 650; }
p { margin: 6px 0; }
a { color: inherit; }
code, .mono { font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono",
  monospace; }
code { overflow-wrap: anywhere; word-break: break-word; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 10px; padding: 20px 24px;
  margin: 0 0 20px; box-shadow: 0 1px 2px rgba(31, 35, 40, 0.04); }
.page-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 24px; }
.page-head .sub { color: var(--muted); margin-top: 4px; }
.verdict { text-align: right; white-space: nowrap; }
.verdict .label { display: block; color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.06em; margin-bottom: 4px; }
.meta { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px 24px; margin: 18px 0 0;
  padding-top: 16px; border-top: 1px solid var(--line); }
.meta dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.05em; }
.meta dd { margin: 2px 0 0; font-weight: 550; overflow-wrap: anywhere; }
.tiles { display: grid; grid-template-columns: repeat(7, minmax(0, 1fr)); gap: 12px; margin: 0 0 20px; }
.tile { background: var(--card); border: 1px solid var(--border); border-top: 4px solid var(--grey-line);
  border-radius: 10px; padding: 12px 16px; }
.tile .n { font-size: 30px; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.tile .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; }
.tile.s-ok { border-top-color: var(--ok); } .tile.s-ok .n { color: var(--ok); }
.tile.s-fixed { border-top-color: var(--fixed); } .tile.s-fixed .n { color: var(--fixed); }
.tile.s-drift { border-top-color: #d4a017; } .tile.s-drift .n { color: var(--drift); }
.tile.s-bad { border-top-color: var(--bad); } .tile.s-bad .n { color: var(--bad); }
.tile.s-grey { border-top-color: var(--grey); } .tile.s-grey .n { color: var(--grey); }
.tile.s-none { border-top-color: var(--text); }
.tile.zero { border-top-color: var(--line); } .tile.zero .n { color: #aab3bd; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; border: 1px solid var(--grey-line);
  background: var(--grey-bg); color: var(--grey); font-size: 11.5px; font-weight: 650; text-transform: uppercase;
  letter-spacing: 0.04em; white-space: nowrap; vertical-align: middle; line-height: 1.6; }
.badge.tag { margin-top: 5px; font-size: 10.5px; }
.badge.big { font-size: 15px; padding: 3px 16px; }
.s-ok.badge { background: var(--ok-bg); color: var(--ok); border-color: var(--ok-line); }
.s-fixed.badge { background: var(--fixed-bg); color: var(--fixed); border-color: var(--fixed-line); }
.s-drift.badge { background: var(--drift-bg); color: var(--drift); border-color: var(--drift-line); }
.s-bad.badge { background: var(--bad-bg); color: var(--bad); border-color: var(--bad-line); }
.s-grey.badge { background: var(--grey-bg); color: var(--grey); border-color: var(--grey-line); }
.s-muted.badge { background: transparent; color: var(--muted); border-color: var(--border); border-style: dashed; }
.host-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.host-head h2 { margin-right: 4px; }
.server { color: var(--muted); margin-top: 4px; }
.server b { color: var(--text); font-weight: 600; }
.note { border: 1px solid var(--grey-line); border-left-width: 4px; border-radius: 6px; background: var(--grey-bg);
  padding: 10px 14px; margin: 14px 0 0; overflow-wrap: anywhere; }
.note.s-bad { border-color: var(--bad-line); border-left-color: var(--bad); background: var(--bad-bg); }
.note.s-drift { border-color: var(--drift-line); border-left-color: #d4a017; background: var(--drift-bg); }
.note.s-fixed { border-color: var(--fixed-line); border-left-color: var(--fixed); background: var(--fixed-bg); }
.note.s-ok { border-color: var(--ok-line); border-left-color: var(--ok); background: var(--ok-bg); }
table { width: 100%; border-collapse: collapse; font-size: 13px; table-layout: fixed; }
th { text-align: left; font-weight: 600; color: var(--muted); background: #f6f8fa; padding: 7px 10px;
  border-top: 1px solid var(--border); border-bottom: 1px solid var(--border); white-space: nowrap; font-size: 12px; }
td { padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere;
  word-break: break-word; }
tbody tr:hover td { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.w-sev { width: 92px; } .w-status { width: 128px; } .w-ports { width: 76px; } .w-starttls { width: 100px; }
.w-code { width: 186px; } .w-object { width: 184px; } .w-values { width: 300px; } .w-prop { width: 170px; }
.w-host { width: 170px; } .w-count { width: 96px; } .w-findings { width: 230px; } .w-thumb { width: 186px; }
.w-date { width: 176px; } .w-services { width: 120px; } .w-phase { width: 116px; } .w-result { width: 160px; }
.w-tls { width: 180px; } .w-server { width: 110px; } .w-servers { width: 100px; } .w-sources { width: 310px; }
.w-cstatus { width: 250px; }
.chip { display: inline-block; white-space: nowrap; font: 11.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
  monospace; background: #eef1f4; border: 1px solid var(--line); border-radius: 4px; padding: 0 5px; margin: 1px 2px 1px 0;
  }
.chip.code { white-space: normal; overflow-wrap: normal; word-break: normal; }
.val { display: block; }
.val.from { color: var(--muted); }
.uses { display: block; color: var(--muted); font-size: 12px; margin-top: 2px; }
.uses .mono { font-size: 11px; }
.val.from code { text-decoration: line-through; text-decoration-color: rgba(196, 33, 43, 0.55); }
.val.to code { color: var(--ok); font-weight: 600; }
.arrow { color: var(--muted); font-weight: 700; padding-right: 4px; }
.same { color: var(--muted); font-size: 12px; }
.dim { color: var(--muted); }
.none { color: #9aa4ae; }
.yes { color: var(--ok); font-weight: 600; }
.no { color: var(--bad); font-weight: 600; }
.ctl { display: inline-block; font: 600 10.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  color: var(--bad); background: var(--bad-bg); border: 1px solid var(--bad-line); border-radius: 3px;
  padding: 0 3px; margin: 0 1px; vertical-align: baseline; }
.empty { color: var(--muted); font-style: italic; margin: 4px 0; }
ul.plain { list-style: none; margin: 0; padding: 0; }
ul.plain li { margin: 2px 0; }
.src-bad { color: var(--bad); }
.src-ok { color: var(--ok); }
nav.overview td a { font-weight: 600; text-decoration: none; border-bottom: 1px dotted var(--muted); }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 28px; }
details.host > summary { list-style: none; cursor: pointer; }
details.host > summary::-webkit-details-marker { display: none; }
details.host > summary .fold::before { content: "\25B8"; color: var(--muted); margin-right: 6px; }
details.host[open] > summary .fold::before { content: "\25BE"; }
.filter { display: flex; gap: 18px; align-items: center; margin: 0 0 14px; color: var(--muted); font-size: 13px; }
input.f { position: absolute; opacity: 0; pointer-events: none; }
.filter label { cursor: pointer; border: 1px solid var(--border); border-radius: 999px; padding: 1px 12px; background: var(--card); }
#show-all:checked ~ .filter label[for="show-all"], #show-problems:checked ~ .filter label[for="show-problems"] {
  border-color: var(--text); color: var(--text); font-weight: 600; }
#show-problems:checked ~ .hosts .host.quiet { display: none; }
.top td.what { line-height: 1.45; }
.life-red { color: var(--bad); font-weight: 600; } .life-yellow { color: var(--drift); font-weight: 600; }
.life-green { color: var(--ok); }
.history { color: var(--muted); }
@media print {
  html, body { background: #ffffff; }
  main { max-width: none; padding: 0; }
  .card, .tile { box-shadow: none; break-inside: avoid-page; }
  section.host, section.org, details.host { break-inside: auto; }
  .filter { display: none; }
}
"""


# -- text ------------------------------------------------------------------------------------------

def _plain(value) -> str:
    """Escaped text, with invisible direction characters made visible and control characters spelled out."""
    text = value if isinstance(value, str) else str(value)
    parts = []
    last = 0
    for match in _INVISIBLE.finditer(text):
        parts.append(_escape_controls(text[last:match.start()]))
        parts.append('<span class="ctl" title="invisible text-direction or zero-width character">U+%04X</span>'
                     % ord(match.group()))
        last = match.end()
    parts.append(_escape_controls(text[last:]))
    return "".join(parts)


def _escape_controls(text: str) -> str:
    shown = _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100 else "\\u%04x" % ord(m.group()),
                         text)
    return escape(shown, quote=True)


def _t(value, none: str = "\u2014") -> str:
    """A value from the report as HTML: escaped and isolated from the text around it."""
    if value is None or value == "":
        return '<span class="none">%s</span>' % escape(none)
    if isinstance(value, (list, tuple)):
        if not value:
            return '<span class="none">%s</span>' % escape(none)
        return ", ".join(_t(v) for v in value)
    return "<bdi>%s</bdi>" % _plain(value)


def _code(value, none: str = "none") -> str:
    if value is None or value == "" or value == []:
        return '<span class="none">%s</span>' % escape(none)
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return "<code><bdi>%s</bdi></code>" % _plain(value)


def _badge(status, big: bool = False) -> str:
    status = "" if status is None else str(status)
    css = _STATUS_CLASS.get(status, "s-grey")
    label = _STATUS_LABEL.get(status, status or "unknown")
    return '<span class="badge %s%s">%s</span>' % (css, " big" if big else "", _plain(label))


def _before_after(before, after, none: str = "none") -> str:
    """before -> after, or the value once with 'unchanged' when they are equal."""
    if before == after:
        if before is None or before == [] or before == "":
            return '<span class="none">%s</span>' % escape(none)
        return '%s <span class="same">(unchanged)</span>' % _code(before)
    return ('<span class="val from">%s</span><span class="val to"><span class="arrow">\u2192</span>%s</span>'
            % (_code(before, none), _code(after, none)))


def _current_expected(current, expected) -> str:
    if current is None and expected is None:
        return '<span class="none">\u2014</span>'
    if expected is None:
        return '<span class="val">%s</span>' % _code(current)
    return _before_after(current, expected)


def _chips(codes) -> str:
    if not codes:
        return '<span class="none">\u2014</span>'
    return " ".join(_code_chip(c) for c in codes)


def _code_chip(code) -> str:
    """A finding code, breakable after its underscores only."""
    return '<span class="chip code">%s</span>' % "_<wbr>".join(_plain(part) for part in str(code or "").split("_"))


def _object(object_type, obj) -> str:
    label = _OBJECT_LABEL.get(object_type, object_type or "")
    return '%s<br><span class="dim">%s</span>' % (_t(obj), _plain(label))


def _table(headers, rows, empty: str) -> str:
    if not rows:
        return '<p class="empty">%s</p>' % escape(empty)
    head = "".join('<th%s>%s</th>' % (' class="%s"' % css if css else "", escape(text)) for text, css in headers)
    body = "".join("<tr>%s</tr>" % "".join(row) for row in rows)
    return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, body)


def _td(html: str, css: str = "") -> str:
    return "<td%s>%s</td>" % (' class="%s"' % css if css else "", html)
