# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/exchange_environment_facts.py.

DOCUMENTATION = r"""
---
module: exchange_environment_facts
short_description: Check that an Exchange server is an environment the collection can be trusted on
version_added: 0.2.0
description:
  - Runs the audit's own read batch in one Exchange session (one PowerShell launch), every step allowed
    to fail on its own, and judges on the controller what only a real server can show.
  - "C(reads): every cmdlet of the audit's read batch ran. C(session): which session C(exchange_command)
    opened (V(snapin) on Edge, V(remote) on Mailbox). C(version): the Exchange version and role, against the
    supported cumulative updates (Exchange Server 2016 CU23, 2019 CU14 and CU15, Subscription Edition).
    C(certificate_fidelity): whether C(Get-ExchangeCertificate) returned Services, Status, HasPrivateKey and
    RootCAType, which only a session with C(serializationLevel=Full) does. C(enum_form): whether Exchange
    enums arrived as names or integers. C(rbac): which allow-listed Exchange cmdlets the account can run
    (RBAC trims what the session imports). On Edge, C(edge_transport_certificate) (the Edge's default
    certificate, which its Edge Subscription trusts, is in the store and not expired) and C(edgesync)
    (always V(not_checked), see the notes). C(smtp_starttls): whether the controller reaches the SMTP port
    with STARTTLS, probed in-process on the controller as M(exchange.transport_tls.smtp_tls_probe) does."
  - Each check is V(pass), V(warn), V(fail) or V(not_checked), with what was found, what it means and what to
    do. V(fail) is kept for what would make the audit or the remediation wrong. A check that could not look
    is V(not_checked), never V(pass).
  - Never changes anything; the same in check mode.
options:
  server:
    description:
      - The Exchange server name of the target host, as C(Get-ExchangeServer) shows it.
      - Defaults to the inventory host name up to its first dot.
    type: str
  probe:
    description:
      - Probe the SMTP port from the controller. V(false) reports C(smtp_starttls) as V(not_checked).
    type: bool
    default: true
  probe_host:
    description:
      - Host name or IP address to probe. Defaults to the server's FQDN from C(Get-ExchangeServer), else the
        inventory host name. The playbook passes C(exchange_smtp_host), C(ansible_host) or the inventory name,
        as the role's probe does.
    type: str
  probe_port:
    description: The SMTP port to probe, 1 to 65535.
    type: int
    default: 25
  probe_timeout:
    description: Seconds to wait for each network operation of the probe, more than 0 and at most 3600.
    type: float
    default: 10
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: Reads only; the same checks in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: windows
notes:
  - Makes exactly one call of M(exchange.transport_tls.exchange_command) per host.
  - The task fails only on invalid options. A failed check, or a launch that failed, is reported in
    RV(environment.checks) and RV(environment.verdict); M(exchange.transport_tls.exchange_environment_report)
    turns them into the exit status. An unreachable host is reported unreachable, with its checks.
  - "EdgeSync: C(Get-EdgeSubscription) and C(Test-EdgeSynchronization) run on a Mailbox server of the
    organisation, not on the Edge, and are not among the cmdlets C(exchange_command) runs, so the subscription
    itself is not checked; run C(Test-EdgeSynchronization -ExcludeRecipientTest) on a Mailbox server."
  - RBAC is judged from C(available_cmdlets), which C(exchange_command) returns after the session opened. With a
    payload that does not return it, C(rbac) is V(not_checked) unless a cmdlet was refused.
seealso:
  - module: exchange.transport_tls.exchange_environment_report
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.smtp_tls_probe
  - name: Exchange Server build numbers and release dates
    description: The builds of each cumulative update.
    link: https://learn.microsoft.com/exchange/new-features/build-numbers-and-release-dates
  - name: Test-EdgeSynchronization
    description: Runs on a Mailbox server; reports the synchronization status of subscribed Edge servers.
    link: https://learn.microsoft.com/powershell/module/exchangepowershell/test-edgesynchronization
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Check the environment of every Exchange server
  exchange.transport_tls.exchange_environment_facts:
    probe_host: "{{ exchange_smtp_host | default(ansible_host) | default(inventory_hostname) }}"
    probe_port: "{{ exchange_smtp_port | default(25) | int }}"
  register: verify_environment_result

- name: Stop where the certificates arrive without their Exchange properties
  ansible.builtin.assert:
    that: >-
      verify_environment_result.environment.checks
      | selectattr('name', 'equalto', 'certificate_fidelity') | map(attribute='status') | first != 'fail'

- name: Without the SMTP probe (port 25 closed from this controller on purpose)
  exchange.transport_tls.exchange_environment_facts:
    probe: false
"""

RETURN = r"""
launches:
  description: PowerShell launches this task made on the host (always 1).
  returned: success
  type: int
  sample: 1
environment:
  description: The server's checks and verdict; the entry of this server in C(environment.json).
  returned: success
  type: dict
  contains:
    server:
      description: The Exchange server name the checks are about.
      type: str
      sample: EX01
    fqdn:
      description: The server's FQDN from C(Get-ExchangeServer), or null when it could not be read.
      type: str
      sample: ex01.contoso.com
    role:
      description: V(Mailbox) or V(Edge), or null when it could not be read.
      type: str
      sample: Mailbox
    version:
      description: The AdminDisplayVersion as major.minor.build.revision, or null.
      type: str
      sample: 15.2.1544.4
    session:
      description: The session C(exchange_command) opened (V(snapin) or V(remote)), or null.
      type: str
      sample: remote
    available_cmdlets:
      description: The allow-listed cmdlets the session offered, as C(exchange_command) returned them, or null.
      type: list
      elements: str
      sample: [Get-ExchangeServer, Get-ExchangeCertificate]
    checks:
      description: One entry per check, in a fixed order; the Edge checks only on Edge.
      type: list
      elements: dict
      contains:
        name:
          description: >-
            V(reads), V(session), V(version), V(certificate_fidelity), V(enum_form), V(rbac),
            V(edge_transport_certificate), V(edgesync) or V(smtp_starttls).
          type: str
          sample: certificate_fidelity
        status:
          description: V(pass), V(warn), V(fail) or V(not_checked).
          type: str
          sample: fail
        found:
          description: What was found.
          type: str
          sample: Services, Status, RootCAType missing on 3 of 3 certificates
        meaning:
          description: What it means for the audit and the remediation.
          type: str
          sample: "not full fidelity: ... the remediation blocks rather than guess"
        action:
          description: What to do; empty on a pass.
          type: str
          sample: open the session with serializationLevel=Full (session=auto does)
    verdict:
      description: V(fail) if a check failed, else V(warn) if one warned, else V(pass) if one passed, else V(not_checked).
      type: str
      sample: pass
"""
