#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.exchange.transport_tls.plugins.module_utils import smtp_probe

try:
    import cryptography  # noqa: F401  # pylint: disable=unused-import
except ImportError:
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

# The spec and the checks beyond it live in module_utils: the action plugin runs the probe in-process
# on the controller with the same rules.
ARGUMENT_SPEC = smtp_probe.ARGUMENT_SPEC
options_problem = smtp_probe.options_problem


class _ProbeModule(AnsibleModule):
    """AnsibleModule that checks the options before logging its invocation to syslog.

    Python 3.12's syslog refuses a NUL, so a helo_name with one failed in that
    logging ("Failed to log to syslog (embedded null character)") before the
    module could say which option was wrong.
    """

    def _log_invocation(self):
        problem = options_problem(dict(self.params))
        if problem:
            self.fail_json(msg=problem)
        super()._log_invocation()


def main() -> None:
    module = _ProbeModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    params = dict(module.params)
    # Checked again: with no_log the invocation is not logged, so the check above did not run.
    problem = options_problem(params)
    if problem:
        module.fail_json(msg=problem)
    try:
        result = smtp_probe.probe(
            params["host"], params["port"], params["timeout"], params["helo_name"],
            expect_thumbprint=params["expect_thumbprint"], wait_timeout=params["wait_timeout"], delay=params["delay"],
            seen_as=params["seen_as"],
        )
    except smtp_probe.ProbeError as exc:
        module.fail_json(msg=str(exc), changed=False, **exc.result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
