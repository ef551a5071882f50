# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds documentation only; the module is the action plugin
# plugins/action/exchange_certificate_facts.py.

DOCUMENTATION = r"""
---
module: exchange_certificate_facts
short_description: Read a server's whole transport TLS picture in one launch, with findings
version_added: 0.1.0
description:
  - Reads, in one Exchange session (one PowerShell launch), the server, its certificates, its
    receive connectors, the organisation's send connectors, the internal transport (default SMTP)
    certificate, the hybrid configuration (not on Edge) and the transport TLS events 12014, 12016 and
    12018 of the last O(event_hours).
  - Interprets them on the controller. It computes which certificate Exchange's STARTTLS selection
    uses for each connector today, and it lists findings, such as a TlsCertificateName that no longer
    names any certificate after a renewal (KB2989382). Each finding carries the replacement that the
    collection's replacement policy proposes.
  - Names are compared as Exchange and HealthChecker compare them, case-insensitively and exactly. A
    value that would match only after normalising spaces is reported as likely typed by hand.
  - Never changes anything; safe in check mode, where it returns the same facts.
options:
  server:
    description:
      - The Exchange server name of the target host, as C(Get-ExchangeServer) shows it.
      - Defaults to the inventory host name up to its first dot. The module checks that the computer
        it reached is this server, and fails if it is not.
      - A name (letters, digits and hyphens, or an FQDN), not an IP address and not empty.
    type: str
  event_hours:
    description:
      - How far back to read the transport TLS events (12014, 12016, 12018) from the Application log.
      - V(0) skips reading events. At most 200 events are read.
    type: int
    default: 24
  expiring_days:
    description:
      - A certificate in use that expires within this many days is reported as
        C(tls_certificate_expiring_soon).
    type: int
    default: 30
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - exchange.transport_tls.session
attributes:
  check_mode:
    support: full
    details: Reads only; returns the same facts in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: windows
notes:
  - Makes exactly one call of M(exchange.transport_tls.exchange_command) per host.
  - "Validity is judged by the server's clock (RV(ansible_facts.exchange_tls.collected_at)), the clock
    Exchange uses."
  - Over a remote PowerShell session that does not ask for C(serializationLevel=Full), or when
    Exchange's serialization signing fails (an expired or missing Auth certificate),
    C(Get-ExchangeCertificate) does not return Services, Status or the private key. These are then
    reported as V(unknown), never as "no SMTP", and the finding C(certificate_properties_unknown) says
    so. When only the raw certificate comes back, thumbprint, names, dates and domains are read from it.
  - "Whenever the raw certificate (RawData) arrives, the key, the signature algorithm and the DNS names are read
    from it on the controller, so they are known even when Exchange's own properties are missing. A certificate
    that came back without Exchange's properties is the session's copy rebuilt from RawData, whose private key
    flag says nothing about the server's store; RV(ansible_facts.exchange_tls.certificates[].has_private_key)
    is then V(unknown), and no replacement is chosen on it."
  - "Exchange enum values (Services, Status, RootCAType, AuthMechanism, PermissionGroups, ServerRole,
    TransportRole, TlsAuthLevel) are read by name (V(IIS, SMTP)) or, from a session that could not rehydrate
    Exchange's types, as their integer (V(24)); both give the same facts. Bits no known member names are kept
    as V(unknown(N)); a value that is neither fails the task, naming the property."
  - Disabled connectors are reported in the facts but get no findings.
  - "Finding codes, with their default severity. V(error): C(tls_certificate_name_not_found),
    C(tls_certificate_name_invalid), C(tls_certificate_expired), C(tls_certificate_smtp_not_enabled),
    C(tls_certificate_missing_private_key), C(tls_not_in_auth_mechanism) (a warning on a port 25
    connector that is neither hybrid nor named), C(hybrid_tls_certificate_name_missing),
    C(internal_transport_certificate_expired), C(internal_transport_certificate_missing),
    C(tls_certificate_not_found_for_fqdn), C(no_replacement_certificate) and
    C(ambiguous_replacement_certificate) (both take the severity of the finding they complete),
    C(hybrid_send_connector_cloud_services_disabled).
    V(warning): C(tls_certificate_expiring_soon), C(hybrid_configuration_tls_certificate_name_not_found),
    C(tls_certificate_status_not_valid), C(tls_certificate_self_signed_for_hybrid),
    C(tls_certificate_not_third_party_for_hybrid), C(tls_certificate_name_subject_only),
    C(hybrid_send_connector_require_tls_disabled), C(hybrid_send_connector_tls_auth_level),
    C(hybrid_send_connector_tls_domain),
    C(certificate_properties_unknown), C(facts_incomplete), and C(transport_tls_event) for 12014 and 12016
    (V(info) for 12018)."
  - "The replacement policy, for a stale or unusable name. Candidates are certificates in this server's store with a
    private key, valid now, with a status other than Revoked, Invalid, DateInvalid or PendingRequest, and,
    for hybrid or cloud connectors, issued under a third-party root (RootCAType ThirdParty; an Enterprise,
    Group Policy or unknown root is not accepted). They rank, best first: the same subject as the
    stale name; the same subject CN; domains covering the stale CN or the connector FQDN. Within the
    best rank, CA-issued certificates come before self-signed ones, then the newest NotBefore, then the
    latest NotAfter. When the best candidates have different subjects, the answer is
    C(ambiguous_replacement_certificate), never a guess."
  - "A hybrid receive connector (one that accepts mail.protection.outlook.com) is not chosen for by its FQDN:
    C(Default Frontend <SERVER>) announces the server's own FQDN, which the Hybrid Configuration Wizard leaves
    alone, and Microsoft 365 checks the certificate against its own connector's domain. When its stale name
    finds nothing, the names of the hybrid identity are tried in turn (the hybrid configuration, the send
    connectors to Microsoft 365, the other hybrid receive connectors), then the one third-party certificate
    in the store. In a hybrid through Edge servers, a Mailbox server the hybrid configuration does not list
    is not held to the hybrid rules. See docs/hybrid.md."
seealso:
  - module: exchange.transport_tls.exchange_command
  - name: KB2989382
    description: Can't receive mail in a hybrid environment after you install a new certificate.
    link: https://learn.microsoft.com/exchange/troubleshoot/email-delivery/cannot-receive-mail-with-new-certificate
  - name: Selection of inbound STARTTLS certificates
    description: How Exchange transport picks a connector's certificate.
    link: https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates-selection
author:
  - exchange.transport_tls contributors (@exchange-transport-tls)
"""

