"""What exchange_command.ps1 does on a real server, done against the model.

The contract is the module's DOCUMENTATION/RETURN (its sidecar plugins/modules/
exchange_command.yml); the option spec is read from there so the lab validates
arguments exactly as documented, with Ansible.Basic's messages. The lab runs a
module only when the source Ansible sent is byte-for-byte the collection's own
exchange_command.ps1, so the payload and this simulation cannot drift apart
silently.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.util
import pathlib
import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload import payload_contract

from .cmdlets import CMDLETS, CmdletError, Context, run_cmdlet
from .model import Organization, Server

COLLECTION_ROOT = pathlib.Path(__file__).resolve().parents[2]
PAYLOAD_PATH = COLLECTION_ROOT / "plugins" / "modules" / "exchange_command.ps1"
DOC_PATH = COLLECTION_ROOT / "plugins" / "modules" / "exchange_command.yml"
PAYLOAD_SCRIPT_NAME = "ansible_collections.exchange.transport_tls.plugins.modules.exchange_command.ps1"

# What the payload runs is its allow-list (payload_contract, the same table as the .ps1), not every
# cmdlet the lab models: cmdlets/ keeps Exchange's wider parameter sets, as real Exchange accepts them.
ALLOW_LIST = [CMDLETS[name.lower()].name for name in payload_contract.CMDLETS]
EXCHANGE_CMDLETS = list(payload_contract.EXCHANGE_CMDLETS)
_ALLOWED_BY_LOWER = {n.lower(): n for n in ALLOW_LIST}
NO_LOG = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def _documentation(path: pathlib.Path, attribute: str = "DOCUMENTATION") -> dict:
    if path.suffix == ".yml":  # a module's documentation sidecar
        return yaml.safe_load(path.read_text(encoding="utf-8"))[attribute]
    spec = importlib.util.spec_from_file_location(f"_lab_doc_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    holder = module.ModuleDocFragment if attribute == "fragment" else module
    return yaml.safe_load(holder.DOCUMENTATION)


def load_option_spec(doc_path: pathlib.Path = DOC_PATH) -> dict:
    """The module's options as ansible-doc shows them: its own plus its doc fragments'."""
    doc = _documentation(doc_path)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        if not fragment.startswith("exchange.transport_tls."):
            continue  # ansible.builtin.action_common_attributes: attribute descriptions, no options
        name = fragment.rpartition(".")[2]
        fragment_path = doc_path.parents[1] / "doc_fragments" / f"{name}.py"
        options.update(_documentation(fragment_path, "fragment")["options"])
    return options


# -- argument validation, as Ansible.Basic does it ---------------------------


class ArgumentError(Exception):
    pass


def _convert(name: str, value: Any, kind: str, context: list[str]) -> Any:
    where = f" found in {' -> '.join(context)}" if context else ""

    def fail(reason: str) -> ArgumentError:
        return ArgumentError(
            f"argument for {name} is of type {_dotnet_type(value)} and we were unable to convert to {kind}: {reason}{where}"
        )

    if kind == "str":
        if isinstance(value, (dict, list)):
            raise fail("value is not a string")
        return value if isinstance(value, str) else str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("yes", "true", "on", "1", "no", "false", "off", "0"):
            return value.lower() in ("yes", "true", "on", "1")
        raise fail("The value is not a valid boolean")
    if kind == "int":
        if isinstance(value, bool):
            raise fail("not an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise fail("not an integer") from None
    if kind == "list":
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [v.strip() for v in value.split(",")]
        if isinstance(value, dict):
            raise fail("value is a dictionary")
        return [value]
    if kind == "dict":
        if isinstance(value, dict):
            return value
        raise fail("value is not a dictionary")
    return value


def _dotnet_type(value: Any) -> str:
    return {
        str: "System.String",
        bool: "System.Boolean",
        int: "System.Int32",
        float: "System.Double",
        list: "System.Collections.ArrayList",
        dict: "System.Collections.Hashtable",
    }.get(type(value), "System.Object")


def validate(options: dict, given: dict, module_name: str, context: list[str] | None = None) -> dict:
    context = context or []
    where = f" found in {' -> '.join(context)}" if context else ""
    legal = {k.lower(): k for k in options}
    params: dict[str, Any] = {}
    unsupported = []
    for key, value in given.items():
        if not context and key.startswith("_ansible_"):
            continue
        name = legal.get(key.lower())
        if name is None:
            unsupported.append(key)
        else:
            params[name] = value
    if unsupported:
        raise ArgumentError(
            f"Unsupported parameters for ({module_name}) module: {', '.join(sorted(unsupported))}{where}. "
            f"Supported parameters include: {', '.join(sorted(options))}"
        )
    missing = [k for k, o in options.items() if o.get("required") and params.get(k) is None]
    if missing:
        raise ArgumentError(f"missing required arguments: {', '.join(missing)}{where}")
    for name, option in options.items():
        value = params.get(name)
        if value is None:
            params[name] = option.get("default")
            continue
        kind = option.get("type", "str")
        value = _convert(name, value, kind, context)
        if kind == "list" and option.get("elements"):
            value = [_convert(f"list entry {name}", v, option["elements"], context) for v in value]
            if option.get("suboptions"):
                value = [
                    validate(option["suboptions"], v, module_name, context + [name]) for v in value
                ]
        if option.get("choices"):
            allowed = [str(c) for c in option["choices"]]
            if str(value).lower() not in [a.lower() for a in allowed]:
                raise ArgumentError(
                    f"value of {name} must be one of: {', '.join(allowed)}. Got no match for: {value}{where}"
                )
        params[name] = value
    return params


def load_no_log_options(payload_path: pathlib.Path = PAYLOAD_PATH) -> set[str]:
    """Option names the payload's own spec marks no_log (DOCUMENTATION has no such field)."""
    text = payload_path.read_text(encoding="utf-8")
    return set(re.findall(r"(\w+)\s*=\s*@\{[^{}]*\bno_log\s*=\s*\$true", text, re.IGNORECASE))


