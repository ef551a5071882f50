# Local rights on each Mailbox server, in an elevated Windows PowerShell.

# The audit reads transport TLS events 12014, 12016 and 12018 from the
# Application log (Get-WinEvent) as the account the connection logs on with.
# Without this right the audit still runs and reports facts_incomplete;
# event_hours: 0 skips the read.
Add-LocalGroupMember -Group 'Event Log Readers' -Member 'CONTOSO\svc-exchange-tls-audit'

# The account that connects for remediation: a local Administrator, as become
# (runas) requires, and as restarting MSExchangeFrontEndTransport or
# MSExchangeTransport will require.
Add-LocalGroupMember -Group 'Administrators' -Member 'CONTOSO\svc-exchange-tls'

# become (runas) needs the Secondary Logon service; it must not be disabled.
Get-Service -Name seclogon | Select-Object -Property 'Name', 'Status', 'StartType'
