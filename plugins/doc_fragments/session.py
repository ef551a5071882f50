# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):
    # exchange_command's session options; the action modules take the same ones and pass them through.
    DOCUMENTATION = r"""
options:
  session:
    description:
      - How to get the Exchange cmdlets on the target server.
      - V(auto) uses V(snapin) on an Edge Transport server and V(remote) on a Mailbox server.
      - V(snapin) loads the snap-ins listed in C(bin\exShell.psc1) and C(bin\Exchange.ps1)
        from the Exchange install path. On a Mailbox server this bypasses RBAC, which
        Microsoft discourages outside recovery.
      - V(remote) loads C(bin\RemoteExchange.ps1) and runs
        C(Connect-ExchangeServer -Auto -ClientApplication:ManagementShell), or, when
        O(username) is set, opens a Kerberos session with those credentials to
        O(connection_uri) (the answer to the double hop besides C(become)).
    type: str
    choices: [auto, snapin, remote]
    default: auto
  connection_uri:
    description:
      - The Exchange PowerShell endpoint for V(remote) with O(username), an C(http://) or C(https://) URL.
      - Defaults to C(http://<this server's FQDN>/PowerShell/).
      - Only with O(username) and O(password); without them it is refused, since nothing would use it.
    type: str
  username:
    description:
      - Account for an explicit-credential remote session (C(DOMAIN\user) or UPN).
      - Needs O(password). Refused with O(session=snapin), which opens no remote session.
    type: str
  password:
    description:
      - Password for O(username); not empty.
    type: str
  domain_controller:
    description:
      - Passed as C(-DomainController) to every Exchange cmdlet (not to C(Get-WinEvent) or
        C(Restart-Service)). Ignored on Edge, which has no domain controller.
      - A host name or FQDN, such as C(dc01.contoso.com).
    type: str
"""
