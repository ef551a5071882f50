#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: exchange_certificate_import
short_description: Import a renewed certificate (a PKCS#12 file on the controller) into one Exchange server's store
version_added: 0.2.0
description:
  - Reads the PKCS#12 file O(path) on the controller, then reads the certificates of the target server. When the
    server already holds that thumbprint nothing changes; otherwise it imports the file with
    C(Import-ExchangeCertificate -FileData) (the bytes, because Exchange Server 2016 CU23 and 2019 CU12 removed
    C(-FileName)) and reads the certificate back.
  - The certificate is imported with no service enabled. Enable SMTP with
    M(exchange.transport_tls.receive_connector_tls) or M(exchange.transport_tls.send_connector_tls), which keep the
    default SMTP certificate.
  - The private key is not exportable from the server unless O(private_key_exportable) is set.
  - Refuses, before anything runs, a file that is not PKCS#12 or holds no private key, and a password that does not
    open it; the message names the file and what would be valid.
  - Works on Mailbox and Edge Transport servers.
options:
  path:
    description:
      - The PKCS#12 file (.pfx or .p12) on the controller, with the certificate, its private key and, ideally, its chain.
    type: path
    required: true
  pfx_password:
    description:
      - The password that opens O(path). Never logged; it reaches the server only as the C(SecureString) that
        C(Import-ExchangeCertificate -Password) takes.
    type: str
  private_key_exportable:
    description:
      - Whether the private key may be exported from the server again (C(Export-ExchangeCertificate)).
    type: bool
    default: false
  server:
    description:
      - The Exchange server to import on, as C(Get-ExchangeServer) names it. Defaults to the inventory host name up to
        its first dot.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: Reads the store and reports whether it would import; imports nothing.
  diff_mode:
    support: full
    details: The certificate's presence in the store, before and after.
  platform:
    support: full
    platforms: windows
notes:
  - One launch when the certificate is already there, two when it is imported.
  - Every change is returned in RV(changes) (object type C(certificate_store), property C(InStore)), the shape the
    collection's change record takes.
seealso:
  - module: exchange.transport_tls.exchange_certificate_retire
  - name: Import-ExchangeCertificate
    description: Microsoft's reference of the cmdlet.
    link: https://learn.microsoft.com/powershell/module/exchange/import-exchangecertificate
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Put the renewed certificate on every transport server
  exchange.transport_tls.exchange_certificate_import:
    path: /srv/certificates/mail-2027.pfx
    pfx_password: "{{ vaulted_pfx_password }}"
  register: imported
"""

RETURN = r"""
server:
  description: The Exchange server acted on.
  returned: always
  type: str
  sample: EX01
thumbprint:
  description: The certificate's thumbprint, as C(Get-ExchangeCertificate) shows it.
  returned: when the file could be read
  type: str
  sample: 0F2D2E3C4B5A69788796A5B4C3D2E1F00112233A
subject:
  description: The certificate's subject, in the form Windows prints.
  returned: when the file could be read
  type: str
  sample: CN=mail.contoso.com
issuer:
  description: The certificate's issuer, in the form Windows prints.
  returned: when the file could be read
  type: str
  sample: CN=R11, O=Let's Encrypt, C=US
tls_certificate_name:
  description: The C(<I>issuer<S>subject) value a connector names this certificate with.
  returned: when the file could be read
  type: str
  sample: <I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com
not_after:
  description: When the certificate expires (UTC).
  returned: when the file could be read
  type: str
  sample: "2027-02-18T00:00:00Z"
state:
  description: C(present) when the server already held it, C(imported) when it was (or, in check mode, would be) imported.
  returned: when the store could be read
  type: str
  sample: imported
has_private_key:
  description: Whether the server's copy has its private key, as read from the server.
  returned: when the certificate is in the store
  type: bool
services:
  description: The services the certificate is enabled for on the server.
  returned: when the certificate is in the store
  type: str
  sample: None
changes:
  description: What changed (in check mode, what would change), in the change record's shape.
  returned: always
  type: list
  elements: dict
launches:
  description: PowerShell launches made on the server.
  returned: always
  type: int
  sample: 2
"""
