# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/connector_tls_rollback.py.

DOCUMENTATION = r"""
---
module: connector_tls_rollback
short_description: Undo what a connector_tls run changed on one Exchange server
version_added: 0.2.0
description:
  - Reads the C(changes.json) a run of role P(exchange.transport_tls.connector_tls#role) wrote, checks it as a whole
    (schema, keys, object types, entries against their hosts, servers and objects, values of the right shape), and
    undoes on this host every change it records as written or possibly written.
  - One launch reads what every recorded object holds now (no write). An object that still holds the value the run
    left is restored; one that holds its value from before the run is left alone (already restored, or not applied
    for a write the run never settled); one that holds anything else stops the host before any write, naming the
    value found.
  - A second launch puts the previous values back, each write guarded by the value the run left, newest first, then
    reads them back. SMTP enabled on a certificate cannot be undone (C(Enable-ExchangeCertificate) only adds
    services) and a restart has no undo; both are listed in RV(outcome.skipped).
  - A restored name that matches no certificate of the server is reported in RV(outcome.warnings).
options:
  changes_file:
    description:
      - The C(changes.json) to undo. A relative path is relative to the directory C(ansible-playbook) runs in.
      - Mutually exclusive with O(run).
    type: path
  run:
    description:
      - The run to undo, by its run id (a directory under O(report_dir), such as C(20261207T233904.123Z)).
      - With neither O(run) nor O(changes_file), the newest run under O(report_dir) that changed something.
    type: str
  report_dir:
    description:
      - The directory of the runs (role variable C(connector_tls_report_dir)).
    type: path
    default: ./connector_tls_report
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: Reads, and runs the guards only; RV(would_restore) says what would be put back.
  diff_mode:
    support: full
    details: One entry per object restored (or, in check mode, that would be), from the value the run left to the value put back.
  platform:
    support: full
    platforms: windows
notes:
  - Makes at most two calls of M(exchange.transport_tls.exchange_command) per host, none when the record holds nothing for it.
  - The host is failed when the rollback stopped on it (RV(outcome.failed)); playbooks that write a report first can
    register the result with C(failed_when) and fail the host afterwards, as C(exchange.transport_tls.rollback) does.
seealso:
  - module: exchange.transport_tls.receive_connector_tls
  - module: exchange.transport_tls.send_connector_tls
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Undo the newest run that changed something
  exchange.transport_tls.connector_tls_rollback:
  register: undone

- name: Preview the rollback of one run
  exchange.transport_tls.connector_tls_rollback:
    run: 20261207T233904.123Z
    report_dir: /var/lib/connector_tls
  check_mode: true
  diff: true

- name: Undo a record copied from another controller
  exchange.transport_tls.connector_tls_rollback:
    changes_file: ./changes.json
"""

RETURN = r"""
changes_file:
  description: The absolute path of the record undone.
  returned: when the record could be read
  type: str
run_id:
  description: The run id the record names, or null.
  returned: when the record could be read
  type: str
complete:
  description: Whether the run that wrote the record finished; an incomplete one may hold attempted writes.
  returned: when the record could be read
  type: bool
outcome:
  description:
    - What the rollback did on this host. Its keys are those of the C(hosts) entries of the rollback's report
      that C(exchange.transport_tls.rollback) writes.
  returned: when the record could be read
  type: dict
  contains:
    restored:
      description: The changes put back, each with C(object_type), C(object), C(property), C(before), C(after) and C(live) (the value read back).
      type: list
      elements: dict
    would_restore:
      description: In check mode, the changes that would be put back.
      type: list
      elements: dict
    already_restored:
      description: Changes whose object holds its value from before the run already.
      type: list
      elements: dict
    not_applied:
      description: Attempted changes the run never settled, whose object still holds its value from before the run.
      type: list
      elements: dict
    skipped:
      description: Changes that cannot be undone, each as C(change) and C(reason).
      type: list
      elements: dict
    warnings:
      description: What a person should check, such as a restored name that matches no certificate.
      type: list
      elements: str
    message:
      description: What happened on this host and what to do, in words.
      type: str
    failed:
      description: Whether the rollback stopped on this host (a conflict, a failed read or a failed write).
      type: bool
    check_mode:
      description: Whether this was a preview.
      type: bool
plan:
  description: The decision per object from the read (restore, already, not_applied, conflicts, warnings, problem).
  returned: when the record could be read
  type: dict
launches:
  description: PowerShell launches this task made on the host (0, 1 or 2).
  returned: always
  type: int
"""
