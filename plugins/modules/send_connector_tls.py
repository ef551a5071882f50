# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/send_connector_tls.py.

DOCUMENTATION = r"""
---
module: send_connector_tls
short_description: Name, in each send connector, a certificate that every one of its source servers holds
version_added: 0.1.0
description:
  - Sets the C(TlsCertificateName) of the organisation's send connectors (C(Set-SendConnector)). A send connector
    is one organisation-wide object. Each of its source servers looks its name up in its own certificate store,
    and mail from a server that does not find it fails with C(454 4.7.5). So the new name must be one that every
    source server holds.
  - Run it once for the organisation, on a Mailbox server or delegated to one (C(run_once) with C(delegate_to)).
    Without C(run_once), in a play over several hosts, it refuses before deciding anything, because once per host the
    same organisation objects would be decided and written several times at once.
    It decides from the C(exchange_tls) facts of every inventory host that has them, so one task sees the
    whole fleet. Gather them first with M(exchange.transport_tls.exchange_certificate_facts), in this play or an
    earlier play of the same run. The source servers of each connector are matched to hosts by the Exchange
    server name or FQDN in those facts.
  - A source server without facts blocks its connector, which is left unchanged and named in the message,
    unless the server is listed in O(ignore_source_servers).
  - "A name qualifies when every source server holds a certificate with that issuer and subject that it can
    use. The certificate has a private key, is valid now, has a usable status, is not self-signed for a
    connector to Microsoft 365, and is enabled for SMTP, or SMTP is enabled on it by this run (O(enable_smtp)).
    The module prefers the renewed certificate that the replacement policy picks on the source servers, which
    is what M(exchange.transport_tls.receive_connector_tls) picks for their receive connectors. When no name
    qualifies, the connector is blocked, and the reason lists, per server, what is missing."
  - The module never changes a send connector so that one of its source servers with facts can no longer
    send. With O(certificate=auto), a connector whose current name every source server can use is left alone.
    So is a disabled connector, and one without a TlsCertificateName (which uses its FQDN).
  - SMTP is enabled keeping each server's default SMTP (internal transport) certificate, as
    M(exchange.transport_tls.receive_connector_tls) does. On Mailbox source servers, this runs through
    C(Enable-ExchangeCertificate -Server) from the Mailbox server the task runs on. A certificate without SMTP
    on an Edge Transport source server blocks the connector, because only a run on the Edge itself can enable
    it.
  - The writes run on the Mailbox server the task runs on (RV(run_on)), which must be an inventory host with
    facts. On a subscribed Edge server, C(Set-SendConnector) is disabled, so on an Edge host the module refuses
    and names the Mailbox hosts to use instead.
  - Every write is guarded. In the write launch, each connector (and the hybrid configuration) is read again
    and must still hold the value the decision was made from, and each Mailbox source server's chosen certificate
    must still be in its store, before any write runs (an Edge server's store cannot be read from a Mailbox
    server, so it is checked from its facts only). Otherwise nothing is written and the message shows the value
    read and the live value. Every write is read back, and RV(changes) reports the value read back.
  - "Refusals fail the task before anything changes. The module refuses a thumbprint that is in the store of no
    source server with facts nor of the server the task runs on, an unknown O(identity) (the message lists the
    organisation's send connectors), and a task host that has no facts or is an Edge server. With O(identity), a
    connector that cannot be converged is a refusal too."
  - Without O(identity), a connector that cannot be converged is left unchanged and reported with
    RV(plans[].status=blocked). The other connectors still converge, and then the task fails, naming the blocked
    connectors and why.
  - Supports check mode and diff mode. Check mode makes the same decision and reports RV(changed), RV(changes)
    and the diff, with no launch at all. Blocked connectors fail the task in check mode too. Diff mode shows each
    changed object's properties before and after.
options:
  identity:
    description:
      - The send connectors to converge, by name (or identity), case-insensitive.
      - Omitted, every send connector of the organisation is considered. With O(certificate=auto), only those
        whose current name some source server cannot use change.
    type: list
    elements: str
  certificate:
    description:
      - V(auto) applies the collection's replacement policy on each source server (see
        M(exchange.transport_tls.exchange_certificate_facts)). It keeps a current name that every source server
        can use. Otherwise it takes the first of the policy's choices that every source server holds.
      - Otherwise, a thumbprint (40 hexadecimal characters, any case, spaces or colons allowed as Windows and OpenSSL show them) of a
        certificate in the store of the server the task runs on or of a source server. The module uses its
        C(<I>issuer<S>subject) name, and checks, on each source server, that server's own certificate with that
        issuer and subject. A renewal has another thumbprint on each server, but the same name.
      - With O(identity), a thumbprint replaces the current name even when every source server can use it, and
        pins a name on a connector that has none. Without O(identity), like V(auto), it only replaces names that
        some source server cannot use or that expire within O(expiring_days).
    type: str
    default: auto
  enable_smtp:
    description:
      - When a source server's certificate for the chosen name is not enabled for SMTP, enable it on that server,
        keeping its default SMTP certificate (see the notes of M(exchange.transport_tls.receive_connector_tls)).
        On an Edge source server, this cannot be done from here, and the connector is blocked.
      - With V(false), a source server whose certificate lacks SMTP does not hold the name.
    type: bool
    default: true
  ignore_source_servers:
    description:
      - Source servers, by name or FQDN, that may be missing from the facts without blocking their connectors,
        such as servers being decommissioned or out of reach.
      - A listed server is not checked, whether or not it has facts, so the new name may be one it does not hold.
      - RV(plans[].ignored_source_servers) lists those that were skipped.
      - A name that is the source server of no send connector in the facts ignores nothing; the module warns, naming
        it and the source servers.
    type: list
    elements: str
    default: []
  expiring_days:
    description:
      - A current name whose certificate expires within this many days on some source server is replaced when a
        renewal is held by every source server; until then it is kept. The same meaning as in
        M(exchange.transport_tls.exchange_certificate_facts); use the audit's value. Between V(0) and V(3650).
    type: int
    default: 30
  update_hybrid_configuration:
    description:
      - Also set the C(TlsCertificateName) of C(Get-HybridConfiguration) to the name of the connector to
        Microsoft 365 (C(Set-HybridConfiguration)).
      - The Hybrid Configuration Wizard owns that value, and mail flow does not read it. But a stale value
        misleads the next run of the wizard, which starts from it and writes it back to the connectors.
      - The value changes only when the connectors to Microsoft 365 in scope agree on one name. It is blocked
        when that connector is blocked, and skipped when the server the task runs on has no hybrid
        configuration.
    type: bool
    default: false
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
  - "Launches (PowerShell starts on the server the task runs on): none when nothing changes or in check mode;
    one for the guarded writes and their read-backs; one more, before it, when SMTP must be enabled on some
    source server. The decision reads nothing: it uses the facts already gathered."
  - "A launch that writes can fail without telling what it did: its reply lost on the way back (a dropped
    connection, a read timeout), unreadable (MODULE FAILURE, for example when ansible-core's PowerShell wrapper
    adds a second JSON document after the module's own), or a write cmdlet that threw. The module then makes one
    more launch that reads only the objects it meant to change (their C(TlsCertificateName); for SMTP enabling, the
    certificate's Services and the server's C(InternalTransportCertificateThumbprint)). A change read back at the
    value sent is in RV(changes), one read back at its value before is not applied, and any other (the read failed
    too, or a third value) is in RV(unknown_changes). The task fails, and its message lists all three and what to do."
  - "The facts are as fresh as the gathering. They are taken from C(hostvars), so facts gathered in an earlier
    play of the same run, or kept in a fact cache, count too. The guards catch a connector that changed since
    then, or a chosen certificate that left a Mailbox server's store, but not a certificate that expired in
    between. After M(exchange.transport_tls.receive_connector_tls) changed a server, its facts are those that
    module returned, updated with what it changed. Gather again
    before this task when in doubt."
  - The default SMTP certificate of each server is never replaced. Microsoft's own pattern re-enables the
    previous default in the same launch and checks it again before any connector is written. On an Edge server,
    EdgeSync pins the default certificate, which is one reason the module does not touch Edge certificates.
  - "A connector with an Edge source server is never given a C(TlsCertificateName) longer than 256 characters: the
    Edge's AD LDS schema caps the attribute, so EdgeSync would not copy it and the Edge would keep sending with
    the old name (454 4.7.5; Microsoft KB 4052493). The connector is blocked with the reason. EdgeSync copies a
    change within minutes, so the Edge's own copy is checked by the next run: when the copy in an Edge's facts
    differs from the organisation's value, the plan says so in a warning (RV(plans[].edge_copies) shows the
    copies)."
  - A source server's certificate whose private key Exchange did not report (the remote session caveat, see
    M(exchange.transport_tls.exchange_certificate_facts)) counts as unusable, so its connector is blocked.
    Renew the Auth certificate if it has expired, then gather the facts again. When a chosen certificate's Services are unknown,
    O(enable_smtp=true) blocks the connector (whether SMTP must be enabled is unknown) and O(enable_smtp=false)
    proceeds on the assumption that SMTP is enabled, with a warning. A current name whose Services are unknown
    is not counted as broken.
  - The module runs its cmdlets through M(exchange.transport_tls.exchange_command). In check mode, that module
    runs only C(Get-*) cmdlets.
seealso:
  - module: exchange.transport_tls.exchange_certificate_facts
  - module: exchange.transport_tls.receive_connector_tls
  - name: Set-SendConnector
    description: The cmdlet that sets a send connector's TlsCertificateName.
    link: https://learn.microsoft.com/powershell/module/exchange/set-sendconnector
  - name: Enable-ExchangeCertificate
    description: The cmdlet that enables a certificate for SMTP, and its prompt about the default SMTP certificate.
    link: https://learn.microsoft.com/powershell/module/exchange/enable-exchangecertificate
  - name: Set-HybridConfiguration
    description: The cmdlet behind O(update_hybrid_configuration).
    link: https://learn.microsoft.com/powershell/module/exchange/set-hybridconfiguration
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
# In a play over every Exchange server, Mailbox and Edge, after
#   - exchange.transport_tls.exchange_certificate_facts:
# has run on all of them (in this play or an earlier one):

- name: Converge every drifted send connector, once, on a Mailbox server
  exchange.transport_tls.send_connector_tls:
  run_once: true
  delegate_to: "{{ groups['exchange_mailbox'] | first }}"
  register: send

- name: Show the decision for each send connector
  ansible.builtin.debug:
    msg: "{{ item.object }}: {{ item.status }} ({{ item.reason }})"
  loop: "{{ send.plans }}"
  loop_control:
    label: "{{ item.object }}"

- name: Converge the connector to Microsoft 365 and the hybrid configuration, ignoring a retired server
  exchange.transport_tls.send_connector_tls:
    identity:
      - Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00
    update_hybrid_configuration: true
    ignore_source_servers: [EX03]
  run_once: true
  delegate_to: "{{ groups['exchange_mailbox'] | first }}"

- name: Preview pinning a certificate by thumbprint on one connector; nothing is written in check mode
  exchange.transport_tls.send_connector_tls:
    identity: [Internet via smarthost]
    certificate: "5b 2f 8c 1e 9a 0d 4e 7f 6a 3b 2c 1d 0e 9f 8a 7b 6c 5d 4e 3f"
  run_once: true
  delegate_to: "{{ groups['exchange_mailbox'] | first }}"
  check_mode: true
  diff: true
  register: preview

- name: Show what each source server would use
  ansible.builtin.debug:
    msg: "{{ preview.plans | map(attribute='source_servers') | list }}"

- name: Only use names whose certificates already have SMTP on every source server
  exchange.transport_tls.send_connector_tls:
    enable_smtp: false
  run_once: true
  delegate_to: "{{ groups['exchange_mailbox'] | first }}"
"""

