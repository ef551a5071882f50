# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is exchange_command.ps1.

DOCUMENTATION = r"""
---
module: exchange_command
short_description: Run a batch of allow-listed Exchange cmdlets in one Exchange session
version_added: 0.1.0
description:
  - The one PowerShell payload of this collection. The collection's other modules are
    Python action plugins that decide what to do and call this module to do it, so that
    become, async, C(no_log) and check mode behave as they do for any Ansible module.
  - Opens one Exchange session on the target server (one PowerShell launch), runs O(steps)
    in order, and returns every object each step produced, flattened to JSON primitives.
  - On a Mailbox server the session is a Kerberos remote session to the server's own
    C(http://<FQDN>/powershell?serializationLevel=Full;ExchClientVer=<build>;clientApplication=ManagementShell),
    the endpoint Exchange Management Shell itself connects to, opened directly and never with
    C(Connect-ExchangeServer -Auto), which may bind to another server and ends in a prompt when
    none answers. See the session options.
  - Only these cmdlets run; any other is refused before anything runs, naming the cmdlet.
    C(Get-ExchangeServer), C(Get-ExchangeCertificate), C(Enable-ExchangeCertificate),
    C(Get-ReceiveConnector), C(Set-ReceiveConnector), C(Get-SendConnector),
    C(Set-SendConnector), C(Get-TransportService), C(Get-HybridConfiguration),
    C(Set-HybridConfiguration), C(Get-AuthConfig), C(Import-ExchangeCertificate),
    C(Remove-ExchangeCertificate), C(Get-WinEvent), and C(Restart-Service) for the transport
    services C(MSExchangeTransport) and C(MSExchangeFrontEndTransport) only.
  - The batch stops at the first step that fails (unless it sets O(steps[].continue_on_error))
    or whose O(steps[].guard) does not hold; later steps do not run, and the result says which
    step stopped the batch and why.
  - Each cmdlet accepts only the parameters listed under O(steps[].parameters), some only with
    the values listed there; any other parameter is refused before anything runs, naming it and
    the accepted ones. This module is an Exchange administration primitive with a narrow
    allow-list, not a sandbox.
  - No value is ever pasted into PowerShell source. Cmdlet names are checked against the
    allow-list and parameters are splatted, so values reach Exchange as data.
  - Runs only on Windows PowerShell 5.1, where the Exchange management tools load; on
    PowerShell 7 it fails before opening a session.
options:
  steps:
    description:
      - The cmdlets to run, in order, in one Exchange session.
    type: list
    elements: dict
    required: true
    suboptions:
      cmdlet:
        description:
          - The cmdlet name, one of the allow-list above (case-insensitive).
        type: str
        required: true
      parameters:
        description:
          - Parameters splatted onto the cmdlet. A value of V(true) for a switch
            parameter sets it (C(-Force:$true)).
          - Each cmdlet accepts only these parameters (the name in any case, each once), and the
            parameters marked "only" only those values (a list only of them). Anything else is
            refused before anything runs, naming the parameter and the accepted ones. That is another
            parameter of the cmdlet (C(AuthMechanism), C(RemoteIPRanges), C(SmartHosts), ...),
            a common parameter (C(ErrorAction) is always C(Stop); C(WhatIf), C(OutVariable), ...)
            and an abbreviation.
          - "C(Get-ExchangeServer): C(Identity), C(Status), C(DomainController)."
          - "C(Get-ExchangeCertificate): C(Server), C(Thumbprint), C(DomainController)."
          - "C(Enable-ExchangeCertificate): C(Server), C(Thumbprint), C(Services) (only V(SMTP)), C(Force) (only V(true)), C(DomainController)."
          - "C(Get-ReceiveConnector): C(Identity), C(Server), C(DomainController)."
          - "C(Set-ReceiveConnector): C(Identity), C(TlsCertificateName), C(DomainController)."
          - "C(Get-SendConnector): C(Identity), C(DomainController)."
          - "C(Set-SendConnector): C(Identity), C(TlsCertificateName), C(DomainController)."
          - "C(Get-TransportService): C(Identity), C(DomainController)."
          - "C(Get-HybridConfiguration): C(DomainController)."
          - "C(Set-HybridConfiguration): C(TlsCertificateName), C(DomainController)."
          - "C(Get-AuthConfig): C(DomainController)."
          - "C(Import-ExchangeCertificate): C(Server), C(FileData), C(PrivateKeyExportable), C(DomainController)."
          - "C(Remove-ExchangeCertificate): C(Server), C(Thumbprint), C(Confirm) (only V(false)), C(DomainController)."
          - "C(Get-WinEvent): C(LogName) (only V(Application)), C(FilterXPath), C(MaxEvents)."
          - "C(Restart-Service): C(Name) (only V(MSExchangeTransport) or V(MSExchangeFrontEndTransport))."
          - For C(Import-ExchangeCertificate), C(FileData) is the PKCS#12 file as a base64 string; the
            payload converts it to the C(Byte[]) the cmdlet takes. The password is not a step parameter
            but O(certificate_password).
          - For C(Get-WinEvent), a step that matches no event returns no objects instead of
            the cmdlet's C(NoMatchingEventsFound) error.
        type: dict
        default: {}
      properties:
        description:
          - Names of the properties to return for every object the step outputs.
          - Values are flattened. C(null) stays null; strings, booleans and numbers pass
            through; dates become UTC ISO 8601 strings (C(2026-11-27T12:00:00Z)); enums and
            flags become their name (C(IMAP, POP, IIS, SMTP)); byte arrays become base64;
            other collections become lists (a list even with one element), each element
            flattened the same way; any other object (C(SmtpX509Identifier), C(Fqdn),
            C(ADObjectId), ...) becomes its C(ToString()).
          - A property the object does not have is returned as null.
        type: list
        elements: str
        default: []
      guard:
        description:
          - Property name to expected value. The step must output exactly one object, and
            each named property, flattened as above, must equal the expected value
            (ordinal, case-sensitive string comparison; null matches only null).
          - When the guard does not hold, no later step runs and the module fails with
            RV(stop.reason=guard), so a write placed after a guarded read never overwrites a
            value someone else changed in between.
          - Expected values are strings or null.
        type: dict
      id:
        description:
          - A label for the step, echoed in the result so callers can find its output.
        type: str
      continue_on_error:
        description:
          - When this C(Get-*) step fails, record the error in its RV(steps[].error) and go
            on with the next step instead of stopping the batch. For reads whose absence the
            caller can live with, such as C(Get-HybridConfiguration), which does not exist on
            an Edge Transport server.
          - Refused on any other cmdlet, before anything runs, because a failed change must
            always stop the batch.
        type: bool
        default: false
  certificate_password:
    description:
      - The password of the PKCS#12 file an C(Import-ExchangeCertificate) step imports. The payload
        passes it to that cmdlet alone, as the C(SecureString) its C(Password) parameter takes.
      - Never logged (C(no_log)); it is not a step parameter, so it is not in the steps the result
        echoes either.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: partial
    details: Only C(Get-*) steps run in check mode; a batch with any other step fails before anything runs.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: windows
notes:
  - In check mode only C(Get-*) steps run; a batch with any other step fails before anything
    runs.
  - Most users do not call this module; use the collection's task modules and the
    P(exchange.transport_tls.connector_tls#role) role.
seealso:
  - name: Exchange PowerShell cmdlet reference
    description: Microsoft's documentation of the Exchange cmdlets.
    link: https://learn.microsoft.com/powershell/exchange/
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Read the connectors' certificate names
  exchange.transport_tls.exchange_command:
    steps:
      - cmdlet: Get-ReceiveConnector
        parameters:
          Server: EX01
        properties: [Identity, TlsCertificateName, Bindings]

- name: Set a connector's certificate only if nobody changed it since it was read
  exchange.transport_tls.exchange_command:
    steps:
      - cmdlet: Get-ReceiveConnector
        parameters:
          Identity: EX01\Default Frontend EX01
        properties: [TlsCertificateName]
        guard:
          TlsCertificateName: <I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com
      - cmdlet: Set-ReceiveConnector
        parameters:
          Identity: EX01\Default Frontend EX01
          TlsCertificateName: <I>CN=R12, O=Let's Encrypt, C=US<S>CN=mail.contoso.com
"""