def remove_no_log_values(value: Any, secrets: set[str]) -> Any:
    """Ansible.Basic's RemoveNoLogValues: a secret value becomes a marker, one inside a string is starred."""
    if isinstance(value, dict):
        return {k: remove_no_log_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [remove_no_log_values(v, secrets) for v in value]
    if value is None:
        return None
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text in secrets:
        return NO_LOG
    if isinstance(value, (bool, int, float)):
        return NO_LOG if any(secret in text for secret in secrets) else value
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


# -- flattening, as ConvertTo-FlatValue does ---------------------------------


def flatten(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple, set)):
        return [flatten(v) for v in value]
    return str(value)


def _project(obj: dict, properties: list[str]) -> dict:
    lowered = {k.lower(): k for k in obj}
    return {p: flatten(obj.get(lowered.get(p.lower(), p))) for p in properties}


# -- the run -------------------------------------------------------------------


class PayloadRunner:
    def __init__(self, org: Organization, payload_path: pathlib.Path = PAYLOAD_PATH, doc_path: pathlib.Path = DOC_PATH):
        self.org = org
        self.payload_path = payload_path
        self.options = load_option_spec(doc_path)
        self.no_log = load_no_log_options(payload_path)

    def expected_source(self) -> bytes:
        # Read per run so an edited payload is noticed rather than silently trusted.
        return self.payload_path.read_bytes()

    def check_source(self, source: str) -> str | None:
        expected = self.expected_source()
        received = source.encode("utf-8")
        if received == expected:
            return None
        return (
            f"exchange-lab refuses to run exchange_command: the module Ansible sent (sha256 "
            f"{hashlib.sha256(received).hexdigest()[:16]}) is not this lab's {self.payload_path} (sha256 "
            f"{hashlib.sha256(expected).hexdigest()[:16]}). Start the lab from the same checkout as the collection."
        )

    def run(self, server: Server, module_args: dict, check_mode: bool) -> tuple[dict, int, list[dict]]:
        """Returns (module result, exit code, journal entries for each step)."""
        result, rc, journal = self._run(server, module_args, check_mode)
        # As Ansible.Basic: no_log values are masked in the invocation and the message.
        secrets = {str(module_args[k]) for k in module_args if k in self.no_log and module_args[k] not in (None, "")}
        result["invocation"] = {"module_args": remove_no_log_values(
            {k: v for k, v in module_args.items() if not k.startswith("_ansible_")}, secrets)}
        if "msg" in result:
            result["msg"] = remove_no_log_values(result["msg"], secrets)
        return result, rc, journal

    def _run(self, server: Server, module_args: dict, check_mode: bool) -> tuple[dict, int, list[dict]]:
        module_name = module_args.get("_ansible_module_name") or "exchange_command"
        result: dict[str, Any] = {"changed": False}
        journal: list[dict] = []
        try:
            params = validate(self.options, module_args, module_name)
        except ArgumentError as exc:
            return self._fail(result, str(exc)), 1, journal
        # As the payload does right after Ansible.Basic accepted the arguments.
        result["computer_name"] = server.name.upper()
        result["utc_now"] = flatten(self.org.clock.now())
        if (params.get("username") is None) != (params.get("password") is None):
            return self._fail(result, "parameters are required together: username, password"), 1, journal
        steps = params["steps"]
        result["steps"], result["stop"] = [], None
        problem = _validate_steps(steps, check_mode)
        if problem:
            return self._fail(result, problem), 1, journal
        with self.org.lock:
            server.launches += 1
            cmdlets = [_ALLOWED_BY_LOWER[s["cmdlet"].lower()] for s in steps]
            session = "snapin" if params["session"] == "snapin" or (params["session"] == "auto" and server.is_edge) else "remote"
            if take_fault(server, "snapin_missing", cmdlets):
                # The Windows cmdlets are there; no Exchange cmdlet is.
                result["available_cmdlets"] = list(payload_contract.WINDOWS_CMDLETS)
                message, result["session_error"] = _session_failure(session, params, server)
                return self._fail(result, message), 1, journal
            result["session"] = session
            result["available_cmdlets"] = list(ALLOW_LIST)
            if any(c not in payload_contract.READ_CMDLETS for c in cmdlets):
                fault = take_fault(server, "concurrent_change", cmdlets)
                if fault:
                    self._apply_concurrent_change(server, fault)
            out_steps: list[dict] = result["steps"]
            for index, (step, cmdlet) in enumerate(zip(steps, cmdlets, strict=True)):
                entry = {
                    "index": index,
                    "id": step.get("id"),
                    "cmdlet": step["cmdlet"],
                    "status": "ok",
                    "objects": [],
                    "warnings": [],
                    "error": None,
                    "error_id": None,
                }
                out_steps.append(entry)
                parameters = dict(step["parameters"])
                if params.get("domain_controller") and cmdlet in EXCHANGE_CMDLETS and not server.is_edge:
                    parameters["DomainController"] = params["domain_controller"]
                journal.append({"cmdlet": cmdlet, "parameters": parameters})
                ctx = Context(self.org, server)
                try:
                    call = sum(1 for c in cmdlets[:index + 1] if c == cmdlet)
                    fault = take_fault(server, ("access_denied", "cmdlet_error"), [cmdlet], first=index == 0, call=call)
                    if fault is not None:
                        raise _fault_error(fault["kind"], cmdlet, server, self.org)
                    if cmdlet == "Import-ExchangeCertificate":
                        # A copy: the journal keeps what the step sent, without the password.
                        parameters = _import_parameters(dict(parameters), params.get("certificate_password"))
                    objects = run_cmdlet(ctx, cmdlet, parameters)
                except CmdletError as exc:
                    if cmdlet == "Get-WinEvent" and exc.error_id.startswith("NoMatchingEventsFound"):
                        objects = []
                    elif step.get("continue_on_error"):
                        entry.update(status="error", error=exc.message, error_id=exc.error_id, warnings=ctx.warnings)
                        journal[-1]["error"] = exc.message
                        objects = []
                    else:
                        entry.update(status="error", error=exc.message, error_id=exc.error_id, warnings=ctx.warnings)
                        journal[-1]["error"] = exc.message
                        result["stop"] = {
                            "index": index,
                            "reason": "error",
                            "message": f"step {index} ({step['cmdlet']}) failed: {exc.message}",
                            "mismatches": [],
                        }
                        break
                entry["warnings"] = ctx.warnings
                entry["objects"] = [_project(o, step["properties"]) for o in objects]
                if ctx.wrote:
                    server.writes += 1
                if cmdlet not in payload_contract.READ_CMDLETS:
                    result["changed"] = True
                if step.get("guard") is not None:
                    mismatch = _check_guard(step["guard"], objects)
                    if mismatch is not None:
                        entry["status"] = "guard_failed"
                        result["stop"] = {"index": index, "reason": "guard", **mismatch}
                        result["stop"]["message"] = f"guard failed on step {index} ({step['cmdlet']}): " + mismatch["message"]
                        journal[-1]["guard_failed"] = True
                        break
            self.org.end_of_launch(server)
        if result["stop"] is not None:
            return self._fail(result, result["stop"]["message"]), 1, journal
        return result, 0, journal

    @staticmethod
    def _fail(result: dict, msg: str) -> dict:
        result["failed"] = True
        result["msg"] = msg
        return result

    def _apply_concurrent_change(self, server: Server, fault: dict) -> None:
        # Another administrator's Set-*Connector lands between our read and our write.
        name = fault["connector"]
        rc = next((c for c in server.receive_connectors if c.name.lower() == name.lower()), None)
        if rc is not None:
            rc.tls_certificate_name = fault.get("value")
            self.org.connector_changed(rc)
            return
        sc = self.org.send_connector(name)
        if sc is not None:
            sc.tls_certificate_name = fault.get("value")


