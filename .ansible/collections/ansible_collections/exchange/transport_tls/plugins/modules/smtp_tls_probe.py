#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smtp_tls_probe
short_description: See what an SMTP port presents to a sending server, STARTTLS and certificate included
version_added: 0.1.0
description:
  - Connects to O(host):O(port), reads the banner, sends C(EHLO), and reports whether C(STARTTLS) is offered. When it is,
    it sends C(STARTTLS), completes the TLS handshake, sends C(EHLO) again and C(QUIT).
  - Reports the certificate presented in the forms Exchange prints (C(Get-ExchangeCertificate)), so it can be compared
    with a connector's C(TlsCertificateName) or a thumbprint directly.
  - Never sends C(MAIL), C(RCPT), C(DATA) or C(BDAT); it cannot send mail.
  - A connector that advertises C(STARTTLS) and then fails the handshake (on Exchange, a certificate without the SMTP
    service) is a result, not a failure. RV(starttls_offered=true), RV(tls_established=false) and RV(error) say what
    happened.
  - The task fails only when there is no answer about TLS. This covers a port that cannot be reached and a dialogue
    that breaks before C(STARTTLS) (no C(220) banner, C(EHLO) refused, or the connection dropped). The result still
    carries every key below.
  - With O(expect_thumbprint), it can wait for a fix to show. It probes again every O(delay) seconds until the
    certificate presented is the expected one or O(wait_timeout) passes. A mismatch at the end is a result
    (RV(matched=false)), not a failure; assert on it.
