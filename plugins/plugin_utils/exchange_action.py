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
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def is_host_name(text: str) -> bool:
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    return bool(text) and len(text) <= 253 and all(_LABEL.match(label) for label in labels)


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
        parts = urlsplit(uri)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not is_host_name(parts.hostname) or " " in uri:
            return (f"connection_uri must be the http:// or https:// URL of an Exchange PowerShell endpoint, such as "
                    f"http://ex01.contoso.com/PowerShell/, got {uri!r}")
        if username is None:
            return ("connection_uri is used only by an explicit-credential session: set username and password with it "
                    "(session=remote), or remove it")
    dc = args.get("domain_controller")
    if dc is not None and not is_host_name(dc):
        return f"domain_controller must be the host name or FQDN of a domain controller, such as dc01.contoso.com, got {dc!r}"
    return None


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

    def run_batch(self, steps: list[dict], args: dict, task_vars: dict) -> dict:
        """One PowerShell launch on the target host; raises BatchFailed when the payload fails."""
        module_args = {key: args.get(key) for key in SESSION_SPEC if args.get(key) is not None}
        module_args["steps"] = steps
        result = self._execute_module(module_name=PAYLOAD, module_args=module_args, task_vars=task_vars)
        if result.get("failed") or result.get("unreachable"):
            raise BatchFailed(result)
        return result


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
