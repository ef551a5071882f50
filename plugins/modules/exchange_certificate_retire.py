#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: exchange_certificate_retire
short_description: Remove a superseded certificate from one Exchange server, only where nothing still needs it
version_added: 0.2.0
description:
  - Reads, in one launch, the server's role, the certificate to retire (O(thumbprint)), its replacement
    (O(replacement)), the internal transport (default SMTP) certificate, the Auth configuration (C(Get-AuthConfig)),
    every send connector, the server's receive connectors and the hybrid configuration.
  - Keeps the certificate, and says why in RV(retirement.kept_because), when any of these holds. The replacement is
    not in the store with SMTP and its private key. O(proof) does not show the replacement presented over SMTP. The
    certificate is enabled for IIS. It is the internal transport certificate. It is the Auth certificate, current or
    next. A send connector, a receive connector of this server or the hybrid configuration still names its issuer and
    subject.
  - When a send connector names an issuer and subject that the old and the renewed certificate share, Exchange refuses
    to remove either. Microsoft's documented order (clear the connector's name, remove the old certificate on each
    source server, set the name again) changes mail flow organisation-wide, so this module keeps the certificate and
    names the article instead.
  - Otherwise it removes the certificate with C(Remove-ExchangeCertificate -Confirm:$false) in a second launch whose
    first steps read every object the decision rested on again, guarded by the values first read; if anything changed
    in between, nothing is removed.
  - B(Removal cannot be undone.) The certificate and its private key leave the server's store; only an import of the
    same PKCS#12 file brings it back. The result warns so, in check mode too.
options:
  thumbprint:
    description:
      - The thumbprint of the superseded certificate to remove.
    type: str
    required: true
  replacement:
    description:
      - The thumbprint of the certificate that replaces it, which must be in the store, enabled for SMTP, and shown by
        O(proof).
    type: str
    required: true
  proof:
    description:
      - The registered result of M(exchange.transport_tls.smtp_tls_probe) for this server, after the rollout. The
        certificate is retired only when that probe established TLS and was presented O(replacement).
    type: dict
    required: true
  server:
    description:
      - The Exchange server to act on, as C(Get-ExchangeServer) names it. Defaults to the inventory host name up to its
        first dot.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: Reads and decides; removes nothing, and says whether it would.
  diff_mode:
    support: full
    details: The certificate's presence in the store, before and after.
  platform:
    support: full
    platforms: windows
notes:
  - Only Exchange's C(Services) flag shows IIS use; an IIS binding made outside Exchange (IIS Manager, C(netsh)) is not
    visible to this module.
seealso:
  - module: exchange.transport_tls.exchange_certificate_import
  - module: exchange.transport_tls.smtp_tls_probe
  - name: Can't remove a certificate that's installed in Exchange Server
    description: Why Exchange refuses a certificate that a send connector names, and Microsoft's order of steps.
    link: https://learn.microsoft.com/exchange/troubleshoot/mailflow/cannot-remove-installed-certificate
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Probe the server after the rollout
  exchange.transport_tls.smtp_tls_probe:
    host: "{{ ansible_host | default(inventory_hostname) }}"
    expect_thumbprint: "{{ imported.thumbprint }}"
    wait_timeout: 60
  delegate_to: localhost
  register: proof

- name: Retire the old certificate where nothing needs it any more
  exchange.transport_tls.exchange_certificate_retire:
    thumbprint: 8B2C0E5F1A7D3E9C4B6A2F0D8E1C5B7A9F3D2E10
    replacement: "{{ imported.thumbprint }}"
    proof: "{{ proof }}"
"""

RETURN = r"""
state:
  description: C(absent) (not in the store), C(kept) (something still needs it), or C(removed) (in check mode, would be).
  returned: when the server could be read
  type: str
  sample: kept
retirement:
  description: The decision, with RV(retirement.kept_because) and the note that removal cannot be undone.
  returned: when the server could be read
  type: dict
  contains:
    kept_because:
      description: Every reason the certificate stays; empty when it goes.
      type: list
      elements: str
    can_be_undone:
      description: Always false.
      type: bool
changes:
  description: The removal (in check mode, the one that would be made), in the change record's shape.
  returned: always
  type: list
  elements: dict
launches:
  description: PowerShell launches made on the server.
  returned: always
  type: int
  sample: 2
"""
