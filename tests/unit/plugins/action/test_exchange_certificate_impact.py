# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_certificate_impact as a task: refusals name the input, facts come from hostvars, reports land in a run directory."""

from __future__ import annotations

import json
from unittest import mock

from ansible_collections.exchange.transport_tls.plugins.action import exchange_certificate_impact as action_mod
from tests import impact_pki as pki
from tests.unit import facts_factories as ff


def run(args: dict, task_vars: dict | None = None) -> dict:
    task = mock.MagicMock()
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = False
    task.action = "exchange.transport_tls.exchange_certificate_impact"
    action = action_mod.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=mock.MagicMock(),
                                     templar=mock.MagicMock(), shared_loader_obj=mock.MagicMock())
    return action.run(task_vars=task_vars or {})


def fleet_vars(*hosts) -> dict:
    name = f"<I>{ff.R11}<S>{ff.MAIL}"
    hostvars = {h: {"ansible_facts": {"exchange_tls": ff.server_facts(h, certificates=[ff.own_certificate_of(h), ff.r11()],
                receive_connectors=[ff.receive_connector(identity=f"{h}\\Partners", server=h, tls_certificate_name=name)])}}
                for h in hosts}
    return {"hostvars": hostvars, "ansible_play_hosts_all": list(hosts)}


def test_validate_only_reads_the_candidate_without_facts(tmp_path):
    root = pki.root()
    path = tmp_path / "c.pem"
    path.write_bytes(pki.leaf(pki.intermediate(root, "R12")).pem)
    result = run({"candidate": str(path), "validate_only": True})
    assert not result.get("failed") and result["candidate"]["subject"] == "CN=mail.contoso.com"
    assert "impact" not in result


def test_refusals_name_the_input(tmp_path):
    assert "connector_tls_candidate_thumbprint" in run({})["msg"]
    bad = run({"candidate_thumbprint": "not-a-thumbprint", "validate_only": True})
    assert bad["failed"] and "'not-a-thumbprint'" in bad["msg"] and "40 hexadecimal" in bad["msg"]
    missing = run({"candidate": str(tmp_path / "nope.pfx")})
    assert missing["failed"] and "nope.pfx" in missing["msg"]
    path = tmp_path / "c.pem"
    path.write_bytes(pki.leaf(None).pem)
    other = run({"candidate": str(path), "candidate_thumbprint": "AB" * 20})
    assert other["failed"] and "is not the thumbprint of connector_tls_candidate" in other["msg"]
    trust = run({"candidate": str(path), "candidate_trust": str(tmp_path / "absent.pem")})
    assert trust["failed"] and "connector_tls_candidate_trust" in trust["msg"]
    domain = run({"candidate": str(path), "exo_inbound_domain": "mail contoso", "validate_only": True})
    assert domain["failed"] and "'mail contoso' is not a domain name" in domain["msg"]
    days = run({"candidate": str(path), "expiring_days": 5000, "validate_only": True})
    assert days["failed"] and "between 0 and 3650" in days["msg"]


def test_thumbprint_found_in_hostvars_and_reports_written(tmp_path):
    renewal = ff.r12()
    task_vars = fleet_vars("EX01", "EX02")
    task_vars["hostvars"]["EX02"]["ansible_facts"]["exchange_tls"]["certificates"].append(renewal)
    result = run({"candidate_thumbprint": renewal["thumbprint"].lower(), "report_dir": str(tmp_path / "out")}, task_vars)
    assert not result.get("failed"), result
    doc = json.loads((tmp_path / "out" / "latest" / "impact.json").read_text())
    assert doc == json.loads(json.dumps(result["impact"]))
    assert sorted(o["object"] for o in doc["objects"] if o["action"] == "rename") == ["EX01\\Partners", "EX02\\Partners"]
    assert [o["host"] for o in doc["objects"] if o["action"] == "import"] == ["EX01"]
    assert {p.rsplit("/", 1)[1] for p in result["files"]} == {"impact.json", "report.html", "junit.xml"}


def test_a_host_without_facts_fails_the_task_after_the_reports(tmp_path):
    task_vars = fleet_vars("EX01")
    task_vars["ansible_play_hosts_all"].append("EX02")
    path = tmp_path / "c.pem"
    path.write_bytes(pki.leaf(pki.intermediate(pki.root(), "R12")).pem)
    result = run({"candidate": str(path), "report_dir": str(tmp_path / "out")}, task_vars)
    assert result["failed"] and result["breaks_mail"] and "EX02" in result["msg"]
    assert (tmp_path / "out" / "latest" / "impact.json").exists()
    relaxed = run({"candidate": str(path), "fail_on_breaking": False}, task_vars)
    assert not relaxed.get("failed") and relaxed["breaks_mail"]


def test_thumbprint_on_no_server(tmp_path):
    result = run({"candidate_thumbprint": "CD" * 20}, fleet_vars("EX01"))
    assert result["failed"] and "in the certificate store of no gathered server (EX01)" in result["msg"]