def _import_parameters(parameters: dict, password: str | None) -> dict:
    """As exchange_command.ps1: FileData from base64 to bytes, -Password from the no_log option."""
    if "FileData" in parameters:
        try:
            parameters["FileData"] = base64.b64decode(str(parameters["FileData"]), validate=True)
        except ValueError:
            # [Convert]::FromBase64String's FormatException, which the step reports as its error.
            raise CmdletError(
                "Exception calling \"FromBase64String\" with \"1\" argument(s): \"The input is not a valid Base-64 string as "
                "it contains a non-base 64 character, more than two padding characters, or an illegal character among the "
                "padding characters.\"", "FormatException", "NotSpecified") from None
    if password:
        parameters["Password"] = password
    return parameters


def take_fault(server: Server, kinds, cmdlets: list[str], first: bool = True, call: int | None = None) -> dict | None:
    """Consume one matching fault of the server: its kind, and its cmdlet if it names one.

    A fault without a cmdlet hits a launch (or, for cmdlet faults, the launch's
    first step: `first`). Exhausted faults leave the state.

    ``occurrence`` N picks the Nth call of the fault's cmdlet within one launch:
    for a step fault, ``cmdlets`` is the step's one cmdlet and ``call`` its
    number among the launch's calls of that cmdlet, and only call N is hit; for a
    launch fault, ``cmdlets`` is every step's cmdlet, and only a launch that makes
    at least N calls is hit.
    """
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    lowered = [c.lower() for c in cmdlets]
    for fault in server.faults:
        if fault["kind"] not in kinds:
            continue
        if fault.get("cmdlet") is None and not first:
            continue
        if fault.get("cmdlet") is not None:
            calls = lowered.count(fault["cmdlet"].lower())
            occurrence = fault.get("occurrence", 1)
            if not calls or (call is None and calls < occurrence) or (call is not None and call != occurrence):
                continue
        fault["times"] = fault.get("times", 1) - 1
        if fault["times"] <= 0:
            server.faults.remove(fault)
        return fault
    return None


