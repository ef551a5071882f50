# Which management roles hold each Exchange cmdlet the collection runs, and who
# is assigned those roles: Microsoft's procedure "Find the permissions required
# to run any Exchange cmdlet", for every cmdlet at once, then a check that the
# role groups of rbac-role-groups.ps1 cover what each account needs.
# Run in the Exchange Management Shell on a Mailbox server.
$needs = [ordered]@{
    'Get-ExchangeServer'         = 'audit'
    'Get-ExchangeCertificate'    = 'audit'
    'Get-ReceiveConnector'       = 'audit'
    'Get-SendConnector'          = 'audit'
    'Get-TransportService'       = 'audit'
    'Get-HybridConfiguration'    = 'audit'
    'Enable-ExchangeCertificate' = 'remediation'
    'Set-ReceiveConnector'       = 'remediation'
    'Set-SendConnector'          = 'remediation'
    'Set-HybridConfiguration'    = 'remediation with update_hybrid_configuration'
}
$rows = foreach ($cmdlet in $needs.Keys) {
    foreach ($role in Get-ManagementRole -Cmdlet $cmdlet) {
        foreach ($assignment in Get-ManagementRoleAssignment -Role $role.Name -Delegating $false) {
            [pscustomobject]@{
                Use              = $needs[$cmdlet]
                Cmdlet           = $cmdlet
                Role             = $role.Name
                RoleAssigneeType = $assignment.RoleAssigneeType
                RoleAssigneeName = $assignment.RoleAssigneeName
            }
        }
    }
}
$rows | Sort-Object -Property 'Cmdlet', 'Role', 'RoleAssigneeName' | Format-Table -AutoSize

# The audit group needs the audit cmdlets; the remediation group needs them all.
foreach ($cmdlet in $needs.Keys) {
    $groups = @('Transport TLS Remediation')
    if ($needs[$cmdlet] -eq 'audit') { $groups += 'Transport TLS Audit' }
    foreach ($group in $groups) {
        if (-not ($rows | Where-Object { $_.Cmdlet -eq $cmdlet -and $_.RoleAssigneeName -eq $group })) {
            Write-Warning "$group has no role with $cmdlet ($($needs[$cmdlet]))"
        }
    }
}
