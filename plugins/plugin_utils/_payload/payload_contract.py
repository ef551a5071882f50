# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What exchange_command.ps1 lets a step do: its cmdlets, and per cmdlet the parameters and values.

A cmdlet name alone is no safety boundary: through an allow-listed cmdlet one
could turn TLS off on an Internet-facing connector (AuthMechanism, RequireTLS),
open a relay (PermissionGroups, RemoteIPRanges), redirect mail (SmartHosts,
AddressSpaces), bind a certificate to IIS (Services IIS), or pass a common
parameter that changes the payload itself (OutVariable overwrites the
payload's variables and skips a guard, WhatIf reports a change that did not
happen, Get-WinEvent -ComputerName/-Path authenticates outbound). So each
cmdlet accepts only the parameters this collection sends; common parameters
and unique prefixes are then refused because they are not listed.

This table is the one source on the controller. exchange_command.ps1 holds
the same table as a literal (a unit test parses it and compares), the lab's
payload refuses with this module's words, and the module's DOCUMENTATION
lists it (a unit test compares that too).
"""

from __future__ import annotations

from typing import Any, Optional

# Windows cmdlets: not imported from Exchange, never given -DomainController.
WINDOWS_CMDLETS = ("Get-WinEvent", "Restart-Service")
EXCHANGE_CMDLETS = (
    "Get-ExchangeServer", "Get-ExchangeCertificate", "Enable-ExchangeCertificate",
    "Get-ReceiveConnector", "Set-ReceiveConnector", "Get-SendConnector", "Set-SendConnector",
    "Get-TransportService", "Get-HybridConfiguration", "Set-HybridConfiguration",
    "Test-EdgeSynchronization",
    "Get-AuthConfig", "Import-ExchangeCertificate", "Remove-ExchangeCertificate",
)
CMDLETS = EXCHANGE_CMDLETS + WINDOWS_CMDLETS
# What only reads: every Get-* cmdlet, and Test-EdgeSynchronization, a diagnostic that compares Active
# Directory with the Edge's AD LDS and reports (Microsoft Learn, Test-EdgeSynchronization). These alone
# run in check mode and may continue_on_error; a batch of them never reports changed.
READ_CMDLETS = tuple(name for name in CMDLETS if name.startswith("Get-")) + ("Test-EdgeSynchronization",)

# cmdlet -> the parameters a step may pass, in the spelling of Microsoft's cmdlet reference.
# DomainController is accepted on every Exchange cmdlet: a caller may pin the domain controller
# a read-back must ask (the option domain_controller sets it on every step).
PARAMETERS: dict[str, tuple[str, ...]] = {
    "Get-ExchangeServer": ("Identity", "Status", "DomainController"),
    "Get-ExchangeCertificate": ("Server", "Thumbprint", "DomainController"),
    "Enable-ExchangeCertificate": ("Server", "Thumbprint", "Services", "Force", "DomainController"),
    "Get-ReceiveConnector": ("Identity", "Server", "DomainController"),
    "Set-ReceiveConnector": ("Identity", "TlsCertificateName", "DomainController"),
    "Get-SendConnector": ("Identity", "DomainController"),
    "Set-SendConnector": ("Identity", "TlsCertificateName", "DomainController"),
    "Get-TransportService": ("Identity", "DomainController"),
    "Get-HybridConfiguration": ("DomainController",),
    "Set-HybridConfiguration": ("TlsCertificateName", "DomainController"),
    "Test-EdgeSynchronization": ("ExcludeRecipientTest", "DomainController"),
    "Get-AuthConfig": ("DomainController",),
    # FileData: the PFX as a base64 string, which the payload turns into the Byte[] the cmdlet takes. The
    # password is no step parameter: it is the module's no_log option certificate_password, which the
    # payload passes as -Password (a SecureString) to Import-ExchangeCertificate alone.
    "Import-ExchangeCertificate": ("Server", "FileData", "PrivateKeyExportable", "DomainController"),
    # Confirm: only false. Removal is ConfirmImpact High and would prompt, which fails without a host.
    "Remove-ExchangeCertificate": ("Server", "Thumbprint", "Confirm", "DomainController"),
    "Get-WinEvent": ("LogName", "FilterXPath", "MaxEvents"),
    "Restart-Service": ("Name",),
}

# cmdlet -> parameter -> the only values it may take (each element, for a list). Strings compare
# ignoring case, as PowerShell binds them; a boolean must be that boolean, not a string.
# Services: SMTP, IIS, or a list of both (one name per element, as PowerShell binds an array to the
# AllowedServices flags; a comma-joined string is refused, so one form is checked). SMTP is what the
# remediation enables; IIS only when the rollout is asked to (connector_tls_rollout_services): it binds
# the certificate to the Default Web Site's HTTPS (OWA, ECP, EWS, Autodiscover). No other service.
VALUES: dict[str, dict[str, tuple[Any, ...]]] = {
    "Enable-ExchangeCertificate": {"Services": ("SMTP", "IIS"), "Force": (True,)},
    "Test-EdgeSynchronization": {"ExcludeRecipientTest": (True,)},
    "Remove-ExchangeCertificate": {"Confirm": (False,)},
    "Get-WinEvent": {"LogName": ("Application",)},
    "Restart-Service": {"Name": ("MSExchangeTransport", "MSExchangeFrontEndTransport")},
}


def cmdlet_name(given: Any) -> Optional[str]:
    """The allow-list spelling of ``given`` (case-insensitive), or None."""
    if not isinstance(given, str):
        return None
    return next((name for name in CMDLETS if name.lower() == given.lower()), None)


def _shown(value: Any) -> str:
    # As the payload shows a value: a string quoted, a boolean as PowerShell prints it.
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return f"'{value}'"
    return "this value"


def _same(value: Any, allowed: Any) -> bool:
    if isinstance(allowed, bool):
        return value is allowed
    return isinstance(value, str) and value.lower() == allowed.lower()


def cmdlet_problem(index: int, step: dict) -> Optional[str]:
    """The payload's refusal of a step's cmdlet, or None."""
    if cmdlet_name(step.get("cmdlet")) is None:
        return f"step {index}: cmdlet '{step.get('cmdlet')}' is not allowed; exchange_command runs only {', '.join(CMDLETS)}"
    return None


def parameter_problem(index: int, step: dict) -> Optional[str]:
    """The payload's refusal of a step's parameters (names, name-case duplicates, values), or None.

    The first problem in the order the payload checks them: parameters in the order given,
    each by name, then as a duplicate, then by value.
    """
    given, name = step.get("cmdlet"), cmdlet_name(step.get("cmdlet"))
    parameters = {} if step.get("parameters") is None else step.get("parameters")
    if name is None or not isinstance(parameters, dict):
        return None
    accepted = PARAMETERS[name]
    rules = VALUES.get(name, {})
    seen: dict[str, str] = {}
    for key, value in parameters.items():
        canonical = next((p for p in accepted if p.lower() == str(key).lower()), None)
        if canonical is None:
            hint = ""
            # The binder takes the alias 'ea' and unique prefixes ('ErrorAct') for ErrorAction too.
            if str(key).lower() == "ea" or (key and "erroraction".startswith(str(key).lower())):
                hint = " (ErrorAction is always Stop)"
            return f"step {index} ({given}): parameter '{key}' is not accepted{hint}; {name} accepts only {', '.join(accepted)}"
        if canonical.lower() in seen:
            return (f"step {index} ({given}): parameter '{key}' is given twice (also as '{seen[canonical.lower()]}');"
                    " parameter names ignore case")
        seen[canonical.lower()] = str(key)
        if canonical in rules:
            allowed = rules[canonical]
            values = value if isinstance(value, list) else [value]
            valid = ", ".join(_shown(a).strip("'") for a in allowed)
            if not values:
                return f"step {index} ({given}): {canonical} is an empty list; {canonical} accepts only {valid}"
            for element in values:
                if not any(_same(element, a) for a in allowed):
                    return f"step {index} ({given}): {canonical} {_shown(element)} is not accepted; {canonical} accepts only {valid}"
    return None


def steps_problem(steps: Any) -> Optional[str]:
    """The first cmdlet or parameter refusal in a batch, as the payload words it, or None.

    Steps of a shape Ansible.Basic will refuse (not a list, not a dictionary, a cmdlet that is
    not a string) are left to it, so its message names the option.
    """
    if not isinstance(steps, list) or not all(
            isinstance(step, dict) and isinstance(step.get("cmdlet"), str) and (step.get("parameters") is None or isinstance(step.get("parameters"), dict))
            for step in steps):
        return None
    for index, step in enumerate(steps):
        problem = cmdlet_problem(index, step) or parameter_problem(index, step)
        if problem:
            return problem
    return None
