# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the PFX and its password reach Import-ExchangeCertificate, checked on the payload's syntax tree.

No Windows here: these tests parse exchange_command.ps1 and fail when its structure breaks the rule
(bytes as base64, converted for Import-ExchangeCertificate's FileData alone; the password only from the
no_log option, as a SecureString, for that cmdlet alone, never in the result). That a real
Import-ExchangeCertificate takes them is on the first-real-server list (docs/verify-environment.md).
"""

from __future__ import annotations

import re

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract

from .test_powershell import MODULE_PS1, parse, walk

SOURCE = MODULE_PS1.read_bytes()
TREE = parse(SOURCE)
IMPORT_BRANCH = "if ($name -eq 'Import-ExchangeCertificate')"


def nodes(kind: str, containing: str) -> list:
    return [n for n in walk(TREE.root_node) if n.type == kind and containing in n.text.decode()]


def import_branch():
    found = [n for n in walk(TREE.root_node) if n.type == "if_statement" and n.text.decode().startswith(IMPORT_BRANCH)]
    assert len(found) == 1, f"expected one '{IMPORT_BRANCH}' block in the payload, found {len(found)}"
    return found[0]


def inside(node, outer) -> bool:
    return outer.start_byte <= node.start_byte and node.end_byte <= outer.end_byte


def test_file_data_is_converted_from_base64_only_for_import():
    conversions = nodes("invokation_expression", "FromBase64String")
    assert [c.text.decode() for c in conversions] == ["[System.Convert]::FromBase64String([string]$params.FileData)"]
    assert inside(conversions[0], import_branch())


def test_the_certificate_password_becomes_a_securestring_only_for_import():
    uses = [n for n in walk(TREE.root_node) if n.type == "command" and "certificate_password" in n.text.decode()]
    assert len(uses) == 1, [u.text.decode() for u in uses]
    assert uses[0].text.decode() == "ConvertTo-SecureString -String $module.Params.certificate_password -AsPlainText -Force"
    assert inside(uses[0], import_branch())
    # Every other mention is the option's spec or the test whether it is set.
    mentions = [m.start() for m in re.finditer(rb"certificate_password", SOURCE)]
    assert len(mentions) == 3


def test_the_certificate_password_option_is_no_log_and_never_put_in_the_result():
    text = SOURCE.decode()
    assert re.search(r"certificate_password = @\{ type = 'str'; no_log = \$true \}", text)
    results = [line for line in text.splitlines() if "$module.Result" in line and "password" in line.lower()]
    assert results == []


def test_no_cmdlet_takes_password_or_file_name_as_a_step_parameter():
    for cmdlet, accepted in payload_contract.PARAMETERS.items():
        assert "Password" not in accepted and "FileName" not in accepted, cmdlet
    assert payload_contract.PARAMETERS["Import-ExchangeCertificate"] == ("Server", "FileData", "PrivateKeyExportable", "DomainController")


def test_remove_is_always_sent_with_confirm_false():
    problem = payload_contract.parameter_problem(0, {"cmdlet": "Remove-ExchangeCertificate",
                                                     "parameters": {"Thumbprint": "AB", "Confirm": True}})
    assert problem == "step 0 (Remove-ExchangeCertificate): Confirm True is not accepted; Confirm accepts only False"
    assert payload_contract.parameter_problem(0, {"cmdlet": "Remove-ExchangeCertificate",
                                                  "parameters": {"Thumbprint": "AB", "Confirm": False}}) is None
