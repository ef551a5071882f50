# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/connector_tls_report.py.

DOCUMENTATION = r"""
---
module: connector_tls_report
short_description: Write the fleet reports of role connector_tls on the controller
version_added: 0.1.0
description:
  - Builds the fleet report of role P(exchange.transport_tls.connector_tls#role) from what its phases
    registered on every host of the play, and writes it on the controller in a run directory under O(dest) as C(report.json)
    (schema C(exchange.transport_tls/report/v1), shipped as C(schemas/report-v1.schema.json)), C(junit.xml),
    C(report.html) (one self-contained page) and C(changes.json) (schema C(exchange.transport_tls/changes/v1)).
  - Every run writes into its own directory C(<dest>/<run id>); the run id is the UTC time the directory was made,
    to the millisecond (V(20261207T233904.123Z), V(-2) appended for a second run in the same millisecond), so no run
    replaces another's C(changes.json). C(<dest>/latest) names the newest run (a relative symbolic link; a text file
    holding the run id where the file system has no symbolic links).
  - With O(stage=planned) it creates the run directory and writes only C(changes.json), with every change the plans
    announce and status V(attempted) (V(planned) in an audit or check run); the role does this before any write is
    launched, so a run killed mid-way leaves a record a rollback can use. O(stage=final) settles each change with what
    happened (V(applied), V(not_applied) with the reason, or V(unknown) when a write launch's outcome could not be
    established) and adds the transport restarts (object type V(service)).
  - Host statuses are V(compliant), V(drift), V(remediated), V(blocked), V(error) and V(unreachable); a host that
    failed or could not be reached appears with its error. C(docs/reports.md) explains every field.
  - Meant to run once (C(run_once)); it contacts no server. It reads the registered variables
    C(connector_tls_gathered) and C(connector_tls_receive) (the two stages of
    M(exchange.transport_tls.connector_tls_server), the read with its receive plan, scope and probe, and the change
    with the probe after it and the restart decision), C(connector_tls_restart), C(connector_tls_probe_again),
    C(connector_tls_send_plan) and C(connector_tls_send) of each host, which the role sets; outside the role, use the
    role.
options:
  dest:
    description:
      - Directory on the controller for the run directories (the role's C(connector_tls_report_dir)); created if missing.
        Files are written atomically.
    type: path
    required: true
  stage:
    description:
      - V(planned) writes C(changes.json) with the planned changes only; V(final) writes all four files.
    type: str
    choices: [planned, final]
    default: final
  mode:
    description: The role's mode, recorded in the reports and deciding what counts as drift.
    type: str
    choices: [audit, remediate]
    required: true
  scope:
    description:
      - The role's JMESPath scope expression (C(connector_tls_scope)), recorded in the reports. An invalid expression is
        refused.
      - Each host's connectors in scope are computed from it and the host's gathered facts; connectors outside it are
        reported V(out_of_scope), and its changes are the only ones planned. Give it at both stages.
    type: str
  expiring_days:
    description: As the role's C(connector_tls_expiring_days); findings after changes are recomputed with it. Between V(0) and V(3650).
    type: int
    default: 30
  fail_on_drift:
    description:
      - Whether drift, and blocked objects of an audit or a C(--check) run, are reasons in RV(failure).
      - Errors and unreachable hosts always are; so are blocked objects after a real remediation.
    type: bool
    default: true
  hosts:
    description: Inventory hosts to report on. Default all hosts of the play (C(ansible_play_hosts_all)). A name that is not an inventory host is refused.
    type: list
    elements: str
  organization_host:
    description: The host where the organisation objects were decided and changed; an inventory host name.
    type: str
  run_id:
    description:
      - The run directory under O(dest) to write into, as RV(run_id) of the planned stage returned it. Without it a new
        run directory is made. A value that is not the id of an existing run directory is refused.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Writes the reports in check mode too; they are the controller's output, not a change to a server.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - "Always returns C(changed=false): the report files are output, not managed state."
seealso:
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.smtp_tls_probe
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Write the reports of a connector_tls run (the role does this)
  exchange.transport_tls.connector_tls_report:
    dest: ./connector_tls_report
    mode: audit
  run_once: true
  register: report

- name: Fail when the verdict says so
  ansible.builtin.fail:
    msg: "{{ report.failure }}"
  run_once: true
  when: report.failure is truthy
"""

RETURN = r"""
dest:
  description: The absolute run directory the reports were written to.
  returned: success
  type: str
  sample: /srv/ci/connector_tls_report/20261207T233904.123Z
report_dir:
  description: The absolute O(dest), which holds the run directories and C(latest).
  returned: success
  type: str
  sample: /srv/ci/connector_tls_report
run_id:
  description: The run id, the name of the run directory.
  returned: success
  type: str
  sample: 20261207T233904.123Z
restarts:
  description: The transport restarts of the run, one line each naming the host, the service and why.
  returned: stage is final
  type: list
  elements: str
  sample: ["EX01: MSExchangeFrontEndTransport (STARTTLS did not come back after the change: ...)"]
files:
  description: The files written.
  returned: success
  type: list
  elements: str
  sample: [/srv/ci/connector_tls_report/20261207T233904.123Z/report.json, /srv/ci/connector_tls_report/20261207T233904.123Z/changes.json]
planned:
  description: How many changes were recorded as planned.
  returned: stage is planned
  type: int
  sample: 3
status:
  description: The fleet verdict, the worst of the hosts and the organisation.
  returned: stage is final
  type: str
  sample: drift
summary:
  description: Hosts per status.
  returned: stage is final
  type: dict
  sample: {"hosts": 3, "compliant": 1, "drift": 2, "remediated": 0, "blocked": 0, "error": 0, "unreachable": 0}
organization_status:
  description: The verdict for send connectors and the hybrid configuration.
  returned: stage is final
  type: str
  sample: compliant
hosts:
  description: Each host's status and message.
  returned: stage is final
  type: dict
  sample: {"EX01": {"status": "drift", "message": null}}
failure:
  description: Why the run should end non-zero (see O(fail_on_drift)), or null.
  returned: stage is final
  type: str
  sample: 2 host(s) drift
host_failures:
  description:
    - The hosts the run fails, each with why; empty when RV(failure) is null.
    - Exactly the hosts the verdict fails (error, unreachable, blocked, and drift with O(fail_on_drift)), so that
      PLAY RECAP and AWX's per-host status name the servers that need a person. The organisation's failure goes
      to the host that decided it, and a problem of the whole run to the first host.
  returned: stage is final
  type: dict
  sample: {"EX02": "blocked: EX02\\Default Frontend EX02: no certificate on EX02 can replace the stale name"}
lines:
  description:
    - What role P(exchange.transport_tls.connector_tls#role) prints at the end of a run, one line per element
      (what is wrong, what the run changed, STARTTLS per probe phase, the verdict, where the reports are).
  returned: stage is final
  type: list
  elements: str
"""
