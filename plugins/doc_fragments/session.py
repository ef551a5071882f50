# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):
    # How the collection's action modules reach Exchange: passed to exchange_command unchanged.
    DOCUMENTATION = r"""
options:
  session:
    description:
      - How to get the Exchange cmdlets on the target server (see M(exchange.transport_tls.exchange_command)).
      - V(auto) uses V(snapin) on an Edge Transport server and V(remote) on a Mailbox server.
      - V(snapin) loads the Exchange snap-ins; on a Mailbox server this bypasses RBAC, which Microsoft
        discourages outside recovery.
      - V(remote) opens the local Exchange Management Shell (C(Connect-ExchangeServer -Auto)), or, with
        O(username), a Kerberos session with those credentials to O(connection_uri).
    type: str
    choices: [auto, snapin, remote]
    default: auto
  connection_uri:
    description:
      - The Exchange PowerShell endpoint for V(remote) with O(username).
      - Defaults to C(http://<this server's FQDN>/PowerShell/).
    type: str
  username:
    description:
      - Account for an explicit-credential remote session (C(DOMAIN\user) or UPN), one answer to the
        WinRM double hop besides C(become).
    type: str
  password:
    description:
      - Password for O(username).
    type: str
  domain_controller:
    description:
      - Passed as C(-DomainController) to every Exchange cmdlet. Ignored on Edge servers.
    type: str
"""