RETURN = r"""
session:
  description: The session mode that was used.
  returned: when a session was opened
  type: str
  sample: remote
available_cmdlets:
  description:
    - The allow-listed cmdlets the session offers, in the spelling of the allow-list. An account's
      Exchange RBAC roles decide which Exchange cmdlets a remote session imports, so this shows what
      the account may run on this server.
    - When the session could not be opened, only the Windows cmdlets C(Get-WinEvent) and C(Restart-Service).
  returned: when the steps passed validation
  type: list
  elements: str
  sample: [Get-ExchangeServer, Get-ExchangeCertificate, Get-ReceiveConnector, Get-SendConnector, Get-TransportService,
           Get-HybridConfiguration, Get-WinEvent, Restart-Service]
session_error:
  description:
    - Why the Exchange session could not be opened, as Windows reported it. The C(msg) adds what it means.
  returned: when the session could not be opened
  type: dict
  contains:
    message:
      description: The error's message (from C(New-PSSession), C(Add-PSSnapin), ...).
      type: str
    error_id:
      description:
        - Its FullyQualifiedErrorId, such as C(1326,PSSessionOpenFailed); V(NoExchangeCmdlet) when the
          session opened but the account may run none of the Exchange cmdlets.
      type: str
    error_code:
      description: The Win32 or WinRM error code when there is one (V(5) access denied, V(1326) logon failure), else null.
      type: int
  sample:
    message: "Connecting to remote server ex01.contoso.com failed with the following error message : Access is denied."
    error_id: AccessDenied,PSSessionOpenFailed
    error_code: 5
steps:
  description: One entry per step that ran or was stopped, in order.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: The step's position in O(steps), from 0.
      type: int
    id:
      description: The step's O(steps[].id), or null.
      type: str
    cmdlet:
      description: The cmdlet as given.
      type: str
    status:
      description: V(ok), V(error) (the cmdlet failed), or V(guard_failed).
      type: str
    objects:
      description: The flattened objects the step output, each with the requested properties.
      type: list
      elements: dict
    warnings:
      description: Warning messages the cmdlet wrote.
      type: list
      elements: str
    error:
      description: The cmdlet's error message, when RV(steps[].status=error).
      type: str
    error_id:
      description: The error's FullyQualifiedErrorId, when RV(steps[].status=error).
      type: str
  sample:
    - index: 0
      id: null
      cmdlet: Get-ReceiveConnector
      status: ok
      objects:
        - Identity: EX01\Default Frontend EX01
          TlsCertificateName: <I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com
      warnings: []
      error: null
      error_id: null
stop:
  description: Why the batch stopped before its end, or null when every step ran.
  returned: always
  type: dict
  contains:
    index:
      description: The step that stopped the batch.
      type: int
    reason:
      description: V(error) or V(guard).
      type: str
    message:
      description: What happened, in words.
      type: str
    mismatches:
      description: For a guard, each property whose value differed, with the expected and the live value.
      type: list
      elements: dict
  sample:
    index: 0
    reason: guard
    message: "guard failed on step 0 (Get-ReceiveConnector): TlsCertificateName is '<I>A<S>CN=x' but '<I>B<S>CN=x' was expected"
    mismatches:
      - property: TlsCertificateName
        expected: <I>B<S>CN=x
        actual: <I>A<S>CN=x
changed:
  description: True when a step other than C(Get-*) completed.
  returned: always
  type: bool
computer_name:
  description:
    - The name of the computer the module ran on (C($env:COMPUTERNAME)), so a caller can check
      that it reached the Exchange server it meant.
  returned: always
  type: str
  sample: EX01
utc_now:
  description:
    - The server's clock when the module started, in UTC ISO 8601. Certificate validity is judged
      by this clock, the one Exchange uses.
  returned: always
  type: str
  sample: "2026-11-27T12:00:00Z"
"""
