#!powershell

# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# The contract (options, flattening, guards, result) is the DOCUMENTATION in exchange_command.yml;
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
        certificate_password = @{ type = 'str'; no_log = $true }
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
    'Get-TransportService', 'Get-HybridConfiguration', 'Set-HybridConfiguration',
    'Test-EdgeSynchronization',
    'Get-AuthConfig', 'Import-ExchangeCertificate', 'Remove-ExchangeCertificate'
)
$allowedCmdlets = $exchangeCmdlets + @('Get-WinEvent', 'Restart-Service')
# What only reads (payload_contract.READ_CMDLETS): Get-*, and Test-EdgeSynchronization, a diagnostic that compares
# Active Directory with the Edge's AD LDS and changes neither.
$readCmdlets = @($allowedCmdlets | Where-Object { $_.StartsWith('Get-') }) + @('Test-EdgeSynchronization')
# The parameters each cmdlet accepts, and the only values some of them may take: the same table as
# plugins/plugin_utils/_payload/payload_contract.py (a unit test compares them). A cmdlet name alone is no
# boundary (Set-ReceiveConnector -AuthMechanism None turns TLS off), and a common parameter such as
# OutVariable would overwrite this script's own variables; neither is listed, so both are refused.
$allowedParameters = @{
    'Get-ExchangeServer' = @('Identity', 'Status', 'DomainController')
    'Get-ExchangeCertificate' = @('Server', 'Thumbprint', 'DomainController')
    'Enable-ExchangeCertificate' = @('Server', 'Thumbprint', 'Services', 'Force', 'DomainController')
    'Get-ReceiveConnector' = @('Identity', 'Server', 'DomainController')
    'Set-ReceiveConnector' = @('Identity', 'TlsCertificateName', 'DomainController')
    'Get-SendConnector' = @('Identity', 'DomainController')
    'Set-SendConnector' = @('Identity', 'TlsCertificateName', 'DomainController')
    'Get-TransportService' = @('Identity', 'DomainController')
    'Get-HybridConfiguration' = @('DomainController')
    'Set-HybridConfiguration' = @('TlsCertificateName', 'DomainController')
    'Test-EdgeSynchronization' = @('ExcludeRecipientTest', 'DomainController')
    'Get-AuthConfig' = @('DomainController')
    'Import-ExchangeCertificate' = @('Server', 'FileData', 'PrivateKeyExportable', 'DomainController')
    'Remove-ExchangeCertificate' = @('Server', 'Thumbprint', 'Confirm', 'DomainController')
    'Get-WinEvent' = @('LogName', 'FilterXPath', 'MaxEvents')
    'Restart-Service' = @('Name')
}
$allowedValues = @{
    'Enable-ExchangeCertificate' = @{ Services = @('SMTP', 'IIS'); Force = @($true) }
    'Test-EdgeSynchronization' = @{ ExcludeRecipientTest = @($true) }
    'Remove-ExchangeCertificate' = @{ Confirm = @($false) }
    'Get-WinEvent' = @{ LogName = @('Application') }
    'Restart-Service' = @{ Name = @('MSExchangeTransport', 'MSExchangeFrontEndTransport') }
}
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