RETURN = r"""
changed:
  description: Whether something was changed. In check mode, whether something would be changed.
  returned: always
  type: bool
  sample: true
launches:
  description: PowerShell launches this task made on the server it ran on (0 to 3, see the notes).
  returned: always
  type: int
  sample: 1
run_on:
  description: The inventory host the decision was made for and the writes ran on (the C(delegate_to) host, else
    the task's host).
  returned: when the decision was made
  type: str
  sample: ex01.contoso.com
plans:
  description: The decision for each send connector considered, then, with O(update_hybrid_configuration), for
    the hybrid configuration.
  returned: always
  type: list
  elements: dict
  contains:
    object_type:
      description: V(send_connector) or V(hybrid_configuration).
      type: str
      sample: send_connector
    object:
      description: The send connector's name, or C(Hybrid Configuration).
      type: str
      sample: Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00
    status:
      description:
        - V(change), when it changes or SMTP is enabled on a source server's certificate for it.
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
        when there is none to propose.
      type: str
      sample: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    reason:
      description: Why, in words. For a blocked connector, what each source server lacks and what to do.
      type: str
      sample: every source server holds it
    certificate:
      description: Always null here. Each source server's certificate is in RV(plans[].source_servers).
      type: str
      sample: null
    source_servers:
      description:
        - For a send connector, each source server with facts (by Exchange server name) and the certificate it
          would use for RV(plans[].expected), or for RV(plans[].current) when that is kept.
        - C(role) is the server's role, V(Mailbox) or V(Edge).
        - C(thumbprint) is that certificate, or null.
        - C(status) is V(ok), V(smtp_to_enable) (this run enables SMTP on it), V(services_unknown) (Exchange did
          not return its services), or V(missing) (the server cannot
          use the name).
        - C(reason) says why, for V(missing).
      returned: for enabled send connectors
      type: dict
      sample:
        EX01: {role: Mailbox, thumbprint: 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F, status: ok, reason: null}
        EX02: {role: Mailbox, thumbprint: 9C8B7A6F5E4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B, status: smtp_to_enable, reason: null}
    ignored_source_servers:
      description: The connector's source servers that O(ignore_source_servers) left unchecked.
      returned: for enabled send connectors
      type: list
      elements: str
      sample: [EX03]
    edge_copies:
      description:
        - For a connector with Edge source servers, the C(TlsCertificateName) each Edge read for itself (its EdgeSync
          copy), by server name; null when the Edge's facts do not list the connector.
        - A copy that differs from RV(plans[].current) means EdgeSync has not copied the organisation's value to that
          Edge; the module warns.
      returned: for send connectors with an Edge source server that has facts
      type: dict
      sample: {EDGE01: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"}
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
      description: V(send_connector), V(hybrid_configuration), or V(certificate) (SMTP enabled on it).
      type: str
      sample: send_connector
    object:
      description: The connector name, C(Hybrid Configuration), or the certificate thumbprint.
      type: str
      sample: Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00
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
      description: For a certificate, the source server it is on. Null for organisation-wide objects.
      type: str
      sample: null
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
  description: Certificates on source servers on which SMTP is enabled (or would be, in check mode), keeping each
    server's default SMTP certificate.
  returned: always
  type: list
  elements: dict
  contains:
    server:
      description: The source server.
      type: str
      sample: EX02
    enabled:
      description: The thumbprint of the certificate SMTP is enabled on.
      type: str
      sample: 9C8B7A6F5E4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B
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
      description: The server's default SMTP certificate's thumbprint before, and as read back after (null until
        read).
      type: dict
      sample: {before: 1F2E3D4C5B6A79880796A5B4C3D2E1F00F1E2D3C, after: 1F2E3D4C5B6A79880796A5B4C3D2E1F00F1E2D3C}
    done:
      description: Whether SMTP was enabled and the default read back unchanged.
      type: bool
      sample: true
"""
