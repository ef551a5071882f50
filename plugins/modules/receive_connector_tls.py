# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/receive_connector_tls.py.

DOCUMENTATION = r"""
---
module: receive_connector_tls
short_description: Name the right certificate in the TlsCertificateName of a server's receive connectors
version_added: 0.1.0
description:
  - Sets the C(TlsCertificateName) of the receive connectors of one Exchange server (C(Set-ReceiveConnector)),
    so that each connector offers STARTTLS with the certificate it should. Runs on each Exchange server, Mailbox
    or Edge Transport, for that server's own connectors.
  - Decides on the controller from the server's transport TLS facts, as
    M(exchange.transport_tls.exchange_certificate_facts) returns them. Pass that module's registered result in
    O(facts) to skip the read, or let this module read them first.
  - With O(certificate=auto), a connector changes only when it has drifted. It changes when its findings
    propose a replacement (a name that no longer matches any certificate, an expired certificate, one expiring
    within O(expiring_days) with a renewal installed, a hybrid connector without a name, ...), or when the
    certificate it uses is not enabled for SMTP. The new name is the one the findings show in C(expected), so
    the module writes exactly what an audit with the same O(expiring_days) proposes. Findings that a new name
    cannot fix, such as an AuthMechanism without C(Tls), leave the connector unchanged.
  - When the chosen certificate is not enabled for SMTP, the module enables it (O(enable_smtp)) and keeps the
    server's default SMTP (internal transport) certificate. See the notes.
  - Every write is guarded. In the write launch, each connector is read again and must still hold the value the
    decision was made from, and the chosen certificate must still be in the store, before any write runs.
    Otherwise nothing is written and the message shows the value read and the live value. Every write is
    read back, and RV(changes) reports the value read back.
  - "Refusals fail the task before anything changes. The module refuses a thumbprint that is not in the server's
    store, and a certificate that has expired, is not yet valid, has no private key (or Exchange did not say
    whether it has one), or has the status Revoked, Invalid, DateInvalid or PendingRequest. It also refuses a
    self-signed certificate for a hybrid connector, a certificate that covers neither the FQDN the connector
    announces nor the host name of the certificate it named so far (a Default Frontend connector often announces
    the server's FQDN while mail arrives for C(mail.contoso.com)), and an unknown O(identity) (the message lists
    the server's receive connectors). With O(identity), a connector that cannot be converged (no replacement, an
    ambiguous one, SMTP that cannot be enabled) is a refusal too."
  - "Without O(identity), in the sweep of every connector, a connector that cannot be converged is left
    unchanged and reported with RV(plans[].status=blocked). The other connectors still converge, and then the
    task fails, naming the blocked connectors and why."
  - Supports check mode and diff mode. Check mode makes the same decision and reports RV(changed), RV(changes)
    and the diff, without writing. With O(facts) it launches nothing, and without them it only reads. Blocked
    connectors fail the task in check mode too. Diff mode shows each changed object's properties before and
    after.
options:
  identity:
    description:
      - The receive connectors to converge, as C(SERVER\Name) (C(EX01\Default Frontend EX01)) or as the bare
        name (C(Default Frontend EX01)), case-insensitive.
      - Omitted, every receive connector of this server is considered. With O(certificate=auto), only drifted
        connectors change.
      - An identity that is not a receive connector of this server is refused, and the message lists the
        server's connectors.
    type: list
    elements: str
  certificate:
    description:
      - V(auto) applies the collection's replacement policy. For each connector, it takes the certificate that
        M(exchange.transport_tls.exchange_certificate_facts) proposes in the C(expected) of its findings. When
        the policy finds no replacement, or several certificates with different subjects, the connector is
        blocked and a person chooses by thumbprint. The policy is described in that module's notes.
      - Otherwise, the thumbprint of a certificate in this server's store. Use 40 hexadecimal characters in any
        case. Spaces and colons are allowed, as Windows and OpenSSL show them, and so are the invisible direction
        marks that the certificate dialog copies. The connector is set to that certificate's C(<I>issuer<S>subject) name.
      - With a thumbprint and no O(identity), the drifted connectors (those V(auto) would change or reports as
        blocked) get that certificate instead of the policy's choice; the others are left alone. A drifted
        connector that cannot use it (a hybrid connector and a self-signed certificate, an FQDN it does not
        cover) is blocked. A thumbprint that is not in the store is refused outright.
    type: str
    default: auto
  state:
    description:
      - V(present) names a certificate in C(TlsCertificateName).
      - V(absent) clears C(TlsCertificateName) to null. This is the step in KB2989382 for those who then rerun the
        Hybrid Configuration Wizard. It needs O(identity), because a sweep never clears every connector, and it
        cannot be combined with a thumbprint in O(certificate).
      - A later run with O(certificate=auto) names a certificate again on a hybrid connector that has no name
        (finding C(hybrid_tls_certificate_name_missing)), as the wizard would.
    type: str
    choices: [present, absent]
    default: present
  enable_smtp:
    description:
      - When the chosen certificate is not enabled for SMTP, enable it while keeping the server's default SMTP
        (internal transport) certificate, as described in the notes.
      - With V(false), a certificate without SMTP is not used. Transport would select it and the TLS handshake
        would fail.
      - When Exchange did not return the certificate's Services (the remote session caveat, see
        M(exchange.transport_tls.exchange_certificate_facts)), V(true) does not use the certificate. Renew
        the Auth certificate if it has expired. V(false) proceeds on the assumption that SMTP is enabled, with a warning.
      - SMTP cannot be enabled when the default SMTP certificate is unset or not in the store, because there
        would be nothing to put back. The message says how to recreate it.
    type: bool
    default: true
  facts:
    description:
      - The registered result of M(exchange.transport_tls.exchange_certificate_facts) for this host, from the same
        play, or its C(ansible_facts.exchange_tls).
      - With it, the module decides without reading the server first. Without it, the module reads the server in
        its own launch.
      - Facts of another server, or the result of a facts task that failed or was skipped, are refused.
      - Validity is judged by the clock of the server when the facts were read. Facts from long ago can lead to
        an outdated decision. The guards catch a connector that changed since then, but not a certificate that
        expired in between.
    type: dict
  expiring_days:
    description:
      - The same meaning as in M(exchange.transport_tls.exchange_certificate_facts). With O(certificate=auto), a
        connector whose certificate expires within this many days is moved to the renewal when one is installed.
        A renewal with the same issuer and subject is already selected by the current name, so nothing changes.
      - Use the value of the audit whose proposals you want applied. Between V(0) and V(3650).
    type: int
    default: 30
  server:
    description:
      - The Exchange server name of the target host, as C(Get-ExchangeServer) shows it.
      - Defaults to the inventory host name up to its first dot. An inventory host name that is an IP address
        needs this option.
      - A name (letters, digits and hyphens, or an FQDN), not an IP address and not empty.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: Decides as a real run would, writes nothing, and reports RV(changed), RV(changes) and the diff.
  diff_mode:
    support: full
  platform:
    support: full
    platforms: windows
notes:
  - "Launches (PowerShell starts, which each take seconds on a real server): one to read, unless O(facts) is given;
    one to enable SMTP, only when a certificate needs it; one for the guarded writes and their read-backs (which
    also verifies the default SMTP certificate after SMTP was enabled), only when something changes. With O(facts)
    and nothing to change, none. RV(launches) says how many ran."
  - "A launch that writes can fail without telling what it did: its reply lost on the way back (a dropped
    connection, a read timeout), unreadable (MODULE FAILURE, for example when ansible-core's PowerShell wrapper
    adds a second JSON document after the module's own), or a write cmdlet that threw. The module then makes one
    more launch that reads only the objects it meant to change (their C(TlsCertificateName); for SMTP enabling, the
    certificate's Services and the server's C(InternalTransportCertificateThumbprint)). A change read back at the
    value sent is in RV(changes), one read back at its value before is not applied, and any other (the read failed
    too, or a third value) is in RV(unknown_changes). The task fails, and its message lists all three and what to do."
  - "The default SMTP certificate is never replaced. C(Enable-ExchangeCertificate -Services SMTP) on another
    certificate asks C(Overwrite the existing default SMTP certificate?), and C(-Force) answers Yes. So, as
    Microsoft's own scripts do, the module records C(InternalTransportCertificateThumbprint) and runs
    C(Enable-ExchangeCertificate -Services SMTP -Force). In the same launch, it then enables the previous default
    again with C(-Services SMTP -Force): services are additive, so the previous default keeps its others, and
    naming UM, UMCallRouter, Federation or IIS again could only make the put-back fail. It reads both back; a
    default that reads back as another certificate after a put-back that succeeded is read again, 10 seconds
    apart, for at most 30 seconds (Microsoft's script waits 10 seconds). The write launch first checks that the
    default is still the recorded one. If the default could not be put back, no connector is changed, and the
    task fails with a message that gives the server's state and the exact C(Enable-ExchangeCertificate) command
    that repairs it."
  - "Every launch that writes (the SMTP enable and the connector writes) passes one C(-DomainController) to
    every Exchange cmdlet: O(domain_controller), or else the domain controller the facts were read from (facts
    key C(domain_controller)), so a read-back never comes from a domain controller that has not replicated the
    write yet. None on an Edge server, whose AD LDS is local."
  - "An Edge server's AD LDS holds at most 256 characters of C(TlsCertificateName) (Microsoft KB 4052493). An Edge
    receive connector is never given a longer name: it is blocked with the reason, and nothing is written."
  - On an Edge Transport server, the Edge subscription (EdgeSync) pins the Edge's default SMTP certificate. The
    module keeps that default, so EdgeSync keeps working.
  - Without O(identity), disabled connectors are left unchanged. A disabled connector named in O(identity) is
    converged as if it were enabled, so it is right when it is enabled again.
  - After a change, the module returns the facts it decided from, updated with the values it read back
    (RV(ansible_facts.exchange_tls)), so a later M(exchange.transport_tls.send_connector_tls) in the same play
    decides from the server as it is now and does not enable SMTP a second time.
  - O(identity) is a list. Ansible splits a single string on commas, so give a connector name that contains a
    comma as a one-element list.
  - The module runs its cmdlets through M(exchange.transport_tls.exchange_command). In check mode, that module
    runs only C(Get-*) cmdlets.
seealso:
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.send_connector_tls
  - name: Set-ReceiveConnector
    description: The cmdlet that sets a receive connector's TlsCertificateName.
    link: https://learn.microsoft.com/powershell/module/exchange/set-receiveconnector
  - name: Enable-ExchangeCertificate
    description: The cmdlet that enables a certificate for SMTP, and its prompt about the default SMTP certificate.
    link: https://learn.microsoft.com/powershell/module/exchange/enable-exchangecertificate
  - name: KB2989382
    description: Can't receive mail in a hybrid environment after you install a new certificate.
    link: https://learn.microsoft.com/exchange/troubleshoot/email-delivery/cannot-receive-mail-with-new-certificate
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Read each server's transport TLS facts (one launch per server)
  exchange.transport_tls.exchange_certificate_facts:
  register: tls

- name: Apply the replacements the facts propose to every drifted receive connector
  exchange.transport_tls.receive_connector_tls:
    facts: "{{ tls }}"
  register: receive

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ item.object }}: {{ item.property }} {{ item.before }} -> {{ item.after }}"
  loop: "{{ receive.changes }}"
  loop_control:
    label: "{{ item.object }}"

- name: Name a certificate by thumbprint, pasted from the certificate dialog
  exchange.transport_tls.receive_connector_tls:
    identity:
      - EX01\Default Frontend EX01
    certificate: "5b 2f 8c 1e 9a 0d 4e 7f 6a 3b 2c 1d 0e 9f 8a 7b 6c 5d 4e 3f"

- name: Name a certificate only if SMTP is already enabled on it (refused otherwise)
  exchange.transport_tls.receive_connector_tls:
    identity: [Partner EX01]
    certificate: 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F
    enable_smtp: false

- name: Clear the hybrid connector's name before rerunning the Hybrid Configuration Wizard (KB2989382)
  exchange.transport_tls.receive_connector_tls:
    identity: [Default Frontend EX01]
    state: absent

- name: Preview with the audit's threshold; nothing is written in check mode
  exchange.transport_tls.receive_connector_tls:
    facts: "{{ tls }}"
    expiring_days: 45
  check_mode: true
  register: preview

- name: Show the decision for each connector
  ansible.builtin.debug:
    msg: "{{ item.object }}: {{ item.status }} ({{ item.reason }})"
  loop: "{{ preview.plans }}"
  loop_control:
    label: "{{ item.object }}"

# Session options can be set once for every module of the collection, at play level:
#   module_defaults:
#     group/exchange.transport_tls.exchange:
#       session: snapin
"""