def _fault_error(kind: str, cmdlet: str, server: Server, org: Organization) -> CmdletError:
    if kind == "access_denied":
        return CmdletError(
            f"Active Directory operation failed on DC01.{org.name}.com. This error is not retriable. Additional "
            "information: Insufficient access rights to perform the operation.",
            f"ADOperationException,{cmdlet.replace('-', '')}",
            "WriteError",
        )
    return CmdletError(
        "An error caused a change in the current set of domain controllers.",
        f"ADServerSettingsChangedException,{cmdlet.replace('-', '')}",
        "NotSpecified",
    )


def _check_guard(guard: dict, objects: list[dict]) -> dict | None:
    if len(objects) != 1:
        return {
            "message": f"expected exactly one object, got {len(objects)}",
            "mismatches": [],
        }
    mismatches = []
    for prop, expected in guard.items():
        actual = _project(objects[0], [prop])[prop]
        same = (actual is None and expected is None) or (
            actual is not None and expected is not None and _as_string(actual) == _as_string(expected)
        )
        if not same:
            mismatches.append({"property": prop, "expected": expected, "actual": actual})
    if not mismatches:
        return None
    text = "; ".join(f"{m['property']} is {_shown(m['actual'])} but {_shown(m['expected'])} was expected" for m in mismatches)
    return {"message": text, "mismatches": mismatches}


