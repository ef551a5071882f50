"""Run directories: one per run, sortable ids unique within a millisecond, latest, and the rollback's choice of run."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import run_dir

WHEN = dt.datetime(2026, 12, 7, 9, 39, 4, 123456, tzinfo=dt.timezone.utc)


def record(path, *statuses):
    path.mkdir(exist_ok=True)
    (path / "changes.json").write_text(json.dumps({"changes": [{"status": s} for s in statuses]}))


def test_runs_in_the_same_millisecond_get_their_own_directories(tmp_path):
    ids = [run_dir.create(str(tmp_path / "reports"), WHEN) for _attempt in range(3)]
    assert ids == ["20261207T093904.123Z", "20261207T093904.123Z-2", "20261207T093904.123Z-3"]
    assert all(run_dir.is_run_id(i) and (tmp_path / "reports" / i).is_dir() for i in ids)
    later = run_dir.create(str(tmp_path / "reports"), WHEN + dt.timedelta(milliseconds=1))
    assert run_dir.runs(str(tmp_path / "reports")) == ids + [later]


def test_latest_is_a_relative_link_replaced_atomically(tmp_path):
    first, second = run_dir.create(str(tmp_path), WHEN), run_dir.create(str(tmp_path), WHEN + dt.timedelta(seconds=1))
    run_dir.point_latest(str(tmp_path), first)
    run_dir.point_latest(str(tmp_path), second)
    assert os.readlink(tmp_path / "latest") == second and run_dir.latest(str(tmp_path)) == second
    assert sorted(os.listdir(tmp_path)) == sorted([first, second, "latest"])


def test_latest_falls_back_to_a_text_file_without_symbolic_links(tmp_path, monkeypatch):
    run_id = run_dir.create(str(tmp_path), WHEN)

    def refuse(*_args):
        raise OSError(1, "Operation not permitted")
    monkeypatch.setattr(os, "symlink", refuse)
    run_dir.point_latest(str(tmp_path), run_id)
    assert (tmp_path / "latest").read_text() == run_id + "\n" and run_dir.latest(str(tmp_path)) == run_id


@pytest.mark.parametrize("value", ["../../etc", "latest", "20261207T093904Z", "20261207T093904.123Z/..", "", None, 7])
def test_only_run_ids_name_runs(tmp_path, value):
    assert not run_dir.is_run_id(value)
    if isinstance(value, str):
        with pytest.raises(ValueError, match="is not a run id; a run id looks like '20261207T233904.123Z'"):
            run_dir.existing(str(tmp_path), value)


def test_the_rollback_takes_the_newest_run_that_changed_something(tmp_path):
    reports = str(tmp_path)
    record(tmp_path / "20261201T000000.000Z", "applied", "not_applied")
    record(tmp_path / "20261202T000000.000Z", "attempted")
    record(tmp_path / "20261203T000000.000Z")                      # a rerun that changed nothing
    record(tmp_path / "20261204T000000.000Z", "planned")           # an audit
    assert run_dir.changes_file(reports) == str(tmp_path / "20261202T000000.000Z" / "changes.json")
    assert run_dir.changes_file(reports, "20261201T000000.000Z") == str(tmp_path / "20261201T000000.000Z" / "changes.json")
    with pytest.raises(ValueError, match="there is no run '20261205T000000.000Z' under"):
        run_dir.changes_file(reports, "20261205T000000.000Z")


def test_no_run_that_changed_something_is_an_error_naming_the_directory(tmp_path):
    record(tmp_path / "20261203T000000.000Z")
    with pytest.raises(ValueError, match=f"no run under {tmp_path} changed anything .* among 1 run"):
        run_dir.changes_file(str(tmp_path))