RETURN = r"""
changed:
  description: Whether something was changed. In check mode, whether something would be changed.
  returned: always
  type: bool
  sample: true
ansible_facts:
  description: After a change (not in check mode), the server's facts as they are now.
  returned: when something changed
  type: dict
  contains:
    exchange_tls:
      description:
        - The facts this run decided from, in the shape M(exchange.transport_tls.exchange_certificate_facts)
          returns, updated with the connector names, certificate services and default SMTP certificate read back
          after the writes; selection and findings recomputed. C(collected_at) and C(events) stay those of the read.
      type: dict
launches:
  description: PowerShell launches this task made on the host (0 to 4, see the notes).
  returned: always
  type: int
  sample: 1
plans:
  description: The decision for each receive connector considered, in the order of the server's connectors or of
    O(identity).
  returned: always
  type: list
  elements: dict
  contains:
    object_type:
      description: Always V(receive_connector).
      type: str
      sample: receive_connector
    object:
      description: The connector's identity, C(SERVER\Name).
      type: str
      sample: EX01\Default Frontend EX01
    status:
      description:
        - V(change), when it changes or SMTP is enabled on its certificate.
        - V(unchanged), when it is left as it is.
        - V(blocked), when it cannot be converged (only without O(identity)) and was left unchanged.
      type: str
      sample: change
    current:
      description: Its TlsCertificateName as read, or null.
      type: str
      sample: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    expected:
      description: The TlsCertificateName it should have (its current one when nothing is to change), or null
        (O(state=absent), or blocked with nothing to propose).
      type: str
      sample: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    reason:
      description: Why, in words. For a blocked connector, what is missing and what to do.
      type: str
      sample: "the replacement policy (tls_certificate_name_not_found): 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"
    certificate:
      description: The thumbprint of the certificate the new name selects, or null.
      type: str
      sample: 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F
    finding:
      description: For a connector blocked because O(certificate=auto) found no replacement or an ambiguous one,
        the finding code (C(no_replacement_certificate) or C(ambiguous_replacement_certificate)).
      returned: when blocked for that reason
      type: str
      sample: ambiguous_replacement_certificate
changes:
  description:
    - Each property changed, or that would be changed in check mode. After a write, RV(changes[].after) is the
      value read back from the server.
    - When the task fails partway, the changes made before the failure.
  returned: always
  type: list
  elements: dict
  contains:
    object_type:
      description: V(receive_connector) or V(certificate) (SMTP enabled on it).
      type: str
      sample: receive_connector
    object:
      description: The connector identity, or the certificate thumbprint.
      type: str
      sample: EX01\Default Frontend EX01
    property:
      description: V(TlsCertificateName) or V(Services).
      type: str
      sample: TlsCertificateName
    before:
      description: The value before (Services is a list, or V(unknown)).
      type: raw
      sample: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    after:
      description: The value after, as read back (in check mode, the value that would be written).
      type: raw
      sample: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    server:
      description: The Exchange server.
      type: str
      sample: EX01
unknown_changes:
  description:
    - Changes a failed launch may or may not have made, because neither its reply nor a new read told. Same shape
      as RV(changes), with RV(changes[].after) the value that was sent. Check these objects on the server before
      running again. RV(changed) is true when this is not empty.
  returned: when the module decided a plan (empty unless a write launch failed)
  type: list
  elements: dict
  sample:
    - object_type: receive_connector
      object: EX01\Default Frontend EX01
      property: TlsCertificateName
      before: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
      after: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
      server: EX01
smtp:
  description: Certificates on which SMTP is enabled (or would be, in check mode), keeping the default SMTP
    certificate.
  returned: always
  type: list
  elements: dict
  contains:
    server:
      description: The Exchange server.
      type: str
      sample: EX01
    enabled:
      description: The thumbprint of the certificate SMTP is enabled on.
      type: str
      sample: 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F
    services_before:
      description: Its services before, or V(unknown).
      type: raw
      sample: [IIS]
    services_after:
      description: Its services as read back, or null (check mode, or not done).
      type: list
      elements: str
      sample: [IIS, SMTP]
    internal_transport_certificate:
      description: The default SMTP certificate's thumbprint before, and as read back after (null until read).
      type: dict
      sample: {before: 0A1B2C3D4E5F60718293A4B5C6D7E8F901234567, after: 0A1B2C3D4E5F60718293A4B5C6D7E8F901234567}
    done:
      description: Whether SMTP was enabled and the default read back unchanged.
      type: bool
      sample: true
"""