def _as_string(value: Any) -> str:
    # PowerShell's [string] of a flattened value: booleans as True/False, lists joined by spaces.
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return " ".join(_as_string(v) for v in value)
    return str(value)


def _shown(value: Any) -> str:
    return "null" if value is None else f"'{_as_string(value)}'"


def _validate_steps(steps: list[dict], check_mode: bool) -> str | None:
    """The payload's checks of every step, made before anything runs; the message it fails with."""
    for i, step in enumerate(steps):
        name = _ALLOWED_BY_LOWER.get(step["cmdlet"].lower())
        problem = payload_contract.cmdlet_problem(i, step) or payload_contract.parameter_problem(i, step)
        if problem:
            return problem
        if step.get("continue_on_error") and name not in payload_contract.READ_CMDLETS:
            return (
                f"step {i} ({step['cmdlet']}): continue_on_error is accepted only on read steps (Get-*, Test-EdgeSynchronization); "
                "a failed change always stops the batch"
            )
        if check_mode and name not in payload_contract.READ_CMDLETS:
            return (f"check mode: {step['cmdlet']} would change the server; in check mode exchange_command runs only read cmdlets "
                    "(Get-*, Test-EdgeSynchronization)")
    return None


def _session_failure(session: str, params: dict, server: Server) -> tuple[str, dict]:
    """The payload's message and session_error when the Exchange session cannot be opened (the snapin_missing fault).

    As exchange_command.ps1 reports it: what it tried, and New-PSSession's (or Add-PSSnapin's) own
    error with its FullyQualifiedErrorId and Win32 code; the controller says what it means. Each
    path fails the way it most often does on a real server: the snap-ins are not registered (Edge),
    the password is wrong (explicit credentials), the account may not open the session (access
    denied; over WinRM without become also the second hop).
    """
    uri = params.get("connection_uri") or (
        f"http://{server.fqdn}/powershell?serializationLevel=Full;ExchClientVer={server.version};clientApplication=ManagementShell")
    connecting = f"Connecting to remote server {urlsplit(uri).hostname} failed with the following error message : "
    help_topic = " For more information, see the about_Remote_Troubleshooting Help topic."
    if session == "snapin":
        tried = "session=snapin (snap-ins of bin\\exShell.psc1, then bin\\Exchange.ps1)"
        error = {"message": "No snap-ins have been registered for Windows PowerShell version 5.",
                 "error_id": "AddPSSnapInRead,Microsoft.PowerShell.Commands.AddPSSnapinCommand", "error_code": None}
    elif params.get("username"):
        tried = f"session=remote as {params['username']} to {uri} (Kerberos)"
        error = {"message": f"{connecting}The user name or password is incorrect.{help_topic}",
                 "error_id": "1326,PSSessionOpenFailed", "error_code": 1326}
    else:
        tried = f"session=remote to {uri} (Kerberos)"
        error = {"message": f"{connecting}Access is denied.{help_topic}",
                 "error_id": "AccessDenied,PSSessionOpenFailed", "error_code": 5}
    return f"could not open the Exchange session, {tried}: {error['message']}", error
