#!powershell

# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# The contract (options, flattening, guards, result) is the DOCUMENTATION in exchange_command.py;
# every Exchange decision is made in Python on the controller. This file opens one Exchange session,
# runs allow-listed cmdlets and flattens their output. No task value ever becomes PowerShell source
# (nothing evaluates a string as code, no script block is made from text): code built from strings
# could run anything, so cmdlet names are matched against the literals below and parameters are
# splatted as data.

$spec = @{
    options = @{
        steps = @{
            type = 'list'; elements = 'dict'; required = $true
            options = @{
                cmdlet = @{ type = 'str'; required = $true }
                parameters = @{ type = 'dict'; default = @{} }
                properties = @{ type = 'list'; elements = 'str'; default = @() }
                guard = @{ type = 'dict' }
                id = @{ type = 'str' }
                continue_on_error = @{ type = 'bool'; default = $false }
            }
        }
        session = @{ type = 'str'; choices = @('auto', 'snapin', 'remote'); default = 'auto' }
        connection_uri = @{ type = 'str' }
        username = @{ type = 'str' }
        password = @{ type = 'str'; no_log = $true }
        domain_controller = @{ type = 'str' }
    }
    required_together = @(, @('username', 'password'))
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
# Which computer answered and its clock: callers check they reached the server they meant, and
# judge certificate validity by the clock Exchange itself uses.
$module.Result.computer_name = $env:COMPUTERNAME
$module.Result.utc_now = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture)

# The Exchange snap-ins and RemoteExchange.ps1 are .NET Framework code: they do not load in pwsh.
if ($PSVersionTable.PSEdition -eq 'Core') {
    $module.FailJson("exchange_command needs Windows PowerShell 5.1 (powershell.exe), where the Exchange management tools load; this is PowerShell $($PSVersionTable.PSVersion) (Core)")
}

# Get-WinEvent and Restart-Service are Windows cmdlets: not imported from Exchange, no -DomainController.
$exchangeCmdlets = @(
    'Get-ExchangeServer', 'Get-ExchangeCertificate', 'Enable-ExchangeCertificate',
    'Get-ReceiveConnector', 'Set-ReceiveConnector', 'Get-SendConnector', 'Set-SendConnector',
    'Get-TransportService', 'Get-HybridConfiguration', 'Set-HybridConfiguration'
)
$allowedCmdlets = $exchangeCmdlets + @('Get-WinEvent', 'Restart-Service')
$restartableServices = @('MSExchangeTransport', 'MSExchangeFrontEndTransport')
$numberTypes = @([byte], [sbyte], [int16], [uint16], [int32], [uint32], [int64], [uint64], [single], [double], [decimal])

