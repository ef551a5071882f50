# On each Edge Transport server (not in the domain), in an elevated Windows
# PowerShell: a local account for Ansible. Edge has no RBAC; its Exchange
# cmdlets need a local Administrator.
$password = Read-Host -AsSecureString -Prompt 'Password for ansible-edge'
New-LocalUser -Name 'ansible-edge' -Password $password -PasswordNeverExpires -Description 'exchange.transport_tls'
Add-LocalGroupMember -Group 'Administrators' -Member 'ansible-edge'

# Allows local accounts to be used with WinRM; Ansible's WinRM setup guide sets
# the same value (not needed for domain accounts).
New-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System' -Name 'LocalAccountTokenFilterPolicy' -Value 1 -PropertyType DWORD -Force
