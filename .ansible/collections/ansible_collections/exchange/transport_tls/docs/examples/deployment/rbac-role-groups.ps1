# Role groups for the collection's service accounts. Run in the Exchange
# Management Shell on a Mailbox server, as a member of Organization Management.
# The role names are Exchange's built-in management roles; Microsoft documents
# what each role is for, not which cmdlets it holds, so run rbac-check.ps1
# afterwards: it lists the roles that hold each cmdlet in your organization.

# Read-only audit: exchange_certificate_facts, and check mode of the other modules.
New-RoleGroup -Name 'Transport TLS Audit' -Roles 'View-Only Configuration' -Members 'svc-exchange-tls-audit' -Description 'exchange.transport_tls: read-only transport TLS audit'

# Remediation: receive_connector_tls and send_connector_tls.
New-RoleGroup -Name 'Transport TLS Remediation' -Roles 'View-Only Configuration', 'Exchange Server Certificates', 'Receive Connectors', 'Send Connectors' -Members 'svc-exchange-tls' -Description 'exchange.transport_tls: transport TLS remediation'

# When View-Only Configuration does not hold Get-ExchangeCertificate, give the
# audit group a read-only copy of a role that does, made as Microsoft's
# New-ManagementRole example makes a view-only Journaling role.
$certificateRoles = @(Get-ManagementRole -Cmdlet Get-ExchangeCertificate | ForEach-Object { $_.Name })
if ($certificateRoles -notcontains 'View-Only Configuration') {
    $parent = if ($certificateRoles -contains 'Exchange Server Certificates') { 'Exchange Server Certificates' } else { $certificateRoles[0] }
    New-ManagementRole -Name 'Transport TLS Certificates (read)' -Parent $parent
    Get-ManagementRoleEntry 'Transport TLS Certificates (read)\*' | Where-Object { $_.Name -ne 'Get-ExchangeCertificate' } | ForEach-Object { Remove-ManagementRoleEntry -Identity "$($_.Id)\$($_.Name)" -Confirm:$false }
    New-ManagementRoleAssignment -Role 'Transport TLS Certificates (read)' -SecurityGroup 'Transport TLS Audit'
}

# Only for send_connector_tls with update_hybrid_configuration: a role that holds
# Set-HybridConfiguration. Review which one rbac-check.ps1 shows before you assign it.
$updateHybridConfiguration = $false
if ($updateHybridConfiguration) {
    $hybridRole = Get-ManagementRole -Cmdlet Set-HybridConfiguration | Select-Object -First 1
    New-ManagementRoleAssignment -Role $hybridRole.Name -SecurityGroup 'Transport TLS Remediation'
}
