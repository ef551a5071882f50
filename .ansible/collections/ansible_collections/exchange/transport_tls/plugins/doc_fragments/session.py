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
        from the Exchange install path, as Exchange's own Edge shell does. Meant for Edge Transport
        servers. On a Mailbox server it bypasses RBAC, and Microsoft supports it there only for
        recovery.
      - V(remote) opens a Kerberos remote session to the Mailbox server's own
        C(http://<FQDN>/powershell?serializationLevel=Full;ExchClientVer=<build>;clientApplication=ManagementShell),
        the endpoint Exchange Management Shell connects to, and imports the allow-listed cmdlets
        from it. C(bin\RemoteExchange.ps1) is loaded first for Exchange's type data, which turns the
        full serialization back into Exchange objects; C(Connect-ExchangeServer -Auto) is not used,
        because it may bind to another server, site or build and ends in a prompt when none answers.
      - The session runs as the task's account (over WinRM the session to the server's own
        endpoint is a second hop, so use C(become) with C(ansible.builtin.runas)), or as O(username)
        with O(password).
      - When the session cannot be opened, the module returns Windows' own error and says what it
        means (access denied, logon failure, the second hop).
    type: str
    choices: [auto, snapin, remote]
    default: auto
  connection_uri:
    description:
      - The Exchange PowerShell endpoint for V(remote) with O(username), an C(http://) URL that asks for
        full serialization, such as C(http://ex01.contoso.com/powershell?serializationLevel=Full).
      - Without C(serializationLevel=Full) Exchange sends certificates without Services, Status and
        IsSelfSigned, so such a URI is refused. C(https://) is refused too, since Microsoft does not support
        HTTPS to the front-end C(/PowerShell) endpoint, and Kerberos already encrypts the session.
        A URI with a user name or password in it is refused; use O(username) and O(password).
      - Defaults to the server's own endpoint, as for V(remote).
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
