"""The `exchange-lab` command: `serve` a scenario over WinRM and SMTP, or `check` scenario files."""

from __future__ import annotations

import argparse
import asyncio
import sys


def check_command(paths: list[str]) -> int:
    """Validate scenario files: one line per file, 0 if all load, else 1.

    Valid files are reported on stdout as "<file>: ok (<n> servers, <m>
    certificates, <k> receive connectors, <j> send connectors)"; every problem
    of an invalid file goes to stderr as "<file>:<line>: <key>: <message>".
    A file that is well-formed but cannot be built (a subject Windows would
    print differently, two identical certificates on one server) is reported
    as "<file>: <where>: <message>".
    """
    from exchange_lab.model import ModelError, Organization
    from exchange_lab.scenario import ScenarioError, load_scenario

    status = 0
    for path in paths:
        try:
            scenario = load_scenario(path)
            Organization(scenario)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            status = 1
            continue
        except ModelError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        servers = scenario["servers"]
        certificates = sum(len(s["certificates"]) for s in servers)
        receive = sum(len(s["receive_connectors"]) for s in servers)
        send = len(scenario["send_connectors"])
        print(f"{path}: ok ({len(servers)} servers, {certificates} certificates, "
              f"{receive} receive connectors, {send} send connectors)")
    return status


def serve_command(args: argparse.Namespace) -> int:
    from exchange_lab.model import ModelError
    from exchange_lab.scenario import ScenarioError
    from exchange_lab.server import Lab, serve

    try:
        lab = Lab(
            args.scenario,
            state_path=args.state,
            inventory_path=args.inventory,
            journal_path=args.journal,
            host=args.host,
            username=args.username,
            password=args.password,
            winrm_read_timeout=args.winrm_read_timeout,
        )
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ModelError as exc:
        print(f"{args.scenario}: {exc}", file=sys.stderr)
        return 1
    asyncio.run(serve(lab))
    return 0


def _loopback(value: str) -> str:
    import ipaddress

    try:
        if ipaddress.ip_address(value) in ipaddress.ip_network("127.0.0.0/8"):
            return value
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{value!r}: the lab listens on an IPv4 loopback address (127.0.0.0/8) only")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="exchange-lab",
        description="A simulated Exchange fleet behind a real WinRM endpoint (see lab/README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve_p = sub.add_parser("serve", help="serve a scenario until SIGINT/SIGTERM")
    serve_p.add_argument("scenario", help="scenario file (format v1)")
    serve_p.add_argument("--inventory", required=True, help="write an Ansible INI inventory here once every server listens")
    serve_p.add_argument("--state", help="write the live state (a scenario) here after every change and at exit")
    serve_p.add_argument("--journal", help="append one JSON line per PowerShell launch (cmdlets and parameters received)")
    serve_p.add_argument("--host", default="127.0.0.1", type=_loopback, help="loopback address to listen on (default 127.0.0.1)")
    serve_p.add_argument("--username", default="lab-admin", help="WinRM Basic user (default lab-admin)")
    serve_p.add_argument("--password", help="WinRM password (default: a new random one per run, written to the inventory)")
    serve_p.add_argument(
        "--winrm-read-timeout", type=int, metavar="SECONDS",
        help="put ansible_winrm_read_timeout_sec in the inventory (shortens the wait on a 'timeout' fault)",
    )
    check_p = sub.add_parser("check", help="validate scenario files")
    check_p.add_argument("scenarios", nargs="+")

    args = parser.parse_args(argv)
    if args.command == "check":
        return check_command(args.scenarios)
    return serve_command(args)


if __name__ == "__main__":
    sys.exit(main())
