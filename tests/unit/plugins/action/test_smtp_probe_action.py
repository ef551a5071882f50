"""smtp_tls_probe's action plugin: in-process on the controller, the module anywhere else.

The role probes from the controller (delegate_to: localhost); running the module
there cost a Python start per host. Delegated to any other host, or with become,
the module must still run on that host, so the probe leaves from where the user
asked.
"""

from __future__ import annotations

import socket
import threading
from unittest import mock

import pytest

from ansible_collections.exchange.transport_tls.plugins.action import smtp_tls_probe as action_mod


def make_action(args: dict, transport: str = "local", become: bool = False) -> action_mod.ActionModule:
    task = mock.MagicMock()
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = False
    task.action = "exchange.transport_tls.smtp_tls_probe"
    connection = mock.MagicMock()
    connection.transport = transport
    connection._shell.tmpdir = "/tmp/unused"
    play_context = mock.MagicMock()
    play_context.become = become
    action = action_mod.ActionModule(task, connection, play_context, loader=mock.MagicMock(),
                                     templar=mock.MagicMock(), shared_loader_obj=mock.MagicMock())
    action._execute_module = mock.MagicMock(return_value={"changed": False, "ran": "module"})
    return action


class _Banner(threading.Thread):
    """An SMTP server that offers no STARTTLS: enough to show the probe ran in this process."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]

    def run(self):
        conn, _address = self.sock.accept()
        with conn:
            conn.sendall(b"220 ex01.contoso.com Microsoft ESMTP MAIL Service ready\r\n")
            reader = conn.makefile("rb")
            for line in reader:
                if line.upper().startswith(b"EHLO"):
                    conn.sendall(b"250-ex01.contoso.com Hello\r\n250 SIZE 37748736\r\n")
                elif line.upper().startswith(b"QUIT"):
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    break
        self.sock.close()


def test_on_the_controller_the_probe_runs_in_process():
    server = _Banner()
    server.start()
    action = make_action({"host": "127.0.0.1", "port": server.port, "timeout": 5})
    result = action.run(task_vars={})
    server.join(5)
    action._execute_module.assert_not_called()
    assert not result.get("failed"), result
    assert result["starttls_offered"] is False and result["tls_established"] is False
    assert result["banner"].startswith("220 ex01.contoso.com")


@pytest.mark.parametrize("transport, become", [("ssh", False), ("winrm", False), ("local", True)])
def test_elsewhere_or_with_become_the_module_runs_there(transport, become):
    action = make_action({"host": "mail.contoso.com"}, transport=transport, become=become)
    result = action.run(task_vars={"inventory_hostname": "jump01"})
    action._execute_module.assert_called_once()
    assert action._execute_module.call_args.kwargs["module_name"] == "exchange.transport_tls.smtp_tls_probe"
    assert action._execute_module.call_args.kwargs["module_args"] == {"host": "mail.contoso.com"}
    assert result["ran"] == "module"


@pytest.mark.parametrize("args, words", [
    ({"host": "127.0.0.1", "port": 70000}, "port must be between 1 and 65535"),
    ({"host": "127.0.0.1", "wait_timeout": 5}, "wait_timeout needs expect_thumbprint"),
    ({"host": ["ex01", "ex02"]}, "host must be a string, got a list"),
    ({"host": "127.0.0.1", "colour": "blue"}, "colour"),
    ({"port": 25}, "host"),
])
def test_bad_options_fail_in_process_naming_the_option(args, words):
    action = make_action(args)
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result["failed"] and words in result["msg"], result


def test_a_closed_port_fails_with_every_result_key():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = make_action({"host": "127.0.0.1", "port": port, "timeout": 2}).run(task_vars={})
    assert result["failed"] and result["connected"] is False and result["starttls_offered"] is False
    assert str(port) in result["msg"] or "refused" in result["msg"].lower()