EXAMPLES = r"""
- name: Read the transport TLS facts of every Exchange server
  exchange.transport_tls.exchange_certificate_facts:
  register: tls

- name: Fail when a connector names a certificate that is gone
  ansible.builtin.assert:
    that: tls.findings | selectattr('code', 'equalto', 'tls_certificate_name_not_found') | list | length == 0
    fail_msg: "{{ tls.findings | map(attribute='message') | list }}"

- name: Show the certificate each connector presents today
  ansible.builtin.debug:
    msg: "{{ item.identity }}: {{ item.selected_certificate | default('no STARTTLS', true) }}"
  loop: "{{ ansible_facts.exchange_tls.receive_connectors }}"
  loop_control:
    label: "{{ item.identity }}"

- name: Read with an explicit credential (the double hop without become), over the last week
  exchange.transport_tls.exchange_certificate_facts:
    server: EX01
    event_hours: 168
    expiring_days: 45
    session: remote
    username: CONTOSO\svc-exchange-audit
    password: "{{ vault_exchange_audit_password }}"
"""

RETURN = r"""
launches:
  description: PowerShell launches this task made on the host (always 1).
  returned: always
  type: int
  sample: 1
findings:
  description:
    - What is wrong, one entry per problem and object, errors first in the order found. Also in
      RV(ansible_facts.exchange_tls.findings).
  returned: success
  type: list
  elements: dict
  contains:
    code:
      description: The finding code (see the notes); codes are never renamed.
      type: str
      sample: tls_certificate_name_not_found
    severity:
      description: V(error), V(warning) or V(info).
      type: str
      sample: error
    object_type:
      description: V(receive_connector), V(send_connector), V(certificate), V(hybrid_configuration) or V(transport_service).
      type: str
      sample: receive_connector
    object:
      description: The object's identity (a receive connector's C(SERVER\Name), a send connector's name,
        C(Hybrid Configuration), the server or the event's service).
      type: str
      sample: EX01\Default Frontend EX01
    message:
      description: What is wrong and what to do, for a person.
      type: str
      sample: "No certificate in the store of EX01 has the issuer and subject of <I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com; ..."
    current:
      description: The value found, when there is one.
      type: str
      sample: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    expected:
      description: The value it should have, such as the proposed replacement name, or null.
      type: str
      sample: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
    certificates:
      description: Thumbprints involved (the proposed replacement, the candidates, the certificate at fault).
      type: list
      elements: str
      sample: ["5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F"]
ansible_facts:
  description: Facts about the server's transport TLS.
  returned: success
  type: complex
  contains:
    exchange_tls:
      description: The server's transport TLS picture.
      type: complex
      contains:
        collected_at:
          description: The server's clock when the facts were read (UTC ISO 8601); validity is judged by it.
          type: str
          sample: "2026-11-27T12:00:05Z"
        server:
          description: The server (C(Get-ExchangeServer)).
          type: dict
          sample: {name: EX01, fqdn: ex01.contoso.com, role: Mailbox, version: 15.2.1544.4, edition: Standard,
                   site: Default-First-Site-Name, computer_name: EX01}
        certificates:
          description: The certificates in the server's store (C(Get-ExchangeCertificate)).
          type: list
          elements: dict
          contains:
            thumbprint:
              description: Upper-case hex SHA-1 thumbprint.
              type: str
            subject:
              description: The subject exactly as Windows prints it (.NET form).
              type: str
            issuer:
              description: The issuer exactly as Windows prints it.
              type: str
            tls_certificate_name:
              description: The exact C(<I>issuer<S>subject) value a connector needs to name this certificate.
              type: str
            friendly_name:
              description: The friendly name, or null.
              type: str
            domains:
              description: The names in the certificate (CertificateDomains).
              type: list
              elements: str
            not_before:
              description: Start of validity (UTC ISO 8601).
              type: str
            not_after:
              description: End of validity (UTC ISO 8601).
              type: str
            days_remaining:
              description: Whole days until not_after; negative once expired.
              type: int
            expired:
              description: Whether not_after has passed.
              type: bool
            not_yet_valid:
              description: Whether not_before is still to come.
              type: bool
            services:
              description: The services the certificate is enabled for, or the string V(unknown) when Exchange did not say.
              type: raw
              sample: [IIS, SMTP]
            services_value:
              description: Services exactly as the session returned it (V(IIS, SMTP) or V(24)); a guard compares the
                live value with it.
              type: raw
            status:
              description: CertificateStatus (Valid, Revoked, ...), or V(unknown).
              type: str
            self_signed:
              description: Whether the certificate is self-signed.
              type: bool
            has_private_key:
              description: true, false, or V(unknown).
              type: raw
            root_ca_type:
              description: CertificateAuthorityType (ThirdParty, Registry, ...), or V(unknown).
              type: str
            is_internal_transport:
              description: Whether this is the default SMTP (internal transport) certificate.
              type: bool
            key:
              description: The public key read from RawData, such as V(RSA 2048) or V(ECDSA P-256), or null.
              type: str
            key_size:
              description: The key size in bits, from RawData or else Exchange's PublicKeySize, or null.
              type: int
            signature_algorithm:
              description: The signature algorithm as Windows names it (its Oid FriendlyName, such as V(sha256RSA)),
                read from RawData, or null.
              type: str
            unknown_properties:
              description: The Exchange properties that did not arrive (Services, Status, RootCAType, HasPrivateKey).
              type: list
              elements: str
            properties_complete:
              description: False when services, status, private key or root CA type are unknown.
              type: bool
          sample:
            - thumbprint: 5B2F8C1E9A0D4E7F6A3B2C1D0E9F8A7B6C5D4E3F
              subject: CN=mail.contoso.com
              issuer: "CN=R11, O=Let's Encrypt, C=US"
              tls_certificate_name: "<I>CN=R11, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
              friendly_name: null
              domains: [mail.contoso.com, autodiscover.contoso.com]
              not_before: "2026-10-19T00:00:00Z"
              not_after: "2027-01-17T00:00:00Z"
              days_remaining: 50
              expired: false
              not_yet_valid: false
              services: [IIS]
              status: Valid
              self_signed: false
              has_private_key: true
              root_ca_type: ThirdParty
              is_internal_transport: false
              key: RSA 2048
              key_size: 2048
              signature_algorithm: sha256RSA
              unknown_properties: []
              properties_complete: true
        receive_connectors:
          description: The server's receive connectors (C(Get-ReceiveConnector -Server)).
          type: list
          elements: dict
          contains:
            identity:
              description: C(SERVER\Name).
              type: str
            name:
              description: The connector name.
              type: str
            server:
              description: The server it belongs to.
              type: str
            transport_role:
              description: FrontendTransport or HubTransport (null on Edge).
              type: str
            bindings:
              description: IP bindings such as C(0.0.0.0:25).
              type: list
              elements: str
            ports:
              description: The ports of the bindings.
              type: list
              elements: int
            fqdn:
              description: The connector FQDN, or null.
              type: str
            auth_mechanism:
              description: AuthMechanism flags (STARTTLS needs V(Tls)).
              type: list
              elements: str
            permission_groups:
              description: PermissionGroups flags.
              type: list
              elements: str
            tls_certificate_name:
              description: The C(<I>issuer<S>subject) value, or null.
              type: str
            tls_domain_capabilities:
              description: TlsDomainCapabilities entries.
              type: list
              elements: str
            require_tls:
              description: RequireTLS.
              type: bool
            enabled:
              description: Whether the connector is enabled.
              type: bool
            hybrid:
              description: True when it carries a C(mail.protection.outlook.com) capability (or the China or US Government cloud's).
              type: bool
            remote_ip_ranges:
              description:
                - RemoteIPRanges entries as Exchange prints them (a single address, a CIDR range or a Lo-Hi range), or null
                  when Exchange returned none. Of the connectors sharing a binding, the one whose range holds a sender's
                  address most specifically answers that sender.
              type: list
              elements: str
              version_added: 0.2.0
            selected_certificate:
              description: The thumbprint Exchange's inbound STARTTLS selection picks today, or null (no STARTTLS).
              type: str
            starttls_offered:
              description: Whether STARTTLS is offered (a certificate is selected).
              type: bool
          sample:
            - identity: EX01\Default Frontend EX01
              name: Default Frontend EX01
              server: EX01
              transport_role: FrontendTransport
              bindings: ["0.0.0.0:25", "[::]:25"]
              ports: [25]
              fqdn: mail.contoso.com
              auth_mechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer]
              permission_groups: [AnonymousUsers, ExchangeUsers, ExchangeServers, ExchangeLegacyServers]
              tls_certificate_name: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
              tls_domain_capabilities: ["mail.protection.outlook.com:AcceptCloudServicesMail"]
              require_tls: false
              enabled: true
              hybrid: true
              remote_ip_ranges: ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"]
              selected_certificate: null
              starttls_offered: false
        send_connectors:
          description: The organisation's send connectors (on Edge, those it is a source server of).
          type: list
          elements: dict
          contains:
            identity:
              description: The connector identity.
              type: str
            name:
              description: The connector name.
              type: str
            address_spaces:
              description: AddressSpaces as Exchange prints them.
              type: list
              elements: str
            source_transport_servers:
              description: The source servers.
              type: list
              elements: str
            smart_hosts:
              description: SmartHosts.
              type: list
              elements: str
            fqdn:
              description: The connector FQDN, or null.
              type: str
            tls_certificate_name:
              description: The C(<I>issuer<S>subject) value, or null.
              type: str
            tls_auth_level:
              description: TlsAuthLevel, or null.
              type: str
            tls_domain:
              description: TlsDomain, or null.
              type: str
            require_tls:
              description: RequireTLS.
              type: bool
            cloud_services_mail_enabled:
              description: CloudServicesMailEnabled.
              type: bool
            enabled:
              description: Whether the connector is enabled.
              type: bool
            cloud:
              description: Whether it sends to Microsoft 365, as HealthChecker classifies it (CloudServicesMailEnabled,
                an Office 365 smart host, or an Office 365 address space).
              type: bool
            this_server_is_source:
              description: Whether this server is one of its source servers.
              type: bool
            selected_certificate:
              description: The thumbprint this server uses for the connector, or null (not a source server, or nothing matches).
              type: str
          sample:
            - name: Outbound to Office 365 - 6e2b4c3a-0d7e-4c55-9a1e-2f4a3b9c1d00
              address_spaces: ["smtp:contoso.mail.onmicrosoft.com;1"]
              source_transport_servers: [EX01, EX02]
              cloud: true
              this_server_is_source: true
              tls_certificate_name: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
              selected_certificate: null
        hybrid_configuration:
          description: C(Get-HybridConfiguration), or null (not hybrid, an Edge server, or unreadable).
          type: dict
          sample:
            tls_certificate_name: "<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"
            receiving_transport_servers: [EX01]
            sending_transport_servers: [EX01, EX02]
            edge_transport_servers: []
            features: [OnlineArchive, FreeBusy, MailTips, MessageTracking, OwaRedirection, SecureMail, Photos]
            this_server_listed: true
        internal_transport_certificate:
          description: The thumbprint of the default SMTP certificate (C(Get-TransportService)), or null.
          type: str
          sample: 0A1B2C3D4E5F60718293A4B5C6D7E8F901234567
        domain_controller:
          description:
            - The domain controller that served the read (C(OriginatingServer) of C(Get-TransportService)); null on an
              Edge server, whose directory is its own AD LDS.
            - The converging modules pass it as C(-DomainController) to every guard, write and read-back when
              O(exchange.transport_tls.receive_connector_tls#module:domain_controller) is not set, so a read-back never
              comes from a domain controller that has not replicated the write yet.
          type: str
          sample: dc1.contoso.com
        events:
          description: Transport TLS events (12014, 12016, 12018) of the last O(event_hours), newest first.
          type: list
          elements: dict
          sample:
            - id: 12014
              provider: MSExchangeFrontEndTransport
              level: Error
              time_created: "2026-11-27T11:58:00Z"
              message: Microsoft Exchange could not find a certificate that contains the domain name ...
        read_errors:
          description: Reads of the batch that failed without stopping it (hybrid configuration, events), and certificates that could not be read.
          type: list
          elements: dict
          sample: []
        findings:
          description: The same list as RV(findings).
          type: list
          elements: dict
"""
