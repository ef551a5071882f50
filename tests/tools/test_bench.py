"""The fleet benchmark's own logic: its fleets load in the lab, and its target checks say what they should.

make bench runs for minutes and is not part of make test; these tests keep what it
generates and how it judges a run from drifting unnoticed.
"""

from __future__ import annotations

import pytest
import yaml

from exchange_lab import scenario as lab_scenario

from tests.conftest import ROOT

bench_fleet = pytest.importorskip("bench.fleet", reason="bench/ is not in this copy")
bench_run = pytest.importorskip("bench.run", reason="bench/ is not in this copy")


@pytest.mark.parametrize("n", [1, 10, 23])
def test_a_generated_fleet_loads_in_the_lab(tmp_path, n):
    path = tmp_path / "fleet.yml"
    path.write_text(yaml.safe_dump(bench_fleet.fleet(n, 5), sort_keys=False))
    loaded = lab_scenario.load_scenario(path)
    assert len(loaded["servers"]) == n
    assert loaded["latency"]["launch_seconds"] == 5.0


def test_the_mix_of_ten_servers_is_the_documented_one():
    fleet = bench_fleet.fleet(10)
    roles = [s["role"] for s in fleet["servers"]]
    assert roles.count("Edge") == 1 and roles.count("Mailbox") == 9
    assert fleet["send_connectors"][0]["source_transport_servers"] == ["EX01", "EX02", "EX03", "EX04"]
    # Slots 0-9: stale, two stale, healthy, stale, stale without SMTP, stale, healthy, stale, stale, Edge.
    assert bench_fleet.expected_changes(fleet) == {
        "receive_connectors": 9, "smtp_enabled": 1, "organization_objects": 2, "servers_changed": 8}


def test_a_bad_size_is_refused():
    with pytest.raises(ValueError, match="at least 1 server"):
        bench_fleet.fleet(0)


def test_launch_targets():
    journal = {"organization_only_launches": {"EX01": 1}, "smtp_enabled_on": ["EX05"], "organization_writes": {}}
    assert bench_run.host_launch_check("audit", {"EX01": 1, "EX02": 1}, journal)["holds"]
    audit = bench_run.host_launch_check("audit", {"EX01": 1, "EX02": 2}, journal)
    assert not audit["holds"] and audit["exceptions"] == {"EX02": 2}
    # The organisation's launch is counted apart; SMTP allows two more.
    assert bench_run.host_launch_check("remediate", {"EX01": 3, "EX05": 4, "EX06": 2}, journal)["holds"]
    over = bench_run.host_launch_check("remediate", {"EX01": 4, "EX06": 3}, journal)
    assert set(over["exceptions"]) == {"EX01", "EX06"}


def _row(run, n, latency, ratio, **extra):
    return {"run": run, "servers": n, "forks": 50, "launch_seconds": latency, "ratio": ratio,
            "host_launch_check": {"target": None, "holds": None, "exceptions": {}}, **extra}


def test_the_wall_time_target_applies_to_the_audit_at_200_servers_with_latency():
    checks = bench_run.targets([_row("audit", 200, 5.0, 1.3), _row("audit", 50, 5.0, 1.0), _row("audit", 200, 0.0, None)])
    assert [(c["holds"], c["detail"]) for c in checks] == [(False, "1.3")]
    assert bench_run.targets([_row("audit", 200, 5.0, 1.25)])[0]["holds"]


def test_a_remediation_that_leaves_a_stale_connector_does_not_pass():
    row = _row("remediate", 50, 0.0, None, organization_writes={"Set-SendConnector X": 1, "Set-HybridConfiguration": 2},
               end_state={"stale_receive_connectors": 1, "send_connector_paths_failing": 0, "hybrid_configuration_stale": 0},
               controller_cpu_per_host_seconds=0.2)
    checks = {c["target"].split(": ", 1)[1]: c["holds"] for c in bench_run.targets([row])}
    assert checks == {"organisation objects changed once": False, "fleet ends healthy": False, "CPU per host <= 0.3 s": True}


