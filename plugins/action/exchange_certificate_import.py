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
            raw = self.run_batch(rollout.store_read_steps(server), args, task_vars)
        except BatchFailed as exc:
            return dict(result, failed=True, launches=1, msg=f"reading the certificates of {server} failed: {exc.result.get('msg')}")
        result["launches"] = 1
        present = rollout.in_store(raw, candidate.thumbprint)
        if present is not None:
            return dict(result, state="present", has_private_key=present.get("HasPrivateKey"), services=present.get("Services"))
        change = rollout.imported_change(server, candidate.thumbprint)
        result.update(changed=True, state="imported", changes=[change.as_dict()])
        if self._task.diff:
            result["diff"] = diff_entries([change])
        if self._task.check_mode:
            return result
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
        return dict(result, has_private_key=back.get("HasPrivateKey"), services=back.get("Services"))


def _masked(text: str, secret: str | None) -> str:
    """A message without the PFX password, whatever wrote it (the password may be short and common)."""
    return text.replace(secret, "********") if secret else text