options:
  host:
    description:
      - The host name or IP address to connect to, as a sending server would (an IPv6 address without brackets).
    type: str
    required: true
  port:
    description:
      - The TCP port, 1 to 65535. Exchange receives mail from the internet and Microsoft 365 on port 25
        (Front End Transport); 2525 is the Hub Transport service on Mailbox servers.
    type: int
    default: 25
  timeout:
    description:
      - Seconds one attempt may take in all, from connecting through the replies to the TLS handshake (a deadline, not a limit per read, so a peer that answers a byte at a time cannot hold the probe longer); greater than 0 and at most 3600.
    type: float
    default: 10
  helo_name:
    description:
      - The name sent with C(EHLO), a host name or an address literal such as V([192.0.2.25]).
      - Defaults to the fully qualified name of the host the module runs on (Python's C(socket.getfqdn)), or V(localhost)
        when that is not a valid host name.
    type: str
  expect_thumbprint:
    description:
      - The SHA-1 thumbprint of the certificate the port should present. It can be pasted from the Windows
        certificate dialog or C(Get-ExchangeCertificate). Spaces, colons, invisible marks (U+200E, U+200F,
        U+FEFF...) and case are ignored, and 40 hexadecimal digits must remain.
      - Sets RV(matched).
    type: str
  wait_timeout:
    description:
      - With O(expect_thumbprint), how many seconds to keep probing until the expected certificate is presented.
        V(0) probes once; at most V(86400) (a day).
      - While waiting, a port that does not answer is retried too (a transport service restarting after a fix).
        The task fails only if the last probe had no answer.
      - The last probe may end up to about O(timeout) seconds after O(wait_timeout).
    type: int
    default: 0
  delay:
    description:
      - Seconds between probes while waiting (see O(wait_timeout)); greater than 0 and at most 3600.
    type: float
    default: 2
  seen_as:
    description:
      - The IP address the Exchange server sees this probe come from, when network address translation changes it.
        It is returned as RV(source_address) and decides which receive connector the report takes the probe to have
        reached (RemoteIPRanges).
      - Defaults to the address of the probe's own socket.
    type: str
    version_added: 0.2.0
requirements:
  - cryptography
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only; it probes in check mode too, and C(changed) is always false.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - "The probe runs where the task runs. Use C(delegate_to: localhost) to probe from the controller, as the collection's
    role does; on a Windows target this module does not run."
  - "What a real sending server (Microsoft 365) sees may differ. When several receive connectors share port 25,
    Exchange picks the connector by the most specific binding, then the most specific C(RemoteIPRanges) entry holding
    the sender's address: the probe shows the connector that answers RV(source_address). A connector scoped to
    Microsoft 365's addresses is not the one the probe sees; the role's report says so (finding
    C(starttls_probe_other_connector))."
  - No verification of the chain or of the name is done, on purpose. The point is to see whatever certificate is
    presented, trusted or not. Compare RV(issuer), RV(subject), RV(not_after) and RV(thumbprint) with what you expect.
  - The TLS handshake uses the local OpenSSL's default protocol versions and ciphers, as a modern sender
    would. Microsoft 365 requires TLS 1.2 or later. Exchange Server 2019 CU15 and Exchange Server SE offer TLS 1.3
    for HTTPS but not for SMTP, so expect RV(tls_version=TLSv1.2) on port 25.
seealso:
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.receive_connector_tls
  - name: Selection of inbound STARTTLS certificates
    description: How Exchange transport picks a connector's certificate.
    link: https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates-selection
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Probe each server's port 25 from the controller
  exchange.transport_tls.smtp_tls_probe:
    host: "{{ ansible_host | default(inventory_hostname) }}"
  delegate_to: localhost
  register: probe

- name: Fail when STARTTLS is not offered or the handshake fails
  ansible.builtin.assert:
    that: probe.tls_established
    fail_msg: "{{ probe.host }}:{{ probe.port }} STARTTLS offered: {{ probe.starttls_offered }}; {{ probe.error | default('', true) }}"

- name: After a fix, wait up to two minutes for the renewed certificate to be presented
  exchange.transport_tls.smtp_tls_probe:
    host: mail.contoso.com
    expect_thumbprint: "\u200e5b 2f 8c 1e 9a 0d 4e 7f 6a 3b 2c 1d 0e 9f 8a 7b 6c 5d 4e 3f"
    wait_timeout: 120
    delay: 5
    helo_name: ansible.contoso.com
  delegate_to: localhost
  register: proof
  failed_when: not proof.matched
"""

RETURN = r"""
host:
  description: The host probed (O(host)).
  returned: always
  type: str
  sample: mail.contoso.com
port:
  description: The port probed (O(port)).
  returned: always
  type: int
  sample: 25
connected:
  description: Whether the TCP connection was made.
  returned: always
  type: bool
  sample: true
banner:
  description: The server's greeting as sent (reply code included; lines joined with a newline), or null before it.
  returned: always
  type: str
  sample: "220 mail.contoso.com Microsoft ESMTP MAIL Service ready at Fri, 27 Nov 2026 12:00:00 +0000"
starttls_offered:
  description: Whether the reply to C(EHLO) advertises C(STARTTLS).
  returned: always
  type: bool
  sample: true
tls_established:
  description: Whether the TLS handshake after C(STARTTLS) succeeded.
  returned: always
  type: bool
  sample: true
tls_version:
  description: The TLS version negotiated, or null without TLS.
  returned: always
  type: str
  sample: TLSv1.2
cipher:
  description: The cipher suite negotiated (OpenSSL's name), or null without TLS.
  returned: always
  type: str
  sample: ECDHE-RSA-AES256-GCM-SHA384
source_address:
  description:
    - The address the probe came from as the server sees it. O(seen_as) when given, else the local address of the
      probe's socket; null when no connection was made.
    - Exchange selects the receive connector that answers by this address (C(RemoteIPRanges)).
  returned: always
  type: str
  sample: 192.0.2.10
  version_added: 0.2.0
error:
  description:
    - What went wrong, or null. A refused C(STARTTLS), a failed handshake, or a failure after it. When the task
      fails, it is the failure message.
  returned: always
  type: str
  sample: "TLS handshake failed: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:1000)"
thumbprint:
  description: The SHA-1 thumbprint of the certificate presented, as Exchange prints it (upper-case hex, no separators),
    or null without TLS.
  returned: always
  type: str
  sample: 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F
subject:
  description: The subject exactly as Windows prints it (C(X509Certificate2.Subject)), or null without TLS.
  returned: always
  type: str
  sample: CN=mail.contoso.com
issuer:
  description: The issuer exactly as Windows prints it (C(X509Certificate2.Issuer)), or null without TLS.
  returned: always
  type: str
  sample: "CN=R11, O=Let's Encrypt, C=US"
domains:
  description: The DNS names in the certificate's subject alternative names, or null without TLS.
  returned: always
  type: list
  elements: str
  sample: [mail.contoso.com, autodiscover.contoso.com]
not_before:
  description: Start of validity (UTC ISO 8601), or null without TLS.
  returned: always
  type: str
  sample: "2026-10-19T00:00:00Z"
not_after:
  description: End of validity (UTC ISO 8601), or null without TLS.
  returned: always
  type: str
  sample: "2027-01-17T00:00:00Z"
serial_number:
  description: The serial number as Windows prints it (upper-case hex of its encoded bytes), or null without TLS.
  returned: always
  type: str
  sample: 03A1B2C3D4E5F60718293A4B5C6D7E8F9012
matched:
  description: Whether the certificate presented by the last probe has O(expect_thumbprint), or null without
    O(expect_thumbprint).
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from the first connection attempt to the end of the last probe.
  returned: always
  type: float
  sample: 0.412
attempts:
  description: How many probes were made (more than 1 only while waiting for O(expect_thumbprint)).
  returned: always
  type: int
  sample: 1
"""

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
