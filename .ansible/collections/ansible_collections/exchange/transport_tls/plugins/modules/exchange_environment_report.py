# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/exchange_environment_report.py.

DOCUMENTATION = r"""
---
module: exchange_environment_report
short_description: Write environment.json from every host's environment checks, with a verdict per server
version_added: 0.2.0
description:
  - Collects what M(exchange.transport_tls.exchange_environment_facts) registered on every host of the play and
    writes C(environment.json) (schema C(schemas/environment-v1.schema.json)) in O(dest) on the controller,
    replaced atomically. A user can attach it to a bug report.
  - Returns one readable line per server with its verdict, then one line per check that did not pass.
  - A host without a registered result (it failed or could not be reached) is a server whose C(reads) check failed.
  - Meant to run once (C(run_once)); it contacts no server.
options:
  dest:
    description: Directory on the controller for C(environment.json); created if missing.
    type: path
    required: true
  stage:
    description:
      - V(check) only checks that O(dest) can be written and writes nothing, so a playbook can refuse a bad
        directory before any server is read. V(write) writes the file.
    type: str
    choices: [check, write]
    default: write
  hosts:
    description: The hosts to report. Defaults to every host of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
  result_var:
    description: The variable each host registered the result of M(exchange.transport_tls.exchange_environment_facts) in.
    type: str
    default: verify_environment_result
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Writes the report in check mode too; it changes no server.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
seealso:
  - module: exchange.transport_tls.exchange_environment_facts
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Write environment.json and print a verdict per server
  exchange.transport_tls.exchange_environment_report:
    dest: "{{ playbook_dir }}/verify_environment"
  register: verify_environment_report
  run_once: true
  delegate_to: localhost

- name: Fail when a server fails a check
  ansible.builtin.assert:
    that: verify_environment_report.failing_servers | length == 0
    fail_msg: "{{ verify_environment_report.lines }}"
  run_once: true
"""

RETURN = r"""
path:
  description: The file written.
  returned: when O(stage=write)
  type: str
  sample: /home/user/verify_environment/environment.json
dest:
  description: The directory checked.
  returned: when O(stage=check)
  type: str
  sample: /home/user/verify_environment
verdict:
  description: The fleet's verdict, the worst of the servers' (V(fail), V(warn), V(pass) or V(not_checked)).
  returned: when O(stage=write)
  type: str
  sample: warn
servers:
  description: Each server's verdict.
  returned: when O(stage=write)
  type: dict
  sample: {EX01: pass, EDGE01: warn}
failing_servers:
  description: The servers whose verdict is V(fail) or V(not_checked), sorted.
  returned: when O(stage=write)
  type: list
  elements: str
  sample: [EX02]
lines:
  description: One line per server with its verdict, then one per check that did not pass.
  returned: when O(stage=write)
  type: list
  elements: str
  sample: ["EX01: PASS", "EX02: FAIL", "  fail        certificate_fidelity: Services, Status missing on 2 of 2 certificates"]
"""