def _timed(run, n, latency, wall, cpu, rc=2):
    return _row(run, n, latency, None, wall_seconds=wall, controller_cpu_per_host_seconds=cpu, rc=rc)


def test_the_audit_is_judged_against_the_floor_of_the_same_run():
    rows = [_timed("floor", 200, 5.0, 26.0, 0.10), _timed("audit", 200, 5.0, 29.0, 0.16)]
    checks = {c["target"]: (c["holds"], c["detail"]) for c in bench_run.floor_targets(rows)}
    # 29 / 26 = 1.115 > 1.10; 0.16 / 0.10 = 1.6 > 1.5.
    assert checks == {"audit N=200 F=50 L=5: wall / floor's wall <= 1.1": (False, "1.115"),
                      "audit N=200 F=50 L=5: CPU per host / floor's <= 1.5": (False, "1.6")}
    rows[1].update(wall_seconds=28.0, controller_cpu_per_host_seconds=0.15)
    assert all(c["holds"] for c in bench_run.floor_targets(rows))
    # Without a floor in the same run there is nothing to compare with: no target, rather than a guess.
    assert bench_run.floor_targets(rows[1:]) == []
    assert "| 1.08 |" in bench_run.table([dict(r, launches_per_host={"min": 1, "median": 1, "max": 1}, lower_bound_seconds=20,
                                               controller_cpu_seconds=1, controller_peak_process_bytes=0,
                                               controller_peak_tree_pss_bytes=0, lab_peak_rss_bytes=0) for r in rows])


def test_the_audit_of_a_larger_fleet_may_not_cost_more_per_host():
    rows = [_timed("audit", 200, 0.0, 30.0, 0.10), _timed("audit", 1000, 0.0, 150.0, 0.12)]
    (check,) = bench_run.floor_targets(rows)
    assert check["target"].startswith("audit N=1000") and not check["holds"] and check["detail"] == "0.12 vs 0.1"
    rows[1]["controller_cpu_per_host_seconds"] = 0.105
    assert bench_run.floor_targets(rows)[0]["holds"]
    rows[1]["rc"] = 4   # an audit that did not finish says nothing about its cost
    assert not bench_run.floor_targets(rows)[0]["holds"]


@pytest.mark.parametrize("argv, words", [
    (["--runs", "audit,bogus"], "valid: floor, audit, remediate, kb"),
    (["--sizes", "0"], "--sizes must be at least 1"),
    (["--latencies", "five"], "comma-separated list of float"),
    (["--forks", "0"], "--forks must be at least 1"),
])
def test_bad_arguments_are_named(capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        bench_run.main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_the_performance_doc_has_the_table_markers():
    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.count(bench_run.DOC_START) == 1 and text.count(bench_run.DOC_END) == 1


def test_the_end_state_check_compares_names_as_exchange_does():
    renewal = {"subject": "CN=mail.contoso.com", "issuer": "CN=R11, O=Let's Encrypt, C=US"}
    state = {
        "servers": [{
            "name": "EX01",
            "certificates": [dict(renewal), {"subject": "CN=mail.contoso.com", "issuer": "CN=R10, O=Let's Encrypt, C=US",
                                             "in_store": False},
                             {"subject": "CN=EX01", "issuer": None}],
            "receive_connectors": [
                {"tls_certificate_name": "<I>cn=r11, o=Let's Encrypt, c=us<S>CN=MAIL.contoso.com"},  # case only
                {"tls_certificate_name": "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"},  # deleted
                {"tls_certificate_name": "<I>CN=EX01<S>CN=EX01"},                                    # self-signed
                {"tls_certificate_name": None},
            ],
        }],
        "send_connectors": [{"outbound_tls": {"EX01": "ok", "EX02": "454 4.7.5 ..."}}],
        "hybrid_configuration": {"tls_certificate_name": "<I>CN=R11,O=Let's Encrypt,C=US<S>CN=mail.contoso.com"},
    }
    # No X.500 normalisation: the hybrid name without spaces names nothing, as in Exchange.
    assert bench_run.healthy(state) == {"stale_receive_connectors": 1, "send_connector_paths_failing": 1,
                                        "hybrid_configuration_stale": 1}
