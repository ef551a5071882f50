# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout_record: playbooks/rollout.yml's changes.json, in a run directory of its own (as the role's reports)."""

from __future__ import annotations

import datetime as dt
import json
import os

from ansible.plugins.action import ActionBase

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._report import run_dir
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout import record
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import checked_args

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "hosts": {"type": "list", "elements": "str"},
    "results": {"type": "list", "elements": "str", "default": ["rollout_import", "rollout_receive", "rollout_retired"]},
    "organization_result": {"type": "str", "default": "rollout_send_result"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = checked_args(self, ARGUMENT_SPEC)
        hostvars = task_vars.get("hostvars") or {}
        hosts = args["hosts"] if args["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        unknown = [h for h in hosts if h not in hostvars]
        if unknown:
            return dict(result, failed=True, msg=f"hosts names {', '.join(unknown)}, which the inventory does not have")
        results = {h: [hostvars[h].get(name) for name in args["results"]] for h in hosts}
        organization = next((hostvars[h].get(args["organization_result"]) for h in hosts
                             if (hostvars[h].get(args["organization_result"]) or {}).get("run_on")), None)
        stamp = dt.datetime.now(dt.timezone.utc)
        report_dir = os.path.abspath(args["dest"])
        try:
            run_id = run_dir.create(report_dir, stamp)
            doc = record.document(results, organization, bool(self._task.check_mode), stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), run_id)
            path = os.path.join(report_dir, run_id, "changes.json")
            with open(path + ".tmp", "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=2)
            os.replace(path + ".tmp", path)
            run_dir.point_latest(report_dir, run_id)
        except (OSError, ValueError) as exc:
            return dict(result, failed=True, msg=(f"writing the rollout's changes.json under {report_dir} (option dest) failed: {exc};"
                                                  " dest must be a directory this controller can create and write"))
        # Writing the record on the controller is not a change to any server.
        return dict(result, changed=False, dest=os.path.join(report_dir, run_id), run_id=run_id, path=path,
                    changes=len(doc["changes"]))
