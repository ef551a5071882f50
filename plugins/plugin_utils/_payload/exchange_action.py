# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every action plugin of this collection shares: session options, the target server, one batch.

Each user-facing module is a Python action plugin that decides on the
controller and runs Exchange cmdlets through the one payload module,
exchange_command, via _execute_module: become, async, no_log and check mode
then work as for any module, and every PowerShell launch is one batch.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.payload_contract import steps_problem

PAYLOAD = "exchange.transport_tls.exchange_command"

# Options passed through to exchange_command unchanged; documented once in the
# exchange.transport_tls.session doc fragment.
SESSION_SPEC = {
    "session": {"type": "str", "choices": ["auto", "snapin", "remote"], "default": "auto"},
    "connection_uri": {"type": "str"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "domain_controller": {"type": "str"},
}
SESSION_REQUIRED_TOGETHER = [["username", "password"]]

# A host name: dot-separated labels of letters, digits, hyphens (and the underscore Windows
# tolerates in computer names), each at most 63 characters.
# fullmatch, not match with '$': '$' also matches before a trailing newline, so "EX01\n" would pass.
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def is_host_name(text: str) -> bool:
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    return bool(text) and len(text) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def type_problem(args: dict, spec: dict) -> str | None:
    """A list or dict given for a string option (or as an element of a list of strings), or None.

    Ansible's argument validation turns ["EX01"] into the string "['EX01']" without a word; such a
    value would then reach Exchange as a name no object has. Refused here, naming the option.
    """
    for name, option in spec.items():
        value = args.get(name)
        if value is None:
            continue
        if option.get("type", "str") in ("str", "path") and isinstance(value, (list, dict)):
            # Never echo a no_log option: a vault dict given as password would print the password.
            shown = " (not shown: the option is no_log)" if option.get("no_log") else f": {value!r}"
            return f"{name} must be a string, got a {_kind(value)}{shown}"
        if option.get("type") == "list" and option.get("elements") == "str" and isinstance(value, list):
            for element in value:
                if isinstance(element, (list, dict)):
                    return f"{name} must be a list of strings, but one element is a {_kind(element)}: {element!r}"
    return None


def checked_args(action: ActionBase, spec: dict, required_together: list | None = None) -> dict:
    """The task's options after type_problem and ansible-core's argument validation; raises AnsibleActionFail.

    Every action plugin of the collection validates this way, so a list given for a string
    option is refused by name before Ansible's conversion could hide it.
    """
    problem = type_problem(action._task.args, spec)  # pylint: disable=protected-access
    if problem:
        raise AnsibleActionFail(problem)
    _validated, args = action.validate_argument_spec(argument_spec=spec, required_together=required_together or [])
    return args


def _kind(value: object) -> str:
    return "dictionary" if isinstance(value, dict) else "list"


def session_problem(args: dict) -> str | None:
    """What is wrong with the session options beyond their types, or None."""
    username, password, uri = args.get("username"), args.get("password"), args.get("connection_uri")
    if username is not None:
        domain, _sep, user = username.partition("\\")
        local, _at, realm = username.partition("@")
        if not ((domain.strip() and user.strip() and "@" not in domain) or (local.strip() and realm.strip() and "\\" not in username)):
            return (f"username must be DOMAIN\\user or a UPN (user@contoso.com) for the explicit-credential session, "
                    f"got {username!r}")
        if password == "":
            return "password must not be empty when username is set"
        if args.get("session") == "snapin":
            return ("username and password open an explicit-credential remote session and cannot be combined with "
                    "session=snapin: use session=remote (or auto on a Mailbox server), or remove them")
    if uri is not None:
        problem = uri_problem(uri)
        if problem:
            return problem
        if username is None:
            return ("connection_uri is used only by an explicit-credential session: set username and password with it "
                    "(session=remote), or remove it")
    dc = args.get("domain_controller")
    if dc is not None and not is_host_name(dc):
        return f"domain_controller must be the host name or FQDN of a domain controller, such as dc01.contoso.com, got {dc!r}"
    return None


_URI_EXAMPLE = "http://ex01.contoso.com/powershell?serializationLevel=Full"


def uri_problem(uri: str) -> str | None:
    """What is wrong with a connection_uri, or None. Never echoes a URI that may hold a password."""
    if "@" in uri:
        # user:password@ would be shown in the task's invocation: connection_uri is not no_log.
        return ("connection_uri must not hold a user name or password (user:password@host): it is not a secret option"
                " and is shown in the task's invocation; set username and password instead (value not shown)")
    parts = urlsplit(uri)
    if parts.scheme.lower() == "https":
        return (f"connection_uri must use http://, got {uri!r}: Microsoft does not support HTTPS to Exchange's"
                " front-end /PowerShell endpoint (its virtual directory is deliberately left without SSL, CSS-Exchange"
                f" issue #2168), and Kerberos already encrypts the session. Use {_URI_EXAMPLE}")
    if parts.scheme.lower() != "http" or not parts.hostname or not is_host_name(parts.hostname) or any(c.isspace() for c in uri):
        return f"connection_uri must be the http:// URL of an Exchange PowerShell endpoint, such as {_URI_EXAMPLE}, got {uri!r}"
    settings = [item.strip().lower() for item in re.split(r"[;&]", parts.query)]
    if "serializationlevel=full" not in settings:
        return (f"connection_uri must ask for full serialization, as Exchange's own shell does: add"
                f" ?serializationLevel=Full, such as {_URI_EXAMPLE}; got {uri!r}. Without it Exchange sends"
                " certificates without Services, Status and IsSelfSigned, and nothing can be remediated")
    return None


# Win32 codes Microsoft's own connect code (ConnectFunctions.ps1, _NewExchangeRunspace) tells apart,
# and SEC_E_NO_CREDENTIALS (0x8009030E), what Kerberos reports when the logon it runs under has no
# credential to pass on: the second hop of a WinRM logon.
_ACCESS_DENIED, _LOGON_FAILURE, _NO_CREDENTIALS = 5, 1326, -2146893042
_RBAC = ("Check that the account holds an Exchange RBAC role with these cmdlets and is not denied remote PowerShell"
         " (Set-User -RemotePowerShellEnabled)")
_SECOND_HOP = ("Over WinRM the session to the server's own /PowerShell is a second hop, which Kerberos refuses for a"
               " logon without delegable credentials: use become (become_method: ansible.builtin.runas), or set"
               " username and password")


def session_failure_message(result: dict) -> str | None:
    """What exchange_command's failed session means, from the facts it returned (session_error), or None.

    The payload reports New-PSSession's own error (message, FullyQualifiedErrorId, Win32 or
    WinRM code); this says what that means and what to do. Used by the exchange_command action and
    by every batch run_batch launches.
    """
    error = result.get("session_error")
    if not isinstance(error, dict):
        return None
    code, error_id = error.get("error_code"), str(error.get("error_id") or "")
    text = f"{error.get('message') or ''} {error_id}".lower()
    credentials = "session=remote as " in str(result.get("msg") or "")
    if error_id == "NoExchangeCmdlet":
        meaning = f"The account's Exchange RBAC roles grant none of the cmdlets this collection runs. {_RBAC}."
    elif code == _LOGON_FAILURE or "1326" in error_id:
        meaning = ("Logon failure (Win32 error 1326): the user name or password is wrong, or the account is locked out"
                   " or disabled. Check username and password.")
    elif code == _ACCESS_DENIED or error_id.lower().startswith("accessdenied"):
        meaning = f"Access is denied (Win32 error 5): the account was authenticated but may not open this session. {_RBAC}."
        if not credentials:
            meaning += f" {_SECOND_HOP}."
    elif code == _NO_CREDENTIALS or "0x8009030e" in text:
        meaning = (f"Kerberos had no credentials to pass on (0x8009030E). {_SECOND_HOP}." if not credentials else
                   "Kerberos had no credentials for this account (0x8009030E): check that the account exists in the"
                   " domain and that connection_uri names the server by an FQDN Kerberos can use, not an IP address.")
    elif "session=snapin" in str(result.get("msg") or ""):
        meaning = ("Check that this is an Exchange server with the management tools, its install path"
                   " ($env:ExchangeInstallPath, or MsiInstallPath under HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup),"
                   " that the snap-ins load in 64-bit Windows PowerShell, and that the account is a local Administrator.")
    else:
        said = ", ".join(part for part in (f"code {code}" if code is not None else "", error_id) if part) or "no code"
        meaning = f"The error does not say which cause it is ({said}). {_RBAC}."
        meaning += (" Check that connection_uri names the server by an FQDN Kerberos can use, not an IP address, and the password."
                    if credentials else f" {_SECOND_HOP}.")
    return f"{result.get('msg')}. {meaning}"


class BatchFailed(Exception):
    """exchange_command failed; ``result`` is what it returned (steps, stop, msg, unreachable)."""

    def __init__(self, result: dict):
        super().__init__(result.get("msg") or "exchange_command failed")
        self.result = result


class ExchangeActionBase(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    def validate_options(self, spec: dict, required_together: list | None = None) -> dict:
        """The task's options checked against ``spec`` and the session rules; raises AnsibleActionFail naming the option."""
        args = checked_args(self, spec, required_together)
        problem = session_problem(args)
        if problem:
            raise AnsibleActionFail(problem)
        return args

    def server_name(self, requested: str | None, task_vars: dict) -> str:
        """The Exchange server to act on: the option, else the inventory host name up to its first dot."""
        if requested is not None:
            if not is_host_name(requested) or _is_address(requested):
                raise ValueError(
                    f"server must be an Exchange server name as Get-ExchangeServer shows it (letters, digits and hyphens,"
                    f" such as EX01), got {requested!r}; omit it to use the inventory host name"
                )
            return requested
        host = str(task_vars.get("inventory_hostname", ""))
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host.split(".", 1)[0]
        raise ValueError(
            f"the inventory host name {host!r} is an IP address, which cannot name an Exchange server: "
            "set the option server to this host's Exchange server name (as Get-ExchangeServer shows it)"
        )

    def run_batch(self, steps: list[dict], args: dict, task_vars: dict, extra: dict | None = None) -> dict:
        """One PowerShell launch on the target host; raises BatchFailed when the payload fails.

        ``extra``: more exchange_command options (certificate_password for an import), passed as they are.
        """
        # The collection's own steps must pass the payload's allow-lists; one that does not is a bug
        # here, and would otherwise cost a launch and come back as a user-facing refusal.
        problem = steps_problem(steps)
        if problem:
            raise AnsibleActionFail(f"internal error, please report it: this module built a step exchange_command refuses: {problem}")
        module_args = {key: args.get(key) for key in SESSION_SPEC if args.get(key) is not None}
        module_args["steps"] = steps
        module_args.update(extra or {})
        result = self._execute_module(module_name=PAYLOAD, module_args=module_args, task_vars=task_vars)
        if result.get("failed") or result.get("unreachable"):
            explained = session_failure_message(result)
            if explained:
                result["msg"] = explained
            raise BatchFailed(result)
        return result


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