# Why a step's parameters are refused, or nothing: names from $allowedParameters (any case, as the
# binder takes them, but once), values from $allowedValues. The wording is payload_contract.py's.
function Get-ParameterProblem {
    param ([int]$Index, $Step, [string]$Name)
    $accepted = $allowedParameters[$Name]
    $rules = $allowedValues[$Name]
    $seen = @{}
    foreach ($key in @($Step.parameters.Keys)) {
        $canonical = $accepted | Where-Object { $_ -eq $key } | Select-Object -First 1
        if (-not $canonical) {
            $hint = ''
            # The binder also takes the alias 'ea' and unique prefixes ('ErrorAct') for ErrorAction.
            if ($key -eq 'ea' -or ($key -and 'ErrorAction'.StartsWith($key, [System.StringComparison]::OrdinalIgnoreCase))) { $hint = ' (ErrorAction is always Stop)' }
            return "step $Index ($($Step.cmdlet)): parameter '$key' is not accepted$hint; $Name accepts only $($accepted -join ', ')"
        }
        # A hashtable splat ignores case, so {Identity: A, identity: B} would silently bind B.
        if ($seen.ContainsKey($canonical)) {
            return "step $Index ($($Step.cmdlet)): parameter '$key' is given twice (also as '$($seen[$canonical])'); parameter names ignore case"
        }
        $seen[$canonical] = $key
        if ($null -eq $rules -or -not $rules.ContainsKey($canonical)) { continue }
        $allowed = $rules[$canonical]
        $valid = @(foreach ($a in $allowed) { "$a" }) -join ', '
        $values = [System.Collections.Generic.List[object]]::new()
        $value = $Step.parameters[$key]
        if ($value -is [System.Collections.IList]) { foreach ($v in $value) { $values.Add($v) } } else { $values.Add($value) }
        if ($values.Count -eq 0) { return "step $Index ($($Step.cmdlet)): $canonical is an empty list; $canonical accepts only $valid" }
        foreach ($element in $values) {
            # Same type, then -eq: a string 'false' is not $true, and strings compare ignoring case.
            $matching = @($allowed | Where-Object { $null -ne $element -and $element.GetType() -eq $_.GetType() -and $element -eq $_ })
            if ($matching.Count -eq 0) {
                $shown = if ($element -is [bool]) { "$element" } elseif ($element -is [string]) { "'$element'" } else { 'this value' }
                return "step $Index ($($Step.cmdlet)): $canonical $shown is not accepted; $canonical accepts only $valid"
            }
        }
    }
}

# The endpoint Exchange's own shell connects to (_NewExchangeRunspace in bin\ConnectFunctions.ps1):
# serializationLevel=Full makes the server send the SerializationData from which the client rebuilds
# Exchange types; without it certificates arrive without Services, Status and IsSelfSigned
# (CSS-Exchange PRs #1200 and #2388). http, not https: Microsoft does not support HTTPS to the
# front-end /PowerShell endpoint (CSS-Exchange issue #2168), and Kerberos encrypts the session.
function Get-LocalSessionUri {
    param ($Setup)
    $fqdn = [System.Net.Dns]::GetHostEntry([string]::Empty).HostName
    $uri = "http://$fqdn/powershell?serializationLevel=Full"
    # ExchClientVer as _NewExchangeRunspace builds it from the Setup key, when all four parts are there.
    $parts = @(foreach ($part in 'MsiProductMajor', 'MsiProductMinor', 'MsiBuildMajor', 'MsiBuildMinor') {
            $property = if ($Setup) { $Setup.PSObject.Properties[$part] }
            if ($property -and $null -ne $property.Value) { $property.Value }
        })
    if ($parts.Count -eq 4) { $uri += ";ExchClientVer=$($parts -join '.')" }
    # ManagementShell is what Exchange Management Shell itself sends (Connect-ExchangeServer
    # -ClientApplication:ManagementShell): the server then treats this session as it treats EMS.
    return "$uri;clientApplication=ManagementShell"
}