# Flattens one value as DOCUMENTATION says. Ansible.Basic serialises the result with Windows
# PowerShell 5.1's ConvertTo-Json, which would write dates as \/Date(ms)\/ and enums as integers.
function ConvertTo-FlatValue {
    param ($Value)
    if ($null -eq $Value) { return $null }
    # Over remoting an enum arrives as its integer tagged 'Deserialized.*'; its ToString() keeps the name.
    if ($Value -is [System.Enum] -or $Value.PSObject.TypeNames -contains 'Deserialized.System.Enum') { return $Value.ToString() }
    if ($Value -is [string] -or $Value -is [bool] -or $numberTypes -contains $Value.GetType()) { return $Value.PSObject.BaseObject }
    if ($Value -is [datetime]) {
        # InvariantCulture: in a custom format ':' is the culture's time separator and 'yyyy' counts
        # in the culture's calendar (th-TH is Buddhist), so the server's culture must not apply.
        return $Value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($Value -is [byte[]]) { return [System.Convert]::ToBase64String($Value) }
    if ($Value -is [System.Collections.IDictionary]) { return $Value.ToString() }
    if ($Value -is [System.Collections.IEnumerable]) {
        # A List[object] and the leading comma: PowerShell unrolls a returned collection into its
        # elements (or into nothing), and JSON needs a list even of one element or none.
        $list = [System.Collections.Generic.List[object]]::new()
        foreach ($item in $Value) { $list.Add((ConvertTo-FlatValue -Value $item)) }
        return , $list
    }
    # SmtpX509Identifier, Fqdn, ADObjectId, ...; on a deserialized object this is the remote ToString().
    return $Value.ToString()
}

function Get-FlatProperty {
    param ($InputObject, [string]$Name)
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    ConvertTo-FlatValue -Value $property.Value
}

# Module arguments arrive as JSON types (ArrayList, Dictionary[string,object]). Give cmdlets what a
# typed command line gives them, object[] for '-P a,b' and hashtable for '@{Add=...}': the shapes
# Exchange's MultiValuedProperty parameters are documented with.
function ConvertTo-SplatValue {
    param ($Value)
    if ($Value -is [System.Collections.IDictionary]) {
        $table = @{}; foreach ($key in $Value.Keys) { $table[$key] = ConvertTo-SplatValue -Value $Value[$key] }; return $table
    }
    if ($Value -is [System.Collections.IList]) { return , @(foreach ($item in $Value) { ConvertTo-SplatValue -Value $item }) }
    return $Value
}

# Loads the Exchange cmdlets; for an explicit-credential session returns the PSSession to import.
function Open-ExchangeSession {
    param ([string]$Mode, [string]$Uri, $Credential)
    # Microsoft's scripts are written for the interactive default; under the module's 'Stop' a benign
    # error inside them would abort the load. Success is checked at the end instead.
    $ErrorActionPreference = 'Continue'
    $errorCount = $Error.Count
    $installPath = $env:ExchangeInstallPath
    $setupKey = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
    if (-not $installPath -and (Test-Path -LiteralPath $setupKey)) {
        $installPath = (Get-ItemProperty -LiteralPath $setupKey -ErrorAction Stop).MsiInstallPath
    }
    if (-not $installPath) { throw "the Exchange install path is unknown: neither `$env:ExchangeInstallPath nor MsiInstallPath under $setupKey is set" }
    $bin = Join-Path -Path $installPath -ChildPath 'bin'
    if ($Mode -eq 'snapin') {
        # As Microsoft's Confirm-ExchangeShell (CSS-Exchange) loads an Edge shell.
        [xml]$console = Get-Content -LiteralPath (Join-Path -Path $bin -ChildPath 'exShell.psc1') -Raw -ErrorAction Stop
        foreach ($snapIn in $console.PSConsoleFile.PSSnapIns.PSSnapIn) { Add-PSSnapin -Name $snapIn.Name -ErrorAction Stop }
        Import-Module -Name (Join-Path -Path $bin -ChildPath 'Exchange.ps1') -ErrorAction Stop | Out-Null
    }
    else {
        # Dot-sourced in this function so the variables it sets cannot overwrite the script's. It also
        # loads the Exchange types, so deserialized certificates keep Services and Status.
        $remoteExchange = Join-Path -Path $bin -ChildPath 'RemoteExchange.ps1'
        if (-not (Test-Path -LiteralPath $remoteExchange)) { throw "$remoteExchange does not exist" }
        . $remoteExchange | Out-Null
        if ($Uri) {
            return New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri $Uri -Authentication Kerberos -Credential $Credential -ErrorAction Stop
        }
        Connect-ExchangeServer -Auto -ClientApplication:ManagementShell | Out-Null
    }
    if (-not (Get-Command -Name $exchangeCmdlets -ErrorAction SilentlyContinue)) {
        # $Error is newest first: the oldest error since the start is the likely cause.
        $newErrors = $Error.Count - $errorCount
        $firstError = if ($newErrors -gt 0) { " (first error: $($Error[$newErrors - 1]))" }
        throw "no Exchange cmdlet is available after loading the Exchange shell$firstError"
    }
}

$results = [System.Collections.Generic.List[object]]::new()
$module.Result.steps = $results
$module.Result.stop = $null

# Validate every step before running any, so a refused batch changes nothing.
$steps = $module.Params.steps
$names = [System.Collections.Generic.List[string]]::new()
for ($i = 0; $i -lt $steps.Count; $i++) {
    $step = $steps[$i]
    # -eq on strings ignores case; the allow-listed literal, not the task's text, is what runs.
    $name = $allowedCmdlets | Where-Object { $_ -eq $step.cmdlet } | Select-Object -First 1
    if (-not $name) {
        $module.FailJson("step $i`: cmdlet '$($step.cmdlet)' is not allowed; exchange_command runs only $($allowedCmdlets -join ', ')")
    }
    $keys = @($step.parameters.Keys)
    foreach ($key in $keys) {
        # The binder also takes the alias 'ea' and unique prefixes ('ErrorAct') for ErrorAction.
        if ($key -eq 'ea' -or ($key -and 'ErrorAction'.StartsWith($key, [System.StringComparison]::OrdinalIgnoreCase))) {
            $module.FailJson("step $i ($($step.cmdlet)): parameter '$key' is not accepted; ErrorAction is always Stop")
        }
    }
    if ($name -eq 'Restart-Service') {
        $services = @()
        if ($keys.Count -eq 1 -and $keys[0] -eq 'Name') { $services = @($step.parameters[$keys[0]]) }
        if ($services.Count -eq 0 -or @($services | Where-Object { $restartableServices -notcontains $_ }).Count -gt 0) {
            $module.FailJson("step $i ($($step.cmdlet)): only the parameter Name with $($restartableServices -join ' or ') is accepted")
        }
    }
    if ($step.continue_on_error -and -not $name.StartsWith('Get-')) {
        $module.FailJson("step $i ($($step.cmdlet)): continue_on_error is accepted only on Get-* steps; a failed change always stops the batch")
    }
    if ($module.CheckMode -and -not $name.StartsWith('Get-')) {
        $module.FailJson("check mode: $($step.cmdlet) would change the server; in check mode exchange_command runs only Get-* cmdlets")
    }
    $names.Add($name)
}

$isEdge = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\EdgeTransportRole'
$mode = $module.Params.session
if ($mode -eq 'auto') { $mode = if ($isEdge) { 'snapin' } else { 'remote' } }
$uri = $credential = $sessionError = $stop = $null
try {
    try {
        if ($mode -eq 'remote' -and $module.Params.username) {
            $uri = $module.Params.connection_uri
            if (-not $uri) { $uri = "http://$([System.Net.Dns]::GetHostEntry([string]::Empty).HostName)/PowerShell/" }
            $password = ConvertTo-SecureString -String $module.Params.password -AsPlainText -Force
            $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $module.Params.username, $password
        }
        $session = Open-ExchangeSession -Mode $mode -Uri $uri -Credential $credential
        # Imported here, at the scope the steps run in, not inside the function.
        if ($session) { Import-PSSession -Session $session -CommandName $exchangeCmdlets -AllowClobber -DisableNameChecking -ErrorAction Stop | Out-Null }
        $module.Result.session = $mode
    }
    catch { $sessionError = $_ }

    for ($i = 0; $i -lt $steps.Count -and -not $sessionError; $i++) {
        $step = $steps[$i]
        $name = $names[$i]
        # List[object], not @(): it stays a JSON list with one element or none.
        $entry = [ordered]@{ index = $i; id = $step.id; cmdlet = $step.cmdlet; status = 'ok'; objects = [System.Collections.Generic.List[object]]::new()
            warnings = [System.Collections.Generic.List[object]]::new(); error = $null; error_id = $null }
        $results.Add($entry)
        $params = @{}
        foreach ($key in $step.parameters.Keys) { $params[$key] = ConvertTo-SplatValue -Value $step.parameters[$key] }
        if ($module.Params.domain_controller -and -not $isEdge -and $exchangeCmdlets -contains $name) { $params.DomainController = $module.Params.domain_controller }
        $live = @(); $stepWarnings = $null
        try {
            # A command object, not a string: for a remote session this is Import-PSSession's proxy.
            $command = Get-Command -Name $name -ErrorAction Stop
            # Stop turns the non-terminating errors Exchange cmdlets report failures with into an
            # exception, so a failed step is never mistaken for one that found nothing.
            $live = @(& $command @params -ErrorAction Stop -WarningVariable stepWarnings | Where-Object { $null -ne $_ })
            foreach ($object in $live) {
                $flat = [ordered]@{}
                foreach ($property in $step.properties) { $flat[$property] = Get-FlatProperty -InputObject $object -Name $property }
                $entry.objects.Add($flat)
            }
        }
        catch {
            if (-not ($name -eq 'Get-WinEvent' -and "$($_.FullyQualifiedErrorId)".StartsWith('NoMatchingEventsFound'))) {
                $entry.status = 'error'
                $entry.error = $_.Exception.Message
                $entry.error_id = $_.FullyQualifiedErrorId
                if (-not $step.continue_on_error) {
                    $stop = [ordered]@{ index = $i; reason = 'error'; message = "step $i ($($step.cmdlet)) failed: $($_.Exception.Message)"
                        mismatches = [System.Collections.Generic.List[object]]::new() }
                }
            }
        }
        foreach ($warning in @($stepWarnings)) { if ($null -ne $warning) { $entry.warnings.Add([string]$warning) } }
        if ($entry.status -ne 'error' -and -not $name.StartsWith('Get-')) { $module.Result.changed = $true }

        if (-not $stop -and $null -ne $step.guard) {
            $mismatches = [System.Collections.Generic.List[object]]::new()
            $problems = [System.Collections.Generic.List[string]]::new()
            if ($live.Count -ne 1) { $problems.Add("expected exactly one object, got $($live.Count)") }
            else {
                foreach ($property in $step.guard.Keys) {
                    $expected = $step.guard[$property]
                    $actual = Get-FlatProperty -InputObject $live[0] -Name $property
                    # Ordinal, case-sensitive; null matches only null.
                    if ($null -eq $expected -or $null -eq $actual) { $same = $null -eq $expected -and $null -eq $actual }
                    else { $same = [string]$actual -ceq [string]$expected }
                    if (-not $same) {
                        $mismatches.Add([ordered]@{ property = $property; expected = $expected; actual = $actual })
                        $shown = foreach ($v in @($actual, $expected)) { if ($null -eq $v) { 'null' } else { "'$v'" } }
                        $problems.Add("$property is $($shown[0]) but $($shown[1]) was expected")
                    }
                }
            }
            if ($problems.Count -gt 0) {
                $entry.status = 'guard_failed'
                $stop = [ordered]@{ index = $i; reason = 'guard'; message = "guard failed on step $i ($($step.cmdlet)): $($problems -join '; ')"; mismatches = $mismatches }
            }
        }
        if ($stop) { break }
    }
}
finally {
    # Every PSSession this run opened (ours or Connect-ExchangeServer's): an open one counts against
    # the account's Exchange remote PowerShell concurrency until it times out.
    Get-PSSession | Remove-PSSession -ErrorAction SilentlyContinue
}

if ($sessionError) {
    $tried = 'session=remote (bin\RemoteExchange.ps1, Connect-ExchangeServer -Auto)'
    $check = 'that the account holds an Exchange RBAC role with these cmdlets and is not denied remote PowerShell (RemotePowerShellEnabled)'
    if ($mode -eq 'snapin') {
        $tried = 'session=snapin (snap-ins of bin\exShell.psc1, then bin\Exchange.ps1)'
        $check = 'that this is an Exchange server with the management tools, its install path ($env:ExchangeInstallPath, or MsiInstallPath under HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup), that the snap-ins load in 64-bit Windows PowerShell, and that the account is a local Administrator'
    }
    elseif ($module.Params.username) {
        $tried = "session=remote as $($module.Params.username) to $uri (Kerberos)"
        $check = "connection_uri (an FQDN Kerberos can use, not an IP address), the password, and $check"
    }
    else { $check += '. Over WinRM the session to /PowerShell is a second hop, which fails without delegated credentials: use become with runas, or set username and password' }
    $module.FailJson("could not open the Exchange session, $tried`: $($sessionError.Exception.Message). Check $check.", $sessionError)
}
$module.Result.stop = $stop
if ($stop) { $module.FailJson($stop.message) }
$module.ExitJson()
