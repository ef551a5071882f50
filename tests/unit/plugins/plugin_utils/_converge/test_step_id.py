# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step ids: built by StepId and read back by StepId.parse, so remediation and rollback find a step's result by one spelling."""

import pathlib
import re

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    GUARD,
    KINDS,
    RESTORE,
    SET,
    StepId,
    guard_id,
    readback_id,
    step_id,
    step_kind,
    step_object,
)

PLUGINS = pathlib.Path(__file__).resolve().parents[5] / "plugins"


@pytest.mark.parametrize("kind, object_type, obj, text", [
    (SET, "receive_connector", "EX01\\Default Frontend EX01", "set|receive_connector|EX01\\Default Frontend EX01"),
    (GUARD, "certificate", "EX01\\5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F", "guard|certificate|EX01\\5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"),
    # A connector name may hold '|': it stays in the object.
    (SET, "send_connector", "To Fabrikam | backup", "set|send_connector|To Fabrikam | backup"),
    (RESTORE, None, "EX01\\ABCD", "restore|EX01\\ABCD"),
])
def test_build_and_parse_are_inverse(kind, object_type, obj, text):
    assert step_id(kind, object_type, obj) == text
    assert StepId.parse(text) == (kind, object_type, obj)
    assert step_kind(text) == kind


def test_guard_and_readback_ids_are_step_ids():
    assert StepId.parse(guard_id("send_connector", "X")) == (GUARD, "send_connector", "X")
    assert step_object(readback_id("send_connector", "X")) == ("readback", "send_connector", "X")


@pytest.mark.parametrize("text", [None, "", "server", "set|", 12, "|receive_connector|X"])
def test_an_id_no_step_id_built_parses_to_none(text):
    assert StepId.parse(text) is None and step_kind(text) is None


def test_an_id_without_object_type_is_no_object():
    assert step_object("restore|EX01\\ABCD") is None


@pytest.mark.parametrize("kind, object_type", [("", "certificate"), ("se|t", "certificate"), (SET, "a|b")])
def test_a_kind_or_type_that_would_not_parse_back_is_refused(kind, object_type):
    with pytest.raises(ValueError, match="step id"):
        step_id(kind, object_type, "X")


def test_no_step_id_is_spelled_by_hand():
    # An f-string or literal starting with a step kind and '|' bypasses StepId: a second spelling that can drift.
    hand = re.compile(r"""[f]?["'](?:%s)\|""" % "|".join(KINDS))
    found = [f"{path.relative_to(PLUGINS)}:{number}: {line.strip()}"
             for path in sorted(PLUGINS.rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if hand.search(line) and not line.lstrip().startswith("#")]
    assert found == []
