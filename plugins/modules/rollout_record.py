#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollout_record
short_description: Write the certificate rollout's change record (changes.json) on the controller
version_added: 0.2.0
description:
  - Collects the C(changes) (and C(unknown_changes)) that the rollout's tasks returned on every host, and writes them
    to C(changes.json) (schema C(exchange.transport_tls/changes/v1)) in a new run directory under O(dest), which
    C(latest) then names, as the P(exchange.transport_tls.connector_tls#role) role does for a remediation.
  - The record covers imports and removals (object type C(certificate_store)), SMTP enabled and the default SMTP
    certificate (C(certificate), C(transport_service)) and every rename. A removal's entry says that it cannot be
    undone. C(exchange.transport_tls.rollback) undoes the renames from it.
  - Used by C(exchange.transport_tls.rollout); run it once, on the controller.
options:
  dest:
    description:
      - The report directory; each run gets a directory of its own under it.
    type: path
    required: true
  hosts:
    description:
      - The inventory hosts whose results are recorded. Defaults to every host of the play.
    type: list
    elements: str
  results:
    description:
      - The names under which each host registered the rollout's task results, in the order they ran.
    type: list
    elements: str
    default: [rollout_import, rollout_receive, rollout_retired]
  organization_result:
    description:
      - The name under which the organisation's task (send connectors and hybrid configuration) registered its result.
    type: str
    default: rollout_send_result
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Writes the record in check mode too, every change C(planned).
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Record what the rollout changed
  exchange.transport_tls.rollout_record:
    dest: ./connector_tls_report
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The run directory written.
  returned: success
  type: str
run_id:
  description: The run directory's name.
  returned: success
  type: str
path:
  description: The changes.json written.
  returned: success
  type: str
changes:
  description: How many changes it records.
  returned: success
  type: int
"""
