"""restart.decide: a transport restart only for a server this run changed, on evidence from a probe that connected."""

from __future__ import annotations

import pytest

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge import restart
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import report

from .._report.test_report import R11_THUMB, build, failed_probe, probe, run, stale

TARGET = {"identity": "EX01\\Default Frontend EX01", "starttls_offered": True, "expected_thumbprint": R11_THUMB,
          "service": "MSExchangeFrontEndTransport"}
OLD = "0" * 40
TIMED_OUT = dict(probe("after"), failed=True, starttls_offered=False, msg="Timed out waiting for the banner of 127.0.0.1:25",
                 error="Timed out waiting for the banner of 127.0.0.1:25")


@pytest.mark.parametrize("policy, changed, result, restarts, status, words", [
    # The F1 cases: no connection, or a port that accepts and never answers; changed or not, never a restart.
    ("if_needed", False, failed_probe("after"), False, "unknown", "changed nothing"),
    ("if_needed", True, failed_probe("after"), False, "unknown", "a restart cannot fix an unreachable port"),
    ("if_needed", True, TIMED_OUT, False, "unknown", "Timed out waiting for the banner"),
    ("always", False, probe("after", offered=False), False, "problem", "changed nothing"),
    # Evidence from a probe that completed: the old state is still served.
    ("if_needed", True, probe("after", offered=False), True, "problem", "offers no STARTTLS"),
    ("if_needed", True, probe("after", thumbprint=OLD), True, "problem", f"presented certificate {OLD}, not {R11_THUMB}"),
    ("if_needed", False, probe("after", thumbprint=OLD), False, "problem", "changed nothing"),
    ("if_needed", True, probe("after", thumbprint=R11_THUMB), False, "ok", "shows what the configuration selects"),
    ("if_needed", True, probe("after", tls_established=False, error="handshake failure"), False, "problem",
     "a restart does not fix the certificate"),
    ("if_needed", True, {"skipped": True}, False, "none", "no SMTP probe ran"),
    ("always", True, failed_probe("after"), True, "unknown", "is always"),
    ("never", True, probe("after", offered=False), False, "problem", "is never"),
])
def test_decide(policy, changed, result, restarts, status, words):
    decision = restart.decide(policy, changed, result, TARGET)
    assert (decision["restart"], decision["probe"]) == (restarts, status), decision
    assert words in decision["reason"]
    assert decision["service"] == "MSExchangeFrontEndTransport"


def test_a_server_without_a_port_25_connector_is_not_restarted():
    decision = restart.decide("always", True, probe("after", offered=False), None)
    assert decision["restart"] is False and "no enabled port-25 receive connector" in decision["reason"]


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="connector_tls_restart_transport must be one of never, if_needed, always, got 'sometimes'"):
        restart.decide("sometimes", True, None, TARGET)


def test_the_report_marks_a_probe_that_could_not_connect_unknown_and_not_green():
    host = build("remediate", {"EX01": run(stale(), remediate=True, probes=[failed_probe("after")])})["hosts"]["EX01"]
    assert [p["status"] for p in host["probe"]] == ["unknown"]
    assert host["status"] == report.ERROR and host["restarts"] == []
    assert "STARTTLS is unknown" in host["message"] and "never restarts transport" in host["message"]