# Loads the Exchange cmdlets: snap-ins on Edge; on Mailbox, returns the PSSession to import.
function Open-ExchangeSession {
    param ([string]$Mode, [string]$Uri, $Credential)
    $setupKey = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup'
    # SilentlyContinue: a missing key is an answer here, and the record stays out of the error stream.
    $setup = Get-ItemProperty -LiteralPath $setupKey -ErrorAction SilentlyContinue
    $installPath = $env:ExchangeInstallPath
    # MsiInstallPath when WinRM started before setup set the variable. Microsoft's scripts read the
    # variable themselves, so it is set for this process too.
    if (-not $installPath -and $setup -and $setup.PSObject.Properties['MsiInstallPath']) {
        $installPath = $setup.MsiInstallPath
        $env:ExchangeInstallPath = $installPath
    }
    if (-not $installPath) { throw "the Exchange install path is unknown: neither `$env:ExchangeInstallPath nor MsiInstallPath under $setupKey is set" }
    $bin = Join-Path -Path $installPath -ChildPath 'bin'
    if ($Mode -eq 'snapin') {
        # As Microsoft's Confirm-ExchangeShell (CSS-Exchange) loads an Edge shell.
        [xml]$console = Get-Content -LiteralPath (Join-Path -Path $bin -ChildPath 'exShell.psc1') -Raw -ErrorAction Stop
        foreach ($snapIn in $console.PSConsoleFile.PSSnapIns.PSSnapIn) { Add-PSSnapin -Name $snapIn.Name -ErrorAction Stop }
        Import-Module -Name (Join-Path -Path $bin -ChildPath 'Exchange.ps1') -ErrorAction Stop | Out-Null
        return $null
    }
    # RemoteExchange.ps1 runs for what it loads on the client, not to connect: it registers
    # Exchange's SerializationTypeConverter and prepends Exchange.types.ps1xml and
    # Exchange.partial.types.ps1xml, which is what rebuilds Exchange types from the SerializationData
    # a serializationLevel=Full session sends. Connect-ExchangeServer -Auto is not used: when the local
    # server does not answer it tries other servers and sites, then falls through to Read-Host, which
    # throws in a host-less runspace and hides the real error. Run with '&', in a child scope: type
    # data and the resolver are per runspace and per process, and none of the variables it sets can
    # overwrite this function's or the script's. Its errors are its own business (it reports, for
    # instance, a types file it could not load): SilentlyContinue and 2>$null keep them out of the
    # error stream, where ansible-core's module_wrapper.ps1 would turn each into a second JSON document.
    $remoteExchange = Join-Path -Path $bin -ChildPath 'RemoteExchange.ps1'
    if (-not (Test-Path -LiteralPath $remoteExchange)) { throw "$remoteExchange does not exist" }
    $ErrorActionPreference = 'SilentlyContinue'
    & $remoteExchange 2>$null | Out-Null
    $ErrorActionPreference = 'Stop'
    if (-not $Uri) { $Uri = Get-LocalSessionUri -Setup $setup }
    $script:sessionUri = $Uri
    # Kerberos to an FQDN; the account's own logon unless credentials were given (the double hop).
    if ($Credential) {
        return New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri $Uri -Authentication Kerberos -Credential $Credential -ErrorAction Stop
    }
    return New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri $Uri -Authentication Kerberos -ErrorAction Stop
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
    $problem = Get-ParameterProblem -Index $i -Step $step -Name $name
    if ($problem) { $module.FailJson($problem) }
    if ($step.continue_on_error -and $readCmdlets -notcontains $name) {
        $module.FailJson("step $i ($($step.cmdlet)): continue_on_error is accepted only on read steps (Get-*, Test-EdgeSynchronization); a failed change always stops the batch")
    }
    if ($module.CheckMode -and $readCmdlets -notcontains $name) {
        $module.FailJson("check mode: $($step.cmdlet) would change the server; in check mode exchange_command runs only read cmdlets (Get-*, Test-EdgeSynchronization)")
    }
    $names.Add($name)
}
$isEdge = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\EdgeTransportRole'
$mode = $module.Params.session
if ($mode -eq 'auto') { $mode = if ($isEdge) { 'snapin' } else { 'remote' } }
$credential = $sessionError = $sessionUri = $stop = $null
try {
    try {
        if ($mode -eq 'remote' -and $module.Params.username) {
            $password = ConvertTo-SecureString -String $module.Params.password -AsPlainText -Force
            $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $module.Params.username, $password
        }
        $session = Open-ExchangeSession -Mode $mode -Uri $module.Params.connection_uri -Credential $credential
        # Imported here, at the scope the steps run in, not inside the function.
        if ($session) { Import-PSSession -Session $session -CommandName $exchangeCmdlets -AllowClobber -DisableNameChecking -ErrorAction Stop | Out-Null }
        $module.Result.session = $mode
    }
    catch { $sessionError = $_ }

    # What this account can run here, in allow-list spelling: RBAC trims what Import-PSSession imports.
    $found = @(Get-Command -Name $allowedCmdlets -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
    $available = [System.Collections.Generic.List[string]]::new()
    foreach ($cmdlet in $allowedCmdlets) { if ($found -contains $cmdlet) { $available.Add($cmdlet) } }
    $module.Result.available_cmdlets = $available
    $noExchangeCmdlet = -not $sessionError -and -not @($exchangeCmdlets | Where-Object { $available -contains $_ }).Count

    for ($i = 0; $i -lt $steps.Count -and -not $sessionError -and -not $noExchangeCmdlet; $i++) {
        $step = $steps[$i]
        $name = $names[$i]
        # List[object], not @(): it stays a JSON list with one element or none.
        $entry = [ordered]@{ index = $i; id = $step.id; cmdlet = $step.cmdlet; status = 'ok'; objects = [System.Collections.Generic.List[object]]::new()
            warnings = [System.Collections.Generic.List[object]]::new(); error = $null; error_id = $null }
        $results.Add($entry)
        $params = @{}
        foreach ($key in $step.parameters.Keys) { $params[$key] = ConvertTo-SplatValue -Value $step.parameters[$key] }
        if ($module.Params.domain_controller -and -not $isEdge -and $exchangeCmdlets -contains $name) { $params.DomainController = $module.Params.domain_controller }
        if ($name -eq 'Import-ExchangeCertificate') {
            # JSON has no bytes: the PFX travels as base64 and the cmdlet takes a Byte[] (the 2016 CU23 and
            # 2019 CU12 cmdlets have no -FileName). The password is never a step parameter, so it is not in
            # the steps the result echoes; Ansible.Basic masks the no_log option wherever it appears.
            if ($params.ContainsKey('FileData')) { $params.FileData = [System.Convert]::FromBase64String([string]$params.FileData) }
            if ($module.Params.certificate_password) {
                $params.Password = ConvertTo-SecureString -String $module.Params.certificate_password -AsPlainText -Force
            }
        }
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
        if ($entry.status -ne 'error' -and $readCmdlets -notcontains $name) { $module.Result.changed = $true }

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
    # Every PSSession this run opened: an open one counts against the account's Exchange remote
    # PowerShell concurrency until it times out.
    Get-PSSession | Remove-PSSession -ErrorAction SilentlyContinue
}

# The facts of a failed session; the controller (exchange_action.session_failure_message) says what
# they mean. The Win32 or WinRM code is what Microsoft's own connect code tells cases apart by
# (5 access denied, 1326 logon failure).
if ($sessionError -or $noExchangeCmdlet) {
    $account = if ($module.Params.username) { " as $($module.Params.username)" } else { '' }
    $target = if ($sessionUri) { " to $sessionUri" } else { '' }
    $tried = "session=remote$account$target (Kerberos)"
    if ($mode -eq 'snapin') { $tried = 'session=snapin (snap-ins of bin\exShell.psc1, then bin\Exchange.ps1)' }
    if ($noExchangeCmdlet) {
        $module.Result.session_error = @{ message = 'the session opened, but none of the allow-listed Exchange cmdlets is available in it'
            error_id = 'NoExchangeCmdlet'; error_code = $null }
    }
    else {
        $errorCode = $null
        $exception = $sessionError.Exception
        if ($exception.PSObject.Properties['ErrorCode'] -and $exception.ErrorCode -is [int]) { $errorCode = $exception.ErrorCode }
        $module.Result.session_error = @{ message = $exception.Message; error_id = "$($sessionError.FullyQualifiedErrorId)"; error_code = $errorCode }
    }
    $module.FailJson("could not open the Exchange session, $tried`: $($module.Result.session_error.message)")
}
$module.Result.stop = $stop
if ($stop) { $module.FailJson($stop.message) }
$module.ExitJson()
