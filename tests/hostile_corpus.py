"""Hostile strings, in one place, for every test that feeds user-controlled text to the collection.

Each entry has an ``id`` (stable, used in test ids and assertion messages), the
``value`` and ``why``: one line saying what it attacks. The values are data that
an Exchange administrator (or a CA, or a certificate requester) can put in a
connector name, a certificate subject/issuer/friendly name or domain, or that a
playbook author can pass as a module argument. None of them may ever be run,
templated, re-quoted or re-encoded on the way.

Jinja entries name a marker file: :func:`corpus` takes the path, so a test can
check afterwards that the marker was never created (the template never ran).
``CORPUS`` is the same corpus with a path that cannot be created.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hostile:
    id: str
    value: str
    why: str

    @property
    def ascii(self) -> bool:
        return self.value.isascii()

    def has(self, *chars: str) -> bool:
        return any(c in self.value for c in chars)


LONG_LENGTH = 10_000


def _long() -> str:
    # 10,000 characters, varied so a truncation or a shift anywhere shows.
    unit = "0123456789abcdefghijklmnopqrstuvwxyz-"
    text = "".join(f"{i:05d}{unit[i % len(unit)]}" for i in range(LONG_LENGTH // 6 + 1))
    return ("L" + text)[:LONG_LENGTH]


def corpus(marker: str) -> list[Hostile]:
    """The corpus; Jinja entries would create ``marker`` if anything templated them."""
    entries = [
        # -- PowerShell quoting ---------------------------------------------------------
        Hostile("single_quote", "O'Brien's ''doubled'' '", "ends a PowerShell single-quoted string; '' is its escape"),
        Hostile("double_quote", 'say "hi" ""twice""', 'ends a double-quoted string; "" is its escape'),
        Hostile("smart_single", "\u2018smart\u2019 \u201asingle\u201b",
                "PowerShell treats U+2018/2019/201A/201B as single quotes: ends a '...' string"),
        Hostile("smart_double", "\u201csmart\u201d \u201edouble\u201d",
                "PowerShell treats U+201C/201D/201E as double quotes: ends a \"...\" string"),
        Hostile("subexpression", "$(New-Item -ItemType File -Path C:\\pwned.txt)",
                "a subexpression: runs a command inside any double-quoted or expanded string"),
        Hostile("variable_expansion", "${env:PATH} $env:COMPUTERNAME $true @args $_",
                "variables that a double-quoted or ExpandString'd value would expand"),
        Hostile("backtick_escapes", "tab`there`n`r`0`u{202E}`$x`\"",
                "PowerShell escape sequences (`n, `0, `u{...}) and an escaped quote in expandable strings"),
        Hostile("semicolon", "x; Remove-Item -Recurse -Force C:\\ ;", "a statement separator: a second command"),
        Hostile("pipe", "x | Out-File C:\\pwned.txt", "a pipeline into another cmdlet"),
        Hostile("ampersand", "& calc.exe && whoami & . .\\evil.ps1",
                "the call operator, the dot-source operator and pipeline chain operators"),
        Hostile("block_comment", "<# swallowed #> tail <#", "a block comment opener: hides the rest of a built command"),
        Hostile("line_comment", "name # the rest is a comment", "a line comment: hides the rest of a built line"),
        Hostile("here_string_dq", '@"\nhere\n"@', 'a double-quoted here-string opener and closer (need line breaks)'),
        Hostile("here_string_sq", "@'\nhere\n'@", "a single-quoted here-string opener and closer"),
        Hostile("stop_parsing", "--% & del * /q", "the stop-parsing token: the rest goes verbatim to a native command"),
        Hostile("parameter_lookalike", "-Confirm:$false -Force -WhatIf:$false",
                "looks like cmdlet parameters when a value is pasted into a command line"),
        # -- line breaks and controls ---------------------------------------------------
        Hostile("cr", "before\rafter", "a bare CR: ends a line for some readers, overwrites terminal output"),
        Hostile("lf", "before\nafter", "a line feed: ends a PowerShell statement, a log line, a YAML plain scalar"),
        Hostile("crlf", "before\r\nafter", "CRLF: a Windows line break, header/log injection"),
        Hostile("nul", "before\x00after", "NUL: ends a C string (Win32, CertStrToName); XML 1.0 cannot carry it"),
        Hostile("c0_controls", "bell\x07bs\x08vt\x0bff\x0cesc\x1b[31mred\x1b[0m\x1f\x7f",
                "other C0 controls, an ANSI escape and DEL: invalid in XML 1.0, rewrite terminals"),
        Hostile("unicode_line_breaks", "nel\x85ls\u2028ps\u2029", "NEL, LINE and PARAGRAPH SEPARATOR: line breaks for YAML and str.splitlines"),
        # -- Exchange and X.500 syntax inside values -----------------------------------
        Hostile("tls_name_markers", "<I>CN=evil<S>CN=evil.example", "TlsCertificateName's own <I>/<S> markers inside a value"),
        Hostile("x500_specials", 'a,b=c+d;e"f<g>h#i', "characters X.500 rendering quotes (, = + ; \" < > #)"),
        Hostile("padded", "  padded\t ", "leading/trailing whitespace, which X.500 quotes and parsers strip"),
        Hostile("backslashes", "C:\\dir\\n\\t\\\\ \\", "backslashes: the SERVER\\name identity separator, and escapes elsewhere"),
        # -- Unicode --------------------------------------------------------------------
        Hostile("rtl_override", "\u202egnp.exe\u202c", "RIGHT-TO-LEFT OVERRIDE: displays as something else"),
        Hostile("direction_marks", "\u200eleft\u200fright\u2066iso\u2069", "LRM, RLM and bidi isolates: invisible"),
        Hostile("zero_width", "zero\u200dwidth\u200cjoin\ufeffbom", "ZWJ, ZWNJ and a BOM inside: invisible, change comparisons"),
        Hostile("combining_marks", "e\u0301\u0308 Z\u0335\u0336a\u0300", "combining marks: one glyph, several code points"),
        Hostile("astral_emoji", "mail \U0001f4e7 lock \U0001f510 \U0001f600",
                "astral-plane characters: UTF-16 surrogate pairs in .NET/BMPString"),
        Hostile("turkish_i", "\u0130stanbul \u0131\u0131 I i", "dotted/dotless i: case-insensitive comparison traps"),
        Hostile("sharp_s", "stra\u00dfe STRASSE \u1e9e", "\u00df/\u1e9e: case folding changes the length"),
        Hostile("fullwidth", "\uff23\uff2e\uff1d\uff4d\uff41\uff49\uff4c\uff0c\uff2f\uff1d\uff38",
                "full-width letters and = , : look like X.500 syntax"),
        Hostile("long_10000", _long(), f"a {LONG_LENGTH}-character value: buffers, limits, truncation"),
        # -- template, markup and serialisation ------------------------------------------
        Hostile("jinja_lookup", "{{ lookup('pipe', 'touch " + marker + "') }}",
                "Ansible template injection: creates the marker file if a result is ever templated"),
        Hostile("jinja_statement", "{% for x in [1] %}{{ lookup('pipe', 'touch " + marker + "') }}{% endfor %}{# c #}",
                "a Jinja statement block and comment"),
        Hostile("jinja_arith", "{{ 7 * 7 }}", "shows 49 instead of itself if templated"),
        Hostile("html_script", "<script>alert(1)</script><img src=x onerror=alert(2)>", "HTML/XSS in report.html"),
        Hostile("xml_cdata", "]]><![CDATA[x]]>&amp;&lt;&#0;", "ends a CDATA section; entities that must stay text"),
        Hostile("json_break", '\\"}, "failed": true, "x": {"', "ends a JSON string built by concatenation"),
        Hostile("yaml_special", "- !!python/object/apply:os.system ['id'] &a *a: {x}",
                "YAML tags, anchors and flow syntax in a state file"),
        Hostile("format_strings", "%s %n %x {0} {} %PATH% $1", "printf/.NET/Python format and cmd.exe variable syntax"),
    ]
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)), "corpus ids must be unique"
    return entries


MARKER_PLACEHOLDER = "/nonexistent-dir/hostile-corpus-marker"
CORPUS = corpus(MARKER_PLACEHOLDER)
BY_ID = {e.id: e for e in CORPUS}
