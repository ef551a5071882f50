"""The sanity ignore files stay minimal and explained: every line says why, right where it is.

ansible-test itself fails an ignore that no longer matches an error (its "ignores" test); this keeps
a reviewer from having to guess why an ignore is there, and docs/development.md from forgetting one.
"""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
IGNORE_FILES = sorted((ROOT / "tests" / "sanity").glob("ignore-*.txt"))


def entries(path: pathlib.Path) -> list[tuple[str, str]]:
    """(entry, reason) per line; ansible-test drops everything from ' #' to the end of a line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry, _sep, reason = line.partition(" # ")
        out.append((entry.strip(), reason.strip()))
    return out


def test_there_is_an_ignore_file_per_tested_ansible_core():
    assert [p.name for p in IGNORE_FILES] == ["ignore-2.19.txt", "ignore-2.21.txt"]


@pytest.mark.parametrize("path", IGNORE_FILES, ids=lambda p: p.name)
def test_every_ignore_names_an_existing_file_and_says_why(path):
    for number, (entry, reason) in enumerate(entries(path), start=1):
        assert entry and " " in entry, f"{path.name}:{number}: not 'path test[:code]': {entry!r}"
        target = entry.split(" ", 1)[0]
        assert (ROOT / target).exists(), f"{path.name}:{number}: {target} does not exist"
        assert len(reason) >= 40, f"{path.name}:{number}: '{entry}' needs its reason after ' # '"


def test_the_ignores_are_the_same_for_both_versions_and_listed_in_the_development_guide():
    first, *others = [[entry for entry, _reason in entries(path)] for path in IGNORE_FILES]
    assert all(other == first for other in others)
    guide = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    for entry in first:
        assert f"`{entry}`" in guide, f"docs/development.md does not explain {entry}"
