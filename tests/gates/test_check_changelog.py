"""tools/check_changelog.py, the changelog gate: it passes a consistent changelog and names each way one goes wrong."""

from __future__ import annotations

import importlib.util
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "check_changelog.py"
# ansible-test units runs on a copy without tools/ (tools/run_ansible_test.py); make test runs this.
pytestmark = pytest.mark.skipif(not TOOL.exists(), reason="tools/ is not in ansible-test's copy")

RELEASED = """\
ancestor: null
releases:
  0.1.0:
    changes:
      release_summary: First release.
      minor_changes:
        - thing - does something.
    fragments:
      - thing.yml
    release_date: '2026-11-28'
"""


def load_tool():
    spec = importlib.util.spec_from_file_location("check_changelog", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="tool", scope="module")
def fixture_tool():
    return load_tool()


@pytest.fixture(name="collection")
def fixture_collection(tmp_path, tool):
    """A released collection: galaxy.yml at 0.1.0, changelog.yaml with 0.1.0, its CHANGELOG.md, no fragment waiting."""
    root = tmp_path / "ansible_collections" / "ns" / "coll"
    (root / "changelogs" / "fragments").mkdir(parents=True)
    shutil.copy(ROOT / "changelogs" / "config.yaml", root / "changelogs" / "config.yaml")
    (root / "changelogs" / "config.yaml").write_text(
        (root / "changelogs" / "config.yaml").read_text().replace("title: exchange.transport_tls", "title: ns.coll"))
    (root / "galaxy.yml").write_text("namespace: ns\nname: coll\nversion: 0.1.0\nreadme: README.md\nauthors: [a]\n")
    (root / "changelogs" / "changelog.yaml").write_text(RELEASED)
    generated = tool.antsibull(root, "generate")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    return root


def test_a_consistent_changelog_passes(tool, collection):
    assert tool.problems(collection) == []
    assert "does something" in (collection / "CHANGELOG.md").read_text()


def test_a_hand_edited_changelog_md_is_named_with_the_fix(tool, collection):
    path = collection / "CHANGELOG.md"
    path.write_text(path.read_text().replace("does something", "does everything"))
    (problem,) = tool.problems(collection)
    assert problem.startswith("CHANGELOG.md is not what changelogs/changelog.yaml generates")
    assert "antsibull-changelog generate" in problem and "-* thing \\- does everything" in problem


def test_no_release_yet_is_named(tool, collection):
    (collection / "changelogs" / "changelog.yaml").unlink()
    assert tool.problems(collection) == ["changelogs/changelog.yaml is missing: no release was made (antsibull-changelog release)"]


def test_a_fragment_for_the_next_release_needs_a_newer_galaxy_version(tool, collection):
    (collection / "changelogs" / "fragments" / "next.yml").write_text("bugfixes:\n  - thing - fixed.\n")
    (problem,) = tool.problems(collection)
    assert "next.yml" in problem and "raise galaxy.yml's version" in problem
    (collection / "galaxy.yml").write_text((collection / "galaxy.yml").read_text().replace("0.1.0", "0.2.0"))
    assert tool.problems(collection) == []


def test_a_galaxy_version_older_than_the_last_release_is_named(tool, collection):
    (collection / "galaxy.yml").write_text((collection / "galaxy.yml").read_text().replace("0.1.0", "0.0.9"))
    assert tool.problems(collection) == ["galaxy.yml's version 0.0.9 is older than the last release 0.1.0 in changelogs/changelog.yaml"]


def test_a_broken_fragment_is_named(tool, collection):
    (collection / "changelogs" / "fragments" / "bad.yml").write_text("new_stuff:\n  - thing.\n")
    (collection / "galaxy.yml").write_text((collection / "galaxy.yml").read_text().replace("0.1.0", "0.2.0"))
    (problem,) = tool.problems(collection)
    assert problem.startswith("fragments: antsibull-changelog lint:") and "bad.yml" in problem


def test_the_command_line_exits_non_zero_and_says_why(tool, collection, capsys):
    (collection / "CHANGELOG.md").unlink()
    assert tool.main([str(collection)]) == 1
    assert "ERROR: CHANGELOG.md is not what" in capsys.readouterr().err
