"""tools/reliability_table.py: the table in docs/reliability.md comes from the run's recorded rows."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from tests.conftest import ROOT

TOOL = ROOT / "tools" / "reliability_table.py"
if not TOOL.exists():
    pytest.skip("tools/ is not in this copy (ansible-test units)", allow_module_level=True)
spec = importlib.util.spec_from_file_location("reliability_table", TOOL)
reliability_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reliability_table)

DOC = f"# Reliability\n\nintro\n\n{reliability_table.START}\nold table\n{reliability_table.END}\n\nafter\n"


def leg(version: str, rows: list[dict]) -> dict:
    return {"ansible_core": version, "python": "3.12.1", "exit_status": 0, "rows": rows}


def row(area: str, tried: str, cases: int, tests: int = 1, **outcomes) -> dict:
    counts = {"passed": tests, "failed": 0, "skipped": 0, "xfailed": 0, **outcomes}
    return {"area": area, "tried": tried, "cases": cases, "tests": tests, **counts}


def write(tmp_path, *legs):
    doc = tmp_path / "reliability.md"
    doc.write_text(DOC)
    paths = []
    for i, data in enumerate(legs):
        path = tmp_path / f"leg{i}.json"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    return doc, paths


def test_rows_in_reading_order_with_each_legs_result(tmp_path):
    doc, paths = write(
        tmp_path,
        leg("2.21.5", [row("Secrets", "grep every output", 12), row("Hostile input", "connector | names", 31, 2)]),
        leg("2.19.4", [row("Secrets", "grep every output", 12, failed=1, passed=0),
                       row("Hostile input", "connector | names", 31, 2)]),
    )
    assert reliability_table.main(["x", str(doc), *paths]) == 0
    text = doc.read_text()
    assert text.startswith("# Reliability\n\nintro\n\n") and text.endswith("\n\nafter\n")
    assert "old table" not in text
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0] == ("| Area | What was tried | Cases | Tests | ansible-core 2.21.5 (Python 3.12.1) "
                        "| ansible-core 2.19.4 (Python 3.12.1) |")
    # Hostile input comes before Secrets, as docs/reliability.md explains them; a | in the text is escaped.
    assert lines[1] == "| Hostile input | connector \\| names | 31 | 2 | passed | passed |"
    assert lines[2] == "| Secrets | grep every output | 12 | 1 | passed | **1 of 1 tests failed** |"


def test_same_results_leave_the_document_untouched(tmp_path, capsys):
    doc, paths = write(tmp_path, leg("2.21.5", [row("Faults", "http_500", 3)]))
    reliability_table.main(["x", str(doc), *paths])
    first = doc.read_bytes()
    assert reliability_table.main(["x", str(doc), *paths]) == 0
    assert doc.read_bytes() == first
    assert "table unchanged" in capsys.readouterr().out


def test_with_out_the_page_goes_to_the_artifact_and_the_document_is_only_read(tmp_path, capsys):
    """What make test does: the tracked page stays as it is, the artifact holds it with the new table."""
    doc, paths = write(tmp_path, leg("2.21.5", [row("Faults", "http_500", 3)]))
    out = tmp_path / "test-artifacts" / "reliability.md"
    assert reliability_table.main(["x", "--out", str(out), str(doc), *paths]) == 0
    assert doc.read_text() == DOC
    text = out.read_text()
    assert "old table" not in text and "| Faults | http_500 | 3 | 1 | passed |" in text
    assert text.startswith("# Reliability\n\nintro\n\n") and text.endswith("\n\nafter\n")
    assert "(changed)" in capsys.readouterr().out


def test_make_test_writes_the_table_to_test_artifacts_and_only_reliability_docs_touches_the_page():
    """make test must leave a checkout's git status clean: docs/reliability.md is written on request only."""
    import subprocess

    def recipe(target: str) -> str:
        return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              check=True, env={**os.environ, "MAKEFLAGS": ""}).stdout

    lines = [line for line in recipe("reliability-table").splitlines() if "reliability_table.py" in line]
    assert lines and all("--out test-artifacts/reliability.md docs/reliability.md" in line for line in lines), lines
    assert "test-artifacts/reliability.md docs/reliability.md" in recipe("reliability-docs")


def test_without_results_or_markers_nothing_is_written(tmp_path, capsys):
    doc, _paths = write(tmp_path)
    assert reliability_table.main(["x", str(doc), str(tmp_path / "missing.json")]) == 1
    assert doc.read_text() == DOC
    doc.write_text("no markers\n")

    data = tmp_path / "one.json"
    data.write_text(json.dumps(leg("2.21.5", [row("Faults", "x", 1)])))
    assert reliability_table.main(["x", str(doc), str(data)]) == 1
    assert doc.read_text() == "no markers\n"
    assert "no table markers" in capsys.readouterr().err


def test_the_plugin_counts_cases_tests_and_outcomes_under_xdist(pytester, monkeypatch):
    """tests/reliability.py as make test uses it: rows reach the controller from xdist workers."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_rows='''
import pytest

@pytest.mark.reliability("Faults", "three kinds")
@pytest.mark.parametrize("kind", ["a", "b", "c"])
def test_kinds(kind, reliability):
    reliability(2)
    reliability(3)

@pytest.mark.reliability("Secrets", "one grep")
def test_grep():
    assert False

@pytest.mark.reliability("Secrets", "one grep")
@pytest.mark.xfail(reason="known")
def test_known():
    assert False

def test_unmarked():
    pass
''')
    out = pytester.path / "rows.json"
    result = pytester.runpytest_subprocess("-p", "tests.reliability", "-n", "2", "--reliability-out", str(out))
    result.assert_outcomes(passed=4, failed=1, xfailed=1)
    data = json.loads(out.read_text())
    assert data["exit_status"] == 1
    assert data["rows"] == [
        row("Faults", "three kinds", 15, 3),
        row("Secrets", "one grep", 1, 2, passed=0, failed=1, xfailed=1),
    ]


def test_a_leg_that_ran_fewer_tests_says_so(tmp_path):
    doc, paths = write(tmp_path, leg("2.21.5", [row("Faults", "every kind", 16, 8), row("Concurrency", "race", 3)]),
                       leg("2.19.14", [row("Faults", "every kind", 8, 4)]))
    reliability_table.main(["x", str(doc), *paths])
    lines = [line for line in doc.read_text().splitlines() if line.startswith("| ")]
    assert "| Faults | every kind | 16 | 8 | passed | passed, 4 of 8 tests run |" in lines
    assert "| Concurrency | race | 3 | 1 | passed | not run |" in lines
