# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/exchange_certificate_impact.py.

DOCUMENTATION = r"""
---
module: exchange_certificate_impact
short_description: Show, before a renewal, what a candidate certificate would change and break across the fleet
version_added: 0.2.0
description:
  - Reads a candidate certificate on the controller (O(candidate), a PEM, DER or PKCS#12 file) or finds it in a
    server's store (O(candidate_thumbprint)), and tells, from the C(exchange_tls) facts of every server, what installing
    it would change. It contacts no server and changes nothing.
  - C(TlsCertificateName) names an issuer and a subject, not a certificate. A renewal from a new intermediate or with a
    changed subject leaves every connector, the hybrid configuration and Microsoft 365's inbound connector naming the
    old pair. The module lists every such object with its current and new name (action V(rename)), the objects that
    keep working (V(unchanged)), the servers where the candidate must be imported (V(import)) and enabled for SMTP
    (V(enable_smtp)), and the objects a problem would break (V(blocked)).
  - Findings (codes in C(docs/impact.md)) cover domains the candidate does not cover, Microsoft 365's inbound connector
    domain (O(exo_inbound_domain)), a root the controller does not trust where hybrid needs a third-party CA, an
    incomplete chain, RSA keys under 2048 bits, SHA-1 signatures, missing serverAuth or clientAuth EKUs, validity,
    Edge servers that would not share one issuer and subject, a missing private key, and servers whose facts are
    missing.
  - Run it once (C(run_once)) after M(exchange.transport_tls.exchange_certificate_facts) has gathered every server,
    in this play or an earlier one; it reads each host's C(ansible_facts.exchange_tls). A host of O(hosts) without
    facts is an error finding, never a silent gap.
  - With O(report_dir), it writes C(impact.json) (schema C(exchange.transport_tls/impact/v1),
    C(schemas/impact-v1.schema.json)), C(report.html) and C(junit.xml) into a new run directory C(<report_dir>/<run id>),
    and points C(<report_dir>/latest) at it.
  - Playbook C(exchange.transport_tls.impact) runs it for a whole inventory.
options:
  candidate:
    description:
      - The candidate certificate file on the controller. PEM (the certificate first, optionally followed by its chain
        and its private key), DER, or PKCS#12 (with O(candidate_password)).
      - One of O(candidate) and O(candidate_thumbprint) is required. A file that is missing, malformed, not a
        certificate, or a PKCS#12 file the password does not open, is refused with a message naming it.
    type: path
  candidate_password:
    description: The password of a PKCS#12 file, or of an encrypted PEM private key.
    type: str
  candidate_thumbprint:
    description:
      - The thumbprint of a certificate already in some gathered server's store, instead of a file (40 hexadecimal
        characters, spaces allowed). With O(candidate), it must be that file's thumbprint.
      - Facts carry no EKU and no chain, so those checks are left out; third-party is what Exchange's RootCAType says.
    type: str
  candidate_trust:
    description:
      - A PEM bundle on the controller of extra root certificates to trust besides C(certifi)'s and the system's, for
        private PKIs and controllers without the public roots.
    type: path
  exo_inbound_domain:
    description:
      - The domain Microsoft 365's inbound connector from on-premises expects (its C(TlsSenderCertificateName)).
      - Default the common name of the hybrid configuration's current certificate subject; no check without hybrid.
    type: str
  expiring_days:
    description: A candidate that expires within this many days is a finding. Between V(0) and V(3650).
    type: int
    default: 30
  hosts:
    description: Inventory hosts to analyse. Default all hosts of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
  report_dir:
    description: Directory on the controller for the run directories; created if missing. Without it, nothing is written.
    type: path
  validate_only:
    description:
      - Only read and check the candidate (and the thumbprint's syntax), without facts. The playbook does this in its
        first task, so a bad candidate stops the run before any server is contacted.
    type: bool
    default: false
  fail_on_breaking:
    description: Fail the task when a finding would break mail (an error finding), after writing the reports.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Contacts no server and changes nothing; the reports are written in check mode too.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - Always returns C(changed=false).
  - "The candidate's names are rendered as Windows renders C(X509Certificate2.Issuer) and C(.Subject); the
    C(TlsCertificateName) is C(<I>issuer<S>subject), Microsoft's recipe."
seealso:
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.receive_connector_tls
  - module: exchange.transport_tls.send_connector_tls
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Gather every server
  exchange.transport_tls.exchange_certificate_facts:

- name: What would the renewed certificate break?
  exchange.transport_tls.exchange_certificate_impact:
    candidate: files/mail.contoso.com.pfx
    candidate_password: "{{ vaulted_pfx_password }}"
    report_dir: ./impact_report
    fail_on_breaking: false
  run_once: true
  register: impact

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ impact.lines }}"
  run_once: true
"""

RETURN = r"""
impact:
  description: The impact document (schema C(exchange.transport_tls/impact/v1)); C(docs/reports.md) explains each field.
  returned: when the candidate was analysed
  type: dict
  contains:
    candidate:
      description:
        - The candidate as Exchange would show it (thumbprint, subject, issuer, tls_certificate_name, domains, validity, key,
          signature_hash, eku, chain).
      type: dict
    objects:
      description: Each object the candidate concerns, with host, object_type, object, current, after, action and finding codes.
      type: list
      elements: dict
    findings:
      description: Each finding with code, severity, message and hosts.
      type: list
      elements: dict
breaks_mail:
  description: Whether an error finding would break mail.
  returned: when the candidate was analysed
  type: bool
lines:
  description: A terminal summary, one line per element.
  returned: when the candidate was analysed
  type: list
  elements: str
candidate:
  description: The candidate read (the impact.json C(candidate) object), or only its thumbprint when given by thumbprint.
  returned: validate_only
  type: dict
dest:
  description: The run directory the reports were written to.
  returned: report_dir given
  type: str
  sample: /srv/ci/impact_report/20261207T233904.123Z
run_id:
  description: The run id.
  returned: report_dir given
  type: str
report_dir:
  description: The absolute O(report_dir).
  returned: report_dir given
  type: str
files:
  description: The files written.
  returned: report_dir given
  type: list
  elements: str
"""
