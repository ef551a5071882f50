# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""connector_tls_rollback's choice and check of the record, before any launch (tests/lab/test_rollback.py runs the module)."""

import json

import pytest

from ansible_collections.exchange.transport_tls.plugins.action.connector_tls_rollback import load

SCHEMA = "exchange.transport_tls/changes/v1"


def args(**given):
    return dict({"changes_file": None, "run": None, "report_dir": "./connector_tls_report"}, **given)


def write_run(report_dir, run_id, changes):
    (report_dir / run_id).mkdir(parents=True)
    path = report_dir / run_id / "changes.json"
    path.write_text(json.dumps({"schema": SCHEMA, "run_id": run_id, "complete": True, "changes": changes}))
    return path


CHANGE = {"host": "EX01", "server": "EX01", "object_type": "receive_connector", "object": "EX01\\Default Frontend EX01",
          "property": "TlsCertificateName", "before": "<I>CN=R10<S>CN=mail.contoso.com",
          "after": "<I>CN=R11<S>CN=mail.contoso.com", "status": "applied"}


def test_the_newest_run_that_changed_something_by_default(tmp_path):
    newest = write_run(tmp_path, "20261207T233904.123Z", [CHANGE])
    write_run(tmp_path, "20261208T010000.000Z", [])
    path, changes = load(args(report_dir=str(tmp_path)))
    assert path == str(newest.resolve()) and changes["run_id"] == "20261207T233904.123Z"


def test_a_run_by_id_and_a_file_by_path(tmp_path, monkeypatch):
    path = write_run(tmp_path, "20261207T233904.123Z", [])
    assert load(args(run="20261207T233904.123Z", report_dir=str(tmp_path)))[0] == str(path.resolve())
    monkeypatch.chdir(tmp_path / "20261207T233904.123Z")
    assert load(args(changes_file="changes.json"))[0] == str(path.resolve())


@pytest.mark.parametrize("given, content, words", [
    ({"run": "../../etc"}, None, "connector_tls_run ../../etc cannot be used: '../../etc' is not a run id"),
    ({}, None, "connector_tls_run (not set) cannot be used: no run under "),
    ({"changes_file": "missing.json"}, None, "cannot be used: File not found"),
    ({"changes_file": "bad.json"}, "{not json", "cannot be used: Expecting property name"),
    ({"changes_file": "bad.json"}, json.dumps({"schema": SCHEMA, "changes": [{"host": "EX01"}]}),
     "cannot be used: the changes file is not valid: changes[0] lacks server"),
    ({"changes_file": "x.json", "run": "20261207T233904.123Z"}, None, "not both"),
])
def test_an_unusable_record_is_refused_naming_it(tmp_path, monkeypatch, given, content, words):
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / given["changes_file"]).write_text(content)
    with pytest.raises(ValueError) as raised:
        load(args(report_dir=str(tmp_path), **given))
    assert words in str(raised.value)
