# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange_certificate_import: put a renewed certificate (a PFX on the controller) into one server's store, once."""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._converge.converge import READ, diff_entries, step_id
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._impact.candidate import CandidateError, load_candidate
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._rollout import plan as rollout
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._payload.exchange_action import (
    SESSION_REQUIRED_TOGETHER,
    SESSION_SPEC,
    BatchFailed,
    ExchangeActionBase,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "pfx_password": {"type": "str", "no_log": True},
    "private_key_exportable": {"type": "bool", "default": False},
    "enable_iis": {"type": "bool", "default": False},
    "server": {"type": "str"},
    **SESSION_SPEC,
}


class ActionModule(ExchangeActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(changed=False, launches=0, changes=[])
        args = self.validate_options(ARGUMENT_SPEC, SESSION_REQUIRED_TOGETHER)
        secret = args.get("pfx_password")
        try:
            server = self.server_name(args["server"], task_vars)
            candidate = load_candidate(path=args["path"], password=secret)
        except (ValueError, CandidateError) as exc:
            # load_candidate speaks of the role's variables; this module's options are path and pfx_password.
            msg = str(exc).replace("connector_tls_candidate_password", "pfx_password").replace("connector_tls_candidate", "path")
            return dict(result, failed=True, msg=_masked(msg, secret))
        result.update(server=server, thumbprint=candidate.thumbprint, subject=candidate.subject, issuer=candidate.issuer,
                      tls_certificate_name=candidate.tls_certificate_name, not_after=candidate.not_after)
        if candidate.pfx_bytes is None:
            return dict(result, failed=True, msg=(
                f"path {args['path']!r} is a {candidate.source.upper()} file; Import-ExchangeCertificate needs the certificate"
                " with its private key as a PKCS#12 file (.pfx/.p12) and its password. Nothing was imported."))
        if not candidate.has_private_key:
            return dict(result, failed=True, msg=(
                f"path {args['path']!r} holds no private key for {candidate.thumbprint}: Exchange would import it, but a"
                " certificate without its key cannot be enabled for SMTP or presented by STARTTLS. Export it again with"
                " its private key (PKCS#12). Nothing was imported."))
        try:
            raw = self.run_batch(rollout.store_read_steps(server, role=args["enable_iis"]), args, task_vars)
        except BatchFailed as exc:
            return dict(result, failed=True, launches=1, msg=f"reading the certificates of {server} failed: {exc.result.get('msg')}")
        result["launches"] = 1
        edge = args["enable_iis"] and rollout.is_edge(raw)
        present = rollout.in_store(raw, candidate.thumbprint)
        if present is not None:
            result.update(state="present", has_private_key=present.get("HasPrivateKey"), services=present.get("Services"))
            return self._iis(result, args, task_vars, server, present, edge)
        change = rollout.imported_change(server, candidate.thumbprint)
        result.update(changed=True, state="imported", changes=[change.as_dict()])
        if self._task.diff:
            result["diff"] = diff_entries([change])
        if self._task.check_mode:
            # What IIS would be: the import brings the certificate with no service enabled.
            return self._iis(result, args, task_vars, server, {"Services": None}, edge)
        steps = rollout.import_steps(server, candidate.thumbprint, candidate.pfx_bytes, args["private_key_exportable"])
        extra = {"certificate_password": secret} if secret else None
        try:
            raw = self.run_batch(steps, args, task_vars, extra)
        except BatchFailed as exc:
            result["launches"] = 2
            imported = any(s.get("cmdlet") == "Import-ExchangeCertificate" and s.get("status") == "ok"
                           for s in exc.result.get("steps") or [])
            if not imported:
                result.update(changed=False, changes=[], state="absent")
            return dict(result, failed=True, msg=_masked(
                f"importing {candidate.thumbprint} on {server} failed: {exc.result.get('msg') or 'no message'}", secret))
        result["launches"] = 2
        back = rollout.in_store({"steps": [dict(s, id=step_id(READ, None, "store")) for s in raw.get("steps") or []
                                           if s.get("cmdlet") == "Get-ExchangeCertificate"]}, candidate.thumbprint)
        if back is None or back.get("HasPrivateKey") is False:
            return dict(result, failed=True, msg=(
                f"{candidate.thumbprint} was imported on {server} but reads back "
                f"{'without a private key' if back else 'as absent'}; check the server's store before running again"))
        result.update(has_private_key=back.get("HasPrivateKey"), services=back.get("Services"))
        return self._iis(result, args, task_vars, server, back, edge)

    def _iis(self, result: dict, args: dict, task_vars: dict, server: str, certificate: dict, edge: bool) -> dict:
        """With enable_iis, add IIS to the certificate's services (one guarded launch); never on an Edge server."""
        if not args["enable_iis"]:
            return result
        thumbprint = result["thumbprint"]
        services = rollout.services_of(certificate)
        if edge:
            return dict(result, iis="skipped", iis_note=rollout.IIS_EDGE)
        if "IIS" in services:
            return dict(result, iis="present")
        change = rollout.iis_change(server, thumbprint, services)
        result.update(changed=True, iis="enabled", iis_note=rollout.IIS_NOTE, changes=result["changes"] + [change.as_dict()])
        if self._task.diff:
            result["diff"] = (result.get("diff") or []) + diff_entries([change])
        if self._task.check_mode:
            return result
        result["launches"] += 1
        try:
            raw = self.run_batch(rollout.iis_steps(server, thumbprint, certificate), args, task_vars)
        except BatchFailed as exc:
            stop = exc.result.get("stop") or {}
            written = any(s.get("cmdlet") == "Enable-ExchangeCertificate" and s.get("status") == "ok" for s in exc.result.get("steps") or [])
            if not written:
                result.update(changes=result["changes"][:-1], iis="absent", changed=bool(result["changes"][:-1]))
            why = ("its services changed since they were read, so IIS was not enabled; run again" if stop.get("reason") == "guard"
                   else exc.result.get("msg") or "no message")
            return dict(result, failed=True, msg=f"enabling IIS on {thumbprint} on {server} failed: {why}")
        back = rollout.iis_read_back(raw, thumbprint)
        result["services"] = (back or {}).get("Services")
        if "IIS" not in rollout.services_of(back):
            return dict(result, failed=True, msg=(f"IIS was enabled on {thumbprint} on {server} but its services read back as"
                                                  f" {result['services']!r}; check the certificate in the Exchange admin center"))
        return result


def _masked(text: str, secret: str | None) -> str:
    """A message without the PFX password, whatever wrote it (the password may be short and common)."""
    return text.replace(secret, "********") if secret else text
