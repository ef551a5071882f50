# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugin_utils/_converge/converge.py: what receive_connector_tls and send_connector_tls share.

The thumbprint a user types, how two names compare, the change records that
check mode, diff and reports show, the ids that tie a step of a batch to the
object it guards or reads back, and the words a user reads when a guard stops
a batch.
"""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import (
    find_named,
    BLOCKED,
    CHANGE,
    Change,
    Decision,
    PlanError,
    diff_entries,
    guard_failure_message,
    guard_id,
    parse_thumbprint,
    readback_id,
    readback_value,
    same_name,
    step,
    step_object,
)

from ..facts_factories import FRONTEND, MAIL, OUTBOUND, R10, R11

THUMB = "5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"
R10_NAME = f"<I>{R10}<S>{MAIL}"
R11_NAME = f"<I>{R11}<S>{MAIL}"


# --------------------------------------------------------------------------
# parse_thumbprint
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        THUMB,
        THUMB.lower(),
        " ".join(THUMB[i:i + 2] for i in range(0, 40, 2)).lower(),   # certlm.msc's Details tab
        " ".join(THUMB[i:i + 4] for i in range(0, 40, 4)),
        "\u200e" + THUMB,                                              # the invisible mark copied from Windows
        "\u200f" + THUMB[:20] + "\t" + THUMB[20:] + "\n",
        f"  {THUMB}  ",
    ],
    ids=["upper", "lower", "pairs", "quads", "lrm", "rlm-tab-newline", "padded"],
)
def test_parse_thumbprint_accepts_the_ways_windows_shows_a_thumbprint(typed) -> None:
    assert parse_thumbprint(typed) == THUMB


@pytest.mark.parametrize(
    "typed",
    [
        THUMB[:39],
        THUMB + "A",
        THUMB[:39] + "G",
        THUMB[:39] + "-",
        "0x" + THUMB[:38],
        "",
        "auto",
        None,
        12345,
        [THUMB],
    ],
    ids=["39", "41", "non-hex-g", "dash", "0x", "empty", "auto", "none", "int", "list"],
)
def test_parse_thumbprint_rejects_anything_that_is_not_40_hex_digits(typed) -> None:
    with pytest.raises(PlanError) as raised:
        parse_thumbprint(typed)
    message = str(raised.value)
    assert message.startswith("certificate must be 'auto' or a certificate thumbprint")
    assert "40 hexadecimal" in message
    assert repr(typed) in message


def test_parse_thumbprint_names_the_option_it_checks() -> None:
    with pytest.raises(PlanError, match=r"^new_certificate must be 'auto' or a certificate thumbprint"):
        parse_thumbprint("not a thumbprint", option="new_certificate")


def test_plan_error_is_a_value_error() -> None:
    # The action plugins catch ValueError for every refusal before anything runs.
    assert issubclass(PlanError, ValueError)


# --------------------------------------------------------------------------
# same_name
# --------------------------------------------------------------------------


def test_same_name_compares_issuer_and_subject_ignoring_case() -> None:
    assert same_name(R11_NAME, R11_NAME.upper())
    assert not same_name(R10_NAME, R11_NAME)


def test_same_name_with_null() -> None:
    assert same_name(None, None)
    assert not same_name(None, R11_NAME)
    assert not same_name(R11_NAME, None)


# --------------------------------------------------------------------------
# Change, Decision
# --------------------------------------------------------------------------


def test_change_as_dict_has_every_field_reports_read() -> None:
    change = Change("receive_connector", FRONTEND, "TlsCertificateName", R10_NAME, R11_NAME, "EX01")
    assert change.as_dict() == {
        "object_type": "receive_connector",
        "object": FRONTEND,
        "property": "TlsCertificateName",
        "before": R10_NAME,
        "after": R11_NAME,
        "server": "EX01",
    }


def test_decision_as_dict_shows_the_certificate_by_thumbprint_and_merges_details() -> None:
    decision = Decision("send_connector", OUTBOUND, CHANGE, R10_NAME, R11_NAME, "every source server holds it",
                        certificate={"thumbprint": THUMB, "subject": MAIL},
                        details={"source_servers": {"EX01": {"status": "ok"}}})
    shown = decision.as_dict()
    assert shown["certificate"] == THUMB
    assert shown["source_servers"] == {"EX01": {"status": "ok"}}
    assert (shown["status"], shown["current"], shown["expected"]) == (CHANGE, R10_NAME, R11_NAME)


def test_decision_without_certificate_shows_null() -> None:
    decision = Decision("receive_connector", FRONTEND, BLOCKED, R10_NAME, None, "no replacement")
    assert decision.as_dict()["certificate"] is None


# --------------------------------------------------------------------------
# Step ids
# --------------------------------------------------------------------------


def test_guard_and_readback_ids_name_the_object() -> None:
    assert guard_id("receive_connector", FRONTEND) == f"guard|receive_connector|{FRONTEND}"
    assert readback_id("send_connector", OUTBOUND) == f"readback|send_connector|{OUTBOUND}"


@pytest.mark.parametrize("obj", [FRONTEND, OUTBOUND, "EX01\\" + THUMB, "odd|name|with bars"])
def test_step_object_reads_back_what_the_ids_were_built_from(obj) -> None:
    assert step_object(guard_id("receive_connector", obj)) == ("guard", "receive_connector", obj)
    assert step_object(readback_id("certificate", obj)) == ("readback", "certificate", obj)


@pytest.mark.parametrize("step_id", [None, "", "server", "guard|receive_connector"])
def test_step_object_of_an_id_that_names_no_object(step_id) -> None:
    assert step_object(step_id) is None


def test_step_carries_a_guard_only_when_given() -> None:
    plain = step("x", "Get-ReceiveConnector", {"Identity": FRONTEND})
    guarded = step("y", "Get-ReceiveConnector", {"Identity": FRONTEND}, ["TlsCertificateName"],
                   {"TlsCertificateName": None})
    assert "guard" not in plain and plain["properties"] == []
    assert guarded["guard"] == {"TlsCertificateName": None}


def test_readback_value_is_the_live_value_of_the_readback_step() -> None:
    result = {"steps": [
        {"index": 0, "id": "set|receive_connector|" + FRONTEND, "status": "ok", "objects": []},
        {"index": 1, "id": readback_id("receive_connector", FRONTEND), "status": "ok",
         "objects": [{"Identity": FRONTEND, "TlsCertificateName": R11_NAME}]},
    ]}
    assert readback_value(result, "receive_connector", FRONTEND, "TlsCertificateName") == R11_NAME


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [{"index": 1, "id": readback_id("receive_connector", FRONTEND), "status": "error", "objects": []}],
        [{"index": 1, "id": readback_id("receive_connector", FRONTEND), "status": "ok", "objects": []}],
        [{"index": 1, "id": readback_id("receive_connector", "EX01\\Other"), "status": "ok",
          "objects": [{"TlsCertificateName": R11_NAME}]}],
    ],
    ids=["not-run", "failed", "no-object", "other-object"],
)
def test_readback_value_raises_when_the_readback_did_not_answer(steps) -> None:
    with pytest.raises(KeyError):
        readback_value({"steps": steps}, "receive_connector", FRONTEND, "TlsCertificateName")


# --------------------------------------------------------------------------
# guard_failure_message
# --------------------------------------------------------------------------


def guard_stop(step_id, mismatches, index=2, message="guard failed on step 2") -> dict:
    return {
        "failed": True,
        "steps": [
            {"index": 0, "id": "guard|certificate|" + THUMB, "status": "ok"},
            {"index": 1, "id": "guard|receive_connector|EX01\\Client Frontend EX01", "status": "ok"},
            {"index": index, "id": step_id, "status": "guard_failed"},
        ],
        "stop": {"index": index, "reason": "guard", "message": message, "mismatches": mismatches},
    }


def test_guard_failure_message_names_the_object_and_both_values() -> None:
    result = guard_stop(guard_id("receive_connector", FRONTEND),
                        [{"property": "TlsCertificateName", "expected": R10_NAME, "actual": R11_NAME}])
    message = guard_failure_message(result)
    assert message.startswith(f"Receive connector {FRONTEND} changed since it was read:")
    assert f"its TlsCertificateName was '{R10_NAME}' when read and is now '{R11_NAME}'" in message
    assert "Nothing was written." in message
    assert "run again" in message
    # Not the connector whose guard held.
    assert "Client Frontend" not in message


def test_guard_failure_message_shows_null_for_an_empty_value() -> None:
    result = guard_stop(guard_id("send_connector", OUTBOUND),
                        [{"property": "TlsCertificateName", "expected": None, "actual": R11_NAME}])
    message = guard_failure_message(result)
    assert message.startswith(f"Send connector {OUTBOUND} changed")
    assert f"was null when read and is now '{R11_NAME}'" in message


def test_guard_failure_message_lists_every_mismatch() -> None:
    result = guard_stop(guard_id("certificate", "EX01\\" + THUMB),
                        [{"property": "Thumbprint", "expected": THUMB, "actual": None},
                         {"property": "Services", "expected": "IIS, SMTP", "actual": "IIS"}])
    message = guard_failure_message(result)
    assert f"its Thumbprint was '{THUMB}' when read and is now null; its Services was 'IIS, SMTP'" in message


def test_guard_failure_message_for_the_default_smtp_certificate() -> None:
    result = guard_stop(guard_id("transport_service", "EX01"),
                        [{"property": "InternalTransportCertificateThumbprint", "expected": THUMB, "actual": "AB" * 20}])
    assert guard_failure_message(result).startswith("Transport service of EX01 changed since it was read")


def test_guard_failure_message_without_mismatches_uses_the_stop_message() -> None:
    result = guard_stop(guard_id("hybrid_configuration", "Hybrid Configuration"), [], message="it vanished")
    message = guard_failure_message(result)
    assert message.startswith("Hybrid configuration Hybrid Configuration changed since it was read: it vanished.")


def test_guard_failure_message_for_a_step_without_an_object_id() -> None:
    result = guard_stop("server", [{"property": "Name", "expected": "EX01", "actual": "EX02"}], index=7)
    assert guard_failure_message(result).startswith("Step 7 changed since it was read")


@pytest.mark.parametrize(
    "result",
    [
        {"steps": [], "stop": None},
        {"steps": [{"index": 0, "id": "set|receive_connector|x", "status": "error"}],
         "stop": {"index": 0, "reason": "error", "message": "access denied"}},
        {},
    ],
    ids=["completed", "error", "empty"],
)
def test_guard_failure_message_is_none_unless_a_guard_stopped_the_batch(result) -> None:
    assert guard_failure_message(result) is None


# --------------------------------------------------------------------------
# diff_entries
# --------------------------------------------------------------------------


def test_diff_entries_one_entry_per_object_with_every_property() -> None:
    changes = [
        Change("receive_connector", FRONTEND, "TlsCertificateName", R10_NAME, R11_NAME, "EX01"),
        Change("certificate", THUMB, "Services", ["IIS"], ["IIS", "SMTP"], "EX01"),
        Change("receive_connector", FRONTEND, "RequireTLS", False, True, "EX01"),
    ]
    entries = diff_entries(changes)
    assert len(entries) == 2
    connector, certificate = entries
    assert connector["before_header"] == connector["after_header"] == f"receive_connector {FRONTEND}"
    assert connector["before"] == f"TlsCertificateName: {R10_NAME}\nRequireTLS: False\n"
    assert connector["after"] == f"TlsCertificateName: {R11_NAME}\nRequireTLS: True\n"
    assert certificate["before_header"] == f"certificate {THUMB} (on EX01)"
    assert certificate["before"] == "Services: IIS\n"
    assert certificate["after"] == "Services: IIS, SMTP\n"


def test_diff_entries_keep_the_same_certificate_on_two_servers_apart() -> None:
    changes = [
        Change("certificate", THUMB, "Services", [], ["SMTP"], "EX01"),
        Change("certificate", THUMB, "Services", "unknown", ["SMTP"], "EX02"),
    ]
    entries = diff_entries(changes)
    assert [e["before_header"] for e in entries] == [f"certificate {THUMB} (on EX01)", f"certificate {THUMB} (on EX02)"]
    assert entries[0]["before"] == "Services: None\n"
    assert entries[1]["before"] == "Services: unknown\n"


def test_diff_entries_show_null_and_omit_a_missing_server() -> None:
    entries = diff_entries([Change("send_connector", OUTBOUND, "TlsCertificateName", None, R11_NAME)])
    assert entries == [{
        "before_header": f"send_connector {OUTBOUND}",
        "after_header": f"send_connector {OUTBOUND}",
        "before": "TlsCertificateName: null\n",
        "after": f"TlsCertificateName: {R11_NAME}\n",
    }]


def test_diff_entries_of_nothing() -> None:
    assert diff_entries([]) == []


def test_find_named_prefers_the_exact_name_then_forgives_hand_typed_white_space():
    objects = [{"identity": "EX01\\ padded ", "name": " padded "}, {"identity": "EX01\\padded", "name": "padded"}]
    assert find_named(objects, " PADDED ") is objects[0]
    assert find_named(objects, "padded") is objects[1]
    assert find_named(objects[:1], "ex01\\ padded ") is objects[0]
    assert find_named(objects[1:], "  Padded\t") is objects[1]
    assert find_named(objects, "other") is None
