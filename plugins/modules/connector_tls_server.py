# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/connector_tls_server.py.

DOCUMENTATION = r"""
---
module: connector_tls_server
short_description: Role connector_tls's per-host step - read, plan, scope and probe one server in one task
version_added: 0.2.0
description:
  - The per-host step of role R(exchange.transport_tls.connector_tls,ansible_collections.exchange.transport_tls.docs/role_connector_tls).
    It is built for the role, which registers its result and hands it to its next tasks and to
    M(exchange.transport_tls.connector_tls_report); in a playbook of your own, use the public modules it is made of.
  - Every task of a play costs the controller a worker process per host, even when its condition skips it. This
    module does in one task what the role used to do in several.
  - With O(stage=audit) it reads the server (the code of M(exchange.transport_tls.exchange_certificate_facts), one
    PowerShell launch), decides its receive connectors in check mode (the code of
    M(exchange.transport_tls.receive_connector_tls), no launch), applies O(scope), finds the port-25 connector
    that answers the probe (filter P(exchange.transport_tls.probe_target#filter)) and probes it from the controller
    (the code of M(exchange.transport_tls.smtp_tls_probe)).
  - With O(stage=converge) it changes the in-scope receive connectors that O(gathered) planned to change (guarded
    writes and read-backs, as M(exchange.transport_tls.receive_connector_tls)), probes again (waiting up to
    O(probe_wait) seconds for the new certificate when something changed) and decides whether the server's
    transport service needs a restart (the code of filter P(exchange.transport_tls.restart_decision#filter)). A
    server with nothing to change is not contacted.
options:
  stage:
    description:
      - V(audit) reads, plans, scopes and probes; V(converge) changes what the audit planned and proves it.
    type: str
    choices: [audit, converge]
    default: audit
  mode:
    description:
      - The role's C(connector_tls_mode). With V(remediate) under C(--check), the audit stage reports as changed what
        the remediation would change, with the diff; otherwise a decision is never a change.
    type: str
    choices: [audit, remediate]
    default: audit
  expiring_days:
    description:
      - A certificate in use that expires within this many days is a finding; between V(0) and V(3650).
    type: int
    default: 30
  receive:
    description:
      - Options of M(exchange.transport_tls.receive_connector_tls) for the plan and the change, passed on unchanged
        (for example C(enable_smtp)).
      - C(facts), C(identity), C(expiring_days), C(server) and the session options are set by this module and cannot
        be given here.
    type: dict
    default: {}
  scope:
    description:
      - The role's C(connector_tls_scope), a JMESPath expression over the server's facts
        (filter P(exchange.transport_tls.connector_scope#filter)). Only the receive connectors it selects are changed.
      - Omitted, every connector is in scope.
    type: str
  gathered:
    description:
      - With O(stage=converge), the registered result of O(stage=audit) on the same host.
    type: dict
  probe:
    description:
      - Whether to probe STARTTLS on port 25 from the controller (the role's C(connector_tls_probe)).
    type: bool
    default: true
  probe_host:
    description:
      - The host to probe (the role's C(connector_tls_probe_host)); required when O(probe=true).
    type: str
  probe_port:
    description:
      - The port to probe.
    type: int
    default: 25
  probe_timeout:
    description:
      - The deadline of one probe attempt, in seconds.
    type: float
    default: 10
  probe_source:
    description:
      - The IP address the server sees the probe come from, when it is not the controller's own
        (the role's C(connector_tls_probe_source)); it decides which receive connector answers.
    type: str
  probe_wait:
    description:
      - With O(stage=converge), how long to wait for transport to present the new certificate after a change, in
        seconds.
    type: int
    default: 30
  restart_transport:
    description:
      - With O(stage=converge), the role's C(connector_tls_restart_transport) policy for RV(restart).
    type: str
    choices: [never, if_needed, always]
    default: if_needed
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: The audit stage never writes. The converge stage reports what it would change, without a write.
  diff_mode:
    support: full
  platform:
    support: full
    platforms: windows
notes:
  - One PowerShell launch per host for O(stage=audit); O(stage=converge) adds the launches of
    M(exchange.transport_tls.receive_connector_tls) on a server with something to change.
  - The probe runs in the worker on the controller, whatever the connection of the task.
seealso:
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.receive_connector_tls
  - module: exchange.transport_tls.smtp_tls_probe
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
# What role exchange.transport_tls.connector_tls does; the role is the supported way to run it.
- name: Read, plan, scope and probe this server
  exchange.transport_tls.connector_tls_server:
    stage: audit
    receive:
      enable_smtp: true
    probe_host: "{{ ansible_host }}"
  register: server

- name: Change what the audit planned, probe again and decide the restart
  exchange.transport_tls.connector_tls_server:
    stage: converge
    gathered: "{{ server }}"
    receive:
      enable_smtp: true
    probe_host: "{{ ansible_host }}"
  register: converged
  when: server.receive_targets | default([]) | length > 0
"""

RETURN = r"""
ansible_facts:
  description: With O(stage=audit), the facts M(exchange.transport_tls.exchange_certificate_facts) returns; with
    O(stage=converge), the facts as the change left them, when it changed something.
  returned: when the server was read
  type: dict
findings:
  description: With O(stage=audit), the findings of M(exchange.transport_tls.exchange_certificate_facts).
  returned: when the server was read
  type: list
  elements: dict
receive_plan:
  description: With O(stage=audit), the check-mode result of M(exchange.transport_tls.receive_connector_tls)
    (C(plans), C(changes), C(smtp), C(failed) and C(msg) when a connector is blocked); null when the server could not
    be read.
  returned: O(stage=audit)
  type: dict
scope:
  description: The identities of the server's connectors in O(scope); null when no scope is set or the server could not
    be read.
  returned: O(stage=audit)
  type: list
  elements: str
receive_targets:
  description: The in-scope receive connectors the plan changes; what O(stage=converge) changes.
  returned: O(stage=audit)
  type: list
  elements: str
probe_target:
  description: What filter P(exchange.transport_tls.probe_target#filter) returns for the facts (the connector that
    answers on port 25, its transport service and the certificate it should present); null when none.
  returned: always
  type: dict
probe:
  description: The result of M(exchange.transport_tls.smtp_tls_probe), or C(skipped=true) with C(skip_reason).
  returned: always
  type: dict
plans:
  description: With O(stage=converge), as M(exchange.transport_tls.receive_connector_tls) returns them; likewise
    C(changes), C(smtp), C(launches), C(unknown_changes) and C(diff).
  returned: O(stage=converge)
  type: list
  elements: dict
restart:
  description: With O(stage=converge), whether to restart the server's transport service and why
    (C(restart), C(service), C(probe), C(reason)), as filter P(exchange.transport_tls.restart_decision#filter) decides.
  returned: O(stage=converge)
  type: dict
launches:
  description: PowerShell launches this task made on the host.
  returned: when the server was contacted
  type: int
"""
