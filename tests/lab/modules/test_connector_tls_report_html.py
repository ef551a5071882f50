"""report.html as a browser shows it: headless Chromium (the Debian package `chromium`).

- The DOM Chromium builds from the page rendered from tests/unit/fixtures/report-sample.json
  holds the host names, their statuses and the summary numbers as text, and the hostile
  connector name as text, with no element injected by it.
- Markup planted in connector names and messages does not run, while a script of the test's
  own does (so "nothing ran" means something in this browser).
- A 1280 px wide screenshot is kept as test-artifacts/report.png for people to look at.

Chromium is installed by tools/ensure_debian_packages.sh (`make test` calls it). Without it the
tests fail when CI is set and skip otherwise.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import report_html

from tests.conftest import ROOT
from tests.unit.plugins.plugin_utils._report.test_report_render import Page

FIXTURE = ROOT / "tests" / "unit" / "fixtures" / "report-sample.json"
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE_TEXT = 'EX02\\Relay "<script>alert(1)</script>" U+202E'


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    reason = "chromium is not installed; tools/ensure_debian_packages.sh installs it (apt-get, as root)"
    if os.environ.get("CI"):
        pytest.fail(reason + ". CI must run the browser tests.")
    pytest.skip(reason)


@pytest.fixture
def report() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def browse(chromium: str, tmp_path: pathlib.Path, page: pathlib.Path, *args: str) -> str:
    """Run headless Chromium on a local file with its own profile (tests may run in parallel)."""
    command = [
        chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio",
        "--user-data-dir=%s" % (tmp_path / "chromium-profile"), *args, page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def write_page(tmp_path: pathlib.Path, report: dict, name: str = "report.html") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(report_html.render(report), encoding="utf-8")
    return path


def body_attributes(dom: str) -> dict:
    match = re.search(r"<body([^>]*)>", dom)
    assert match, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))


def test_dom_shows_hosts_statuses_and_summary(chromium, tmp_path, report):
    dom = browse(chromium, tmp_path, write_page(tmp_path, report), "--dump-dom")
    parsed = Page(dom)
    text = re.sub(r"\s+", " ", parsed.visible)

    for name in report["hosts"]:
        assert name in text, name
    for status in ("remediated", "blocked", "unreachable", "compliant", "out of scope", "disabled", "error"):
        assert status in text, status
    tiles = dict((label, int(n)) for n, label in re.findall(
        r'<div class="n">(\d+)</div><div class="l">(\w+)</div>', dom))
    assert tiles == report["summary"]
    assert "Fleet verdict" in text and report["generated_at"] in text
    assert "Organization" in text and "Internet Outbound" in text

    # The hostile connector name is text in the DOM, and no element came from it.
    assert HOSTILE_TEXT in text
    assert "\u202e" not in dom
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "<script" not in dom
    assert dom.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_planted_markup_does_not_run(chromium, tmp_path, report):
    # A script of the test's own runs in this browser, so the check below means something.
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><head><title>t</title></head><body>"
                       "<script>document.body.setAttribute('data-js', 'on')</script></body></html>",
                       encoding="utf-8")
    assert body_attributes(browse(chromium, tmp_path, control, "--dump-dom")).get("data-js") == "on"

    planted = copy.deepcopy(report)
    ex01 = planted["hosts"]["EX01"]
    ex01["connectors"][0]["identity"] = (
        "EX01\\<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">")
    ex01["connectors"][1]["identity"] = (
        "EX01\\\"><script>document.body.setAttribute('data-pwned','script')</script>")
    ex01["message"] = "<svg onload=\"document.body.setAttribute('data-pwned','svg')\"></svg>"
    ex01["findings"][0]["message"] = "</td></tr></table><iframe srcdoc=\"<b>x</b>\"></iframe>"
    dom = browse(chromium, tmp_path, write_page(tmp_path, planted, "planted.html"), "--dump-dom")
    assert "data-pwned" not in body_attributes(dom)
    parsed = Page(dom)
    assert {"script", "img", "svg", "iframe"}.isdisjoint(parsed.tags)
    assert "<img src=x onerror=" in parsed.visible and "<iframe srcdoc=" in parsed.visible
    assert re.search(r"<title>Exchange transport TLS report", dom)


def test_screenshot_at_1280px(chromium, tmp_path, report):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    if shot.exists():
        shot.unlink()
    browse(chromium, tmp_path, write_page(tmp_path, report), "--screenshot=%s" % shot, "--window-size=1280,2000")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1280, 2000)
    # A blank or unstyled page compresses to a few KB; the report is tables, tiles and badges.
    assert len(data) > 60_000, len(data)


@pytest.mark.ansible
def test_a_real_remediation_report_renders(chromium, tmp_path, running_lab):
    """The page the role wrote for the demo's remediation, not a fixture: what an administrator opens."""
    from ..roles.connector_tls.test_audit_and_remediate import run
    from tests.conftest import SCENARIOS

    lab = running_lab(SCENARIOS / "demo.yml")
    out = tmp_path / "remediate"
    rc, output, doc, _changes = run(lab, out, "remediate")
    assert rc == 0, output
    text = re.sub(r"\s+", " ", Page(browse(chromium, tmp_path, out / "latest" / "report.html", "--dump-dom")).visible)
    for host, entry in doc["hosts"].items():
        assert host in text and entry["status"].upper() in text.upper()
    assert "EX01\\Default Frontend EX01" in text
    assert "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com" in text
    ARTIFACTS.mkdir(exist_ok=True)
    browse(chromium, tmp_path, out / "latest" / "report.html", "--screenshot=%s" % (ARTIFACTS / "report-demo-remediation.png"),
           "--window-size=1280,2400")
    assert (ARTIFACTS / "report-demo-remediation.png").stat().st_size > 10000


def test_the_filter_shows_only_the_hosts_that_need_a_person(chromium, tmp_path, report):
    # The page has no script; the test appends one of its own that clicks the filter as a person would and
    # records what Chromium then displays, so the CSS-only filter is checked by a browser, not by reading CSS.
    page = report_html.render(report)
    probe = ("<script>"
             "function shown(){return Array.from(document.querySelectorAll('details.host')).map("
             "function(d){return d.id+'='+getComputedStyle(d).display}).join(' ')}"
             "document.body.setAttribute('data-before', shown());"
             "document.querySelector('label[for=show-problems]').click();"
             "document.body.setAttribute('data-after', shown());"
             "</script></body>")
    path = tmp_path / "filter.html"
    path.write_text(page.replace("</body>", probe), encoding="utf-8")
    attributes = body_attributes(browse(chromium, tmp_path, path, "--dump-dom"))
    quiet = {"host-%d" % i for i, host in enumerate(report["hosts"].values(), 1) if host["status"] in ("compliant", "remediated")}
    assert quiet, "the fixture has a host that needs nobody"
    before = dict(item.split("=") for item in attributes["data-before"].split())
    after = dict(item.split("=") for item in attributes["data-after"].split())
    assert set(before.values()) == {"block"}
    assert {h for h, display in after.items() if display == "none"} == quiet
