"""Evidence for docs/reliability.md, collected from the test run itself.

A test that belongs in the reliability table carries

    @pytest.mark.reliability("Hostile input", "connector names from the corpus, audit and remediation")

and may say how many cases it tried with the `reliability` fixture
(`reliability(len(CORPUS))`); without it a test counts as one case. Tests with
the same area and description form one row, whatever their parameters.

With `--reliability-out FILE` the controller process (xdist workers report to
it) writes every row with its cases, tests and outcomes; `tools/reliability_table.py`
turns the files of both ansible-core legs into the table in docs/reliability.md,
so the table says what the last `make test` tried and saw, not what someone typed.
"""

from __future__ import annotations

import json
import pathlib
import platform
import sys

import pytest

_CASES = "reliability_cases"


def pytest_addoption(parser):
    parser.addoption("--reliability-out", default=None, metavar="FILE",
                     help="write the rows of docs/reliability.md that this run produced to FILE (JSON)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "reliability(area, tried): a row of docs/reliability.md; cases counted with the reliability fixture"
    )
    config._reliability_rows = {}   # nodeid -> row, outcome, cases


@pytest.fixture
def reliability(record_property):
    """Call with the number of cases this test tried (default 1); may be called more than once to add."""
    def count(cases: int) -> None:
        record_property(_CASES, int(cases))

    return count


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Workers and the controller both collect; the row of each test travels in
    # its report's user_properties, which xdist sends to the controller.
    for item in items:
        marker = item.get_closest_marker("reliability")
        if marker is not None:
            area, tried = marker.args[:2]
            item.user_properties.append(("reliability_row", [area, tried]))


def pytest_runtest_logreport(report):
    props = report.user_properties or []
    row = dict(props).get("reliability_row")
    config = _CONFIG[0]
    if row is None or config is None:
        return
    # One outcome per test: its call, unless a setup or teardown failed.
    tests = config._reliability_rows
    if report.when == "call" or report.failed or report.skipped:
        cases = sum(value for key, value in props if key == _CASES) or 1
        if hasattr(report, "wasxfail"):
            outcome = "xfailed"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "passed" if report.passed else "failed"
        if tests.get(report.nodeid, {}).get("outcome") != "failed":
            tests[report.nodeid] = {"row": tuple(row), "outcome": outcome, "cases": cases}


_CONFIG = [None]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    _CONFIG[0] = session.config


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    out = config.getoption("--reliability-out")
    if not out or hasattr(config, "workerinput"):
        return
    import ansible.release

    counts = {}
    for test in config._reliability_rows.values():
        entry = counts.setdefault(test["row"], {"cases": 0, "tests": 0, "passed": 0, "failed": 0,
                                                "skipped": 0, "xfailed": 0})
        entry["tests"] += 1
        entry[test["outcome"]] += 1
        if test["outcome"] in ("passed", "failed"):
            entry["cases"] += test["cases"]
    rows = [{"area": area, "tried": tried, **entry} for (area, tried), entry in sorted(counts.items())]
    path = pathlib.Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "ansible_core": ansible.release.__version__,
        "python": platform.python_version(),
        "exit_status": int(exitstatus),
        "rows": rows,
    }, indent=2) + "\n")
    sys.stdout.write(f"\nreliability rows written to {path}\n")
