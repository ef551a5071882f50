# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is wrong with a server's transport TLS, from its facts: the finding codes.

Codes are an interface (reports, CI policies and ``scope`` expressions key on
them): add codes, never rename one. Each finding tells a person what is wrong
and what to do; ``expected`` carries the replacement name the policy
(replacement.py) proposes, so an audit shows exactly what a remediation would
write.

Names are compared as Exchange and HealthChecker compare them: issuer and
subject each case-insensitively and exactly (tls_name.names_match). A value
that matches only after normalising spacing is called out as hand-typed.
"""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import hybrid, tls_name
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.certificate_selection import (
    covers,
    loosely_matching_certificates,
    matching_certificates,
    parse_time,
    select_inbound,
    select_outbound,
)
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.replacement import (
    AMBIGUOUS,
    FOUND,
    Replacement,
    choose_replacement,
    not_third_party_because,
)

ERROR, WARNING, INFO = "error", "warning", "info"
# The status of an object the user exempted (connector_tls_exempt, the modules' exempt option): its findings are
# reported with the reason, and it is neither planned, nor changed, nor counted as drift.
EXEMPT = "exempt"

# code: (default severity, what it means). The module's documentation lists these.
CODES = {
    "tls_certificate_name_not_found": (ERROR, "no certificate in the server's store matches the connector's issuer and subject"),
    "tls_certificate_name_invalid": (ERROR, "the TlsCertificateName value is not valid <I>issuer<S>subject syntax"),
    "tls_certificate_expired": (ERROR, "the certificate the connector uses has expired"),
    "tls_certificate_expiring_soon": (WARNING, "the certificate the connector uses expires within expiring_days"),
    "tls_certificate_smtp_not_enabled": (ERROR, "the certificate selected for a connector is not enabled for SMTP"),
    "tls_certificate_missing_private_key": (ERROR, "the certificates matching the connector have no private key"),
    "tls_not_in_auth_mechanism": (ERROR, "the receive connector's AuthMechanism lacks Tls, so STARTTLS is never offered"),
    "hybrid_tls_certificate_name_missing": (ERROR, "a hybrid connector has no TlsCertificateName"),
    "hybrid_configuration_tls_certificate_name_not_found": (WARNING, "the hybrid configuration names a certificate this hybrid server does not hold"),
    "internal_transport_certificate_expired": (ERROR, "the default SMTP (internal transport) certificate has expired"),
    "internal_transport_certificate_missing": (ERROR, "the default SMTP (internal transport) certificate is unset or not in the store"),
    "transport_tls_event": (WARNING, "transport logged a TLS certificate event (12014, 12016 or 12018) in the last event_hours"),
    "no_replacement_certificate": (ERROR, "no certificate on the server can replace a stale or unusable name"),
    "ambiguous_replacement_certificate": (ERROR, "several different certificates could replace a stale name; choose one by thumbprint"),
    "tls_certificate_not_found_for_fqdn": (ERROR, "a connector without TlsCertificateName has no certificate for its FQDN (event 12014)"),
    "tls_certificate_status_not_valid": (WARNING, "the certificate the connector uses has a status other than Valid"),
    "tls_certificate_self_signed_for_hybrid": (WARNING, "a hybrid or cloud connector uses a self-signed certificate"),
    "certificate_properties_unknown": (WARNING, "Exchange did not return Services, Status or the private key of some certificates"),
    "facts_incomplete": (WARNING, "a read of the batch failed; findings that need it are missing"),
    "tls_certificate_not_third_party_for_hybrid": (
        WARNING, "a hybrid or cloud connector uses a certificate whose root is not a third-party CA (RootCAType)"),
    "tls_certificate_name_subject_only": (
        WARNING, "the TlsCertificateName has no issuer part; how transport matches it is not documented: verify with the SMTP probe"),
    "hybrid_send_connector_cloud_services_disabled": (
        ERROR, "a send connector to Microsoft 365 has CloudServicesMailEnabled false (HCW sets true)"),
    "hybrid_send_connector_require_tls_disabled": (
        WARNING, "a send connector to Microsoft 365 has RequireTLS false (HCW sets true)"),
    "hybrid_send_connector_tls_auth_level": (
        WARNING, "a send connector to Microsoft 365 has TlsAuthLevel neither CertificateValidation nor DomainValidation"),
    "hybrid_send_connector_tls_domain": (
        WARNING, "a send connector to Microsoft 365 validates a TlsDomain other than mail.protection.outlook.com"),
}

# Where a proposal lands; the hybrid configuration is not used for mail, so SMTP does not matter there.
_CONVERGING_MODULE = {
    "receive_connector": "exchange.transport_tls.receive_connector_tls",
    "send_connector": "exchange.transport_tls.send_connector_tls",
}

_EVENT_SEVERITY = {12014: WARNING, 12016: WARNING, 12018: INFO}
_EVENT_MEANING = {
    12014: "transport found no certificate for a connector and does not offer STARTTLS",
    12016: "the certificate transport uses for STARTTLS has expired",
    12018: "the STARTTLS certificate expires soon",
}


def _finding(code, object_type, obj, message, current=None, expected=None, certificates=None, severity=None) -> dict:
    return {
        "code": code,
        "severity": severity or CODES[code][0],
        "object_type": object_type,
        "object": obj,
        "message": message,
        "current": current,
        "expected": expected,
        "certificates": list(certificates or []),
    }


class _Analysis:
    def __init__(self, facts: dict, expiring_days: int):
        self.facts = facts
        self.certificates = facts["certificates"]
        self.server = facts["server"]
        self.now = parse_time(facts["collected_at"])
        self.expiring_days = expiring_days
        self.found: list[dict] = []
        # Edge-based hybrid: a Mailbox server not listed in the hybrid configuration holds no hybrid certificate.
        self.hybrid_exempt = hybrid.edge_hybrid_exempt(facts)

    def add(self, *args, **kwargs) -> dict:
        finding = _finding(*args, **kwargs)
        self.found.append(finding)
        return finding

    # -- replacement proposals -------------------------------------------------

    def choose(self, stale_name, fqdn, public_only: bool) -> Replacement:
        # A hybrid connector also follows the organisation's hybrid identity (hybrid.py); a hybrid receive
        # connector's caller passes no FQDN (Default Frontend announces the server's own).
        if public_only:
            return choose_replacement(self.certificates, self.now, stale_name=stale_name, fqdn=fqdn, public_only=True,
                                      hints=hybrid.identity_names(self.facts))
        return choose_replacement(self.certificates, self.now, stale_name=stale_name, fqdn=fqdn)

    def propose(self, finding: dict, stale_name, fqdn, public_only: bool, current_thumbprint=None) -> Replacement:
        """Attach the policy's proposal to a finding, or add the finding that says why there is none."""
        choice = self.choose(stale_name, fqdn, public_only)
        where = (finding["object_type"], finding["object"])
        if choice.status == FOUND:
            cert = choice.certificate
            if cert["thumbprint"] == current_thumbprint:
                return choice
            finding["expected"] = choice.name
            finding["certificates"] = [cert["thumbprint"]]
            finding["message"] += (
                f" Proposed replacement: {choice.name} (thumbprint {cert['thumbprint']},"
                f" expires {cert['not_after']}), because {choice.basis}."
            )
            module = _CONVERGING_MODULE.get(finding["object_type"])
            if module and cert["services"] != "unknown" and "SMTP" not in cert["services"]:
                finding["message"] += (
                    " It is not enabled for SMTP yet: enable SMTP on it without replacing the default SMTP certificate"
                    f" ({module} does this)."
                )
        elif choice.status == AMBIGUOUS:
            thumbprints = [c["thumbprint"] for c in choice.candidates]
            listing = "; ".join(f"{c['thumbprint']} ({c['subject']})" for c in choice.candidates)
            self.add(
                "ambiguous_replacement_certificate", *where,
                f"{choice.basis[0].upper() + choice.basis[1:]} for several certificates with different subjects: {listing}. "
                "The policy does not guess between different certificates: choose one and name it for this connector (the"
                " certificate option, or connector_tls_certificates in the role: identity to thumbprint), or exempt the"
                " connector with a reason (connector_tls_exempt).",
                current=finding["current"], certificates=thumbprints, severity=finding["severity"],
            )
        else:
            reasons = "; ".join(f"{c['thumbprint']} ({c['subject']}): {why}" for c, why in choice.excluded)
            detail = f" Certificates considered and why they cannot be used: {reasons}." if reasons else (
                " No certificate in the store has the same subject, the same CN, or a name covering it."
                if not public_only else
                " No certificate in the store follows the hybrid identity (the names of the hybrid configuration and"
                " the hybrid connectors), and no certificate from a third-party CA is there."
            )
            self.add(
                "no_replacement_certificate", *where,
                f"No certificate on {self.server['name']} can replace {finding['current'] or 'the missing name'}.{detail}"
                " Install (import) the renewed certificate with its private key on this server, then run again.",
                current=finding["current"], certificates=[c["thumbprint"] for c, _reason in choice.excluded],
                severity=finding["severity"],
            )
        return choice

    # -- the certificate a connector uses --------------------------------------

    def check_selected(self, object_type, obj, cert, name, fqdn, public_only, verb) -> None:
        current = name or cert["tls_certificate_name"]
        if cert["expired"]:
            finding = self.add(
                "tls_certificate_expired", object_type, obj,
                f"The certificate {verb} ({cert['thumbprint']}, {cert['subject']}) expired on {cert['not_after']};"
                " Exchange still uses it"
                + (" and logs event 12016" if object_type == "receive_connector" else "")
                + ", and partners that validate certificates, Microsoft 365 among them, refuse it.",
                current=current, certificates=[cert["thumbprint"]],
            )
            self.propose(finding, name, fqdn, public_only, cert["thumbprint"])
        elif cert["days_remaining"] < self.expiring_days:
            finding = self.add(
                "tls_certificate_expiring_soon", object_type, obj,
                f"The certificate {verb} ({cert['thumbprint']}, {cert['subject']}) expires on {cert['not_after']},"
                f" in {cert['days_remaining']} days. Renew it and install the renewal on this server.",
                current=current, certificates=[cert["thumbprint"]],
            )
            self.propose_if_found(finding, name, fqdn, public_only, cert)
        if cert["services"] != "unknown" and "SMTP" not in cert["services"]:
            self.add(
                "tls_certificate_smtp_not_enabled", object_type, obj,
                f"The certificate {verb} ({cert['thumbprint']}) is not enabled for SMTP (services: "
                f"{', '.join(cert['services']) or 'None'}); Exchange still selects it but the TLS handshake fails."
                " Enable SMTP on it without replacing the default SMTP certificate"
                f" ({_CONVERGING_MODULE[object_type]} with enable_smtp does this).",
                current=current, expected=current, certificates=[cert["thumbprint"]],
            )
        status = cert["status"]
        if status != "unknown" and status.lower() != "valid":
            self.add(
                "tls_certificate_status_not_valid", object_type, obj,
                f"The certificate {verb} ({cert['thumbprint']}) has status {status}; a partner validating it"
                " (Microsoft 365 does) may refuse the connection. Check its chain and revocation on the server"
                " (Test-Certificate).",
                current=current, certificates=[cert["thumbprint"]],
            )
        if public_only and cert["self_signed"]:
            self.add(
                "tls_certificate_self_signed_for_hybrid", object_type, obj,
                f"The certificate {verb} ({cert['thumbprint']}) is self-signed; hybrid mail with Microsoft 365 needs"
                " a certificate from a public CA. Name a CA-issued certificate.",
                current=current, certificates=[cert["thumbprint"]],
            )
        elif public_only and not_third_party_because(cert) and cert.get("properties_complete", True):
            # (An unknown root of a certificate whose properties did not arrive: certificate_properties_unknown says so.)
            finding = self.add(
                "tls_certificate_not_third_party_for_hybrid", object_type, obj,
                f"The certificate {verb} ({cert['thumbprint']}, {cert['subject']}) cannot serve hybrid mail:"
                f" {not_third_party_because(cert)}. HCW and Microsoft 365 require a certificate from a trusted"
                " third-party CA; install one on this server and name it.",
                current=current, certificates=[cert["thumbprint"]],
            )
            if str(cert.get("root_ca_type") or "unknown").lower() != "unknown":
                self.propose(finding, name, fqdn, public_only, cert["thumbprint"])

    def propose_if_found(self, finding, name, fqdn, public_only, current: dict) -> None:
        """Propose a renewal for a certificate that expires soon: one that outlives it and covers what it covered."""
        choice = self.choose(name, fqdn, public_only)
        if choice.status != FOUND or choice.certificate["thumbprint"] == current["thumbprint"]:
            return
        renewal = choice.certificate
        if parse_time(renewal["not_after"]) <= parse_time(current["not_after"]):
            return
        if fqdn and covers(current, fqdn) and not covers(renewal, fqdn):
            return
        self.propose(finding, name, fqdn, public_only, current["thumbprint"])

    # -- objects ---------------------------------------------------------------

    def invalid_name(self, object_type, obj, name) -> bool:
        try:
            tls_name.parse_tls_certificate_name(name)
        except tls_name.TlsCertificateNameError as exc:
            self.add(
                "tls_certificate_name_invalid", object_type, obj,
                f"{exc.problem[0].upper() + exc.problem[1:]}: Exchange cannot match this value to any certificate."
                " Set it to '<I>' + the certificate's Issuer + '<S>' + its Subject, exactly as Get-ExchangeCertificate shows them.",
                current=name,
            )
            return True
        return False

    def not_found_message(self, name, where) -> str:
        message = f"No certificate in the store of {self.server['name']} has the issuer and subject of {name}; {where}"
        loose = loosely_matching_certificates(name, self.certificates)
        if loose:
            message += (
                f" The value matches {loose[0]['thumbprint']} ({loose[0]['tls_certificate_name']}) only after"
                " normalising spacing, case or separators: it was likely typed by hand, and Exchange compares exactly."
            )
        return message

    def subject_only(self, object_type, obj, name) -> None:
        """An <S>-only value: Exchange's parser accepts it, how transport matches it is not documented."""
        if tls_name.split_tls_certificate_name(name).issuer:
            return
        matches = matching_certificates(name, self.certificates)
        self.add(
            "tls_certificate_name_subject_only", object_type, obj,
            f"TlsCertificateName {name} has no issuer part (<I>). Exchange accepts the value, but how transport"
            " matches it is not documented (HealthChecker calls it syntax-invalid)"
            + (f"; by subject alone it would select {matches[0]['thumbprint']}" if matches else "")
            + ". Verify with the SMTP probe that STARTTLS presents the expected certificate, or name the certificate"
            " with '<I>' + its Issuer + '<S>' + its Subject.",
            current=name, certificates=[c["thumbprint"] for c in matches],
        )

    def receive_connector(self, rc: dict) -> None:
        obj, name = rc["identity"], rc.get("tls_certificate_name")
        public = rc["hybrid"] and not self.hybrid_exempt
        if not rc.get("enabled", True):
            return
        if name and self.invalid_name("receive_connector", obj, name):
            return
        if name:
            self.subject_only("receive_connector", obj, name)
        if "Tls" not in rc["auth_mechanism"]:
            severity = ERROR if (public or name) else (WARNING if 25 in rc["ports"] else None)
            if severity:
                hcw = (f" This hybrid connector needs it: HCW sets AuthMechanism {hybrid.HCW_RECEIVE_AUTH_MECHANISM};"
                       f" run Set-ReceiveConnector '{obj}' -AuthMechanism {hybrid.HCW_RECEIVE_AUTH_MECHANISM.replace(' ', '')},"
                       " or rerun the Hybrid Configuration Wizard.") if public else ""
                self.add(
                    "tls_not_in_auth_mechanism", "receive_connector", obj,
                    f"AuthMechanism is {', '.join(rc['auth_mechanism']) or 'None'}: without Tls the connector never offers"
                    " STARTTLS, whatever its certificate. Add Tls (Set-ReceiveConnector -AuthMechanism) if it should."
                    + hcw,
                    current=", ".join(rc["auth_mechanism"]) or "None", severity=severity,
                )
            return
        selection = select_inbound(rc, self.certificates, self.server["fqdn"])
        # A hybrid connector is not chosen for by its FQDN: Default Frontend announces the server's own FQDN,
        # which HCW leaves alone, and Microsoft 365 checks the certificate against its own connector's domain.
        fqdn = None if public else rc.get("fqdn")
        if name and not selection.matches:
            finding = self.add(
                "tls_certificate_name_not_found", "receive_connector", obj,
                self.not_found_message(name, "transport does not offer STARTTLS on this connector and logs event 12014"
                                       + (", so Microsoft 365 cannot deliver hybrid mail (451 5.7.3)." if public else ".")),
                current=name,
            )
            self.propose(finding, name, fqdn, public)
            return
        if not name and public:
            finding = self.add(
                "hybrid_tls_certificate_name_missing", "receive_connector", obj,
                "This hybrid connector (it accepts mail.protection.outlook.com) has no TlsCertificateName, as after"
                " KB2989382's $null step without a rerun of the Hybrid Configuration Wizard; Microsoft 365 expects"
                " the certificate named in its connector.",
                current=None,
            )
            self.propose(finding, None, fqdn, public)
            if selection.certificate is None:
                return
        if selection.certificate is None:
            if selection.matches:
                finding = self.add(
                    "tls_certificate_missing_private_key", "receive_connector", obj,
                    f"The certificates matching {selection.key} ({', '.join(c['thumbprint'] for c in selection.matches)})"
                    " have no private key, so transport cannot use them (event 12014). Import the certificate with its"
                    " private key.",
                    current=name, certificates=[c["thumbprint"] for c in selection.matches],
                )
                # Without a name, transport searched the server FQDN when the connector has none.
                self.propose(finding, name, None if public else rc.get("fqdn") or self.server["fqdn"], public)
            else:
                self.add(
                    "tls_certificate_not_found_for_fqdn", "receive_connector", obj,
                    f"No certificate in the store covers {selection.key}, the name transport looks for because the"
                    " connector has no TlsCertificateName: no STARTTLS, event 12014. Install a certificate for it or"
                    " name one in TlsCertificateName.",
                    current=selection.key,
                )
            return
        self.check_selected("receive_connector", obj, selection.certificate, name, fqdn, public,
                            "this connector presents")

    def send_connector(self, sc: dict) -> None:
        if not sc.get("this_server_is_source") or not sc.get("enabled", True):
            return
        obj, name, public = sc["name"], sc.get("tls_certificate_name"), sc["cloud"]
        if public:
            for code, current, message in hybrid.send_connector_problems(sc):
                self.add(code, "send_connector", obj, message, current=current)
        if name and self.invalid_name("send_connector", obj, name):
            return
        if name:
            self.subject_only("send_connector", obj, name)
        if not name:
            if public and not sc.get("fqdn"):
                finding = self.add(
                    "hybrid_tls_certificate_name_missing", "send_connector", obj,
                    "This connector to Microsoft 365 has neither TlsCertificateName nor Fqdn, so Exchange has no way to"
                    " pick the certificate Microsoft 365 expects: implicit selection would present a certificate for"
                    f" the server's own FQDN, {self.server.get('fqdn')} (HealthChecker calls it misconfigured). HCW"
                    " names the hybrid certificate in TlsCertificateName; send_connector_tls does the same, or rerun"
                    " the Hybrid Configuration Wizard.",
                )
                self.propose(finding, None, None, public)
            return
        selection = select_outbound(sc, self.certificates, self.server["fqdn"])
        if not selection.matches:
            finding = self.add(
                "tls_certificate_name_not_found", "send_connector", obj,
                self.not_found_message(name, f"mail sent through this connector from {self.server['name']} fails with"
                                       " 454 4.7.5 The certificate specified in TlsCertificateName of the SendConnector"
                                       " could not be found. The connector is organisation-wide: the new name must be"
                                       " on every source server."),
                current=name,
            )
            self.propose(finding, name, sc.get("fqdn"), public)
            return
        if selection.certificate is None:
            finding = self.add(
                "tls_certificate_missing_private_key", "send_connector", obj,
                f"The certificates matching {name} on {self.server['name']} have no private key (454 4.7.5). Import"
                " the certificate with its private key.",
                current=name, certificates=[c["thumbprint"] for c in selection.matches],
            )
            self.propose(finding, name, sc.get("fqdn"), public)
            return
        self.check_selected("send_connector", obj, selection.certificate, name, sc.get("fqdn"), public,
                            f"{self.server['name']} uses for this connector")

    def hybrid_configuration(self, hc: dict | None) -> None:
        if not hc or not hc.get("tls_certificate_name") or not hc.get("this_server_listed") or self.hybrid_exempt:
            return
        name = hc["tls_certificate_name"]
        if self.invalid_name("hybrid_configuration", "Hybrid Configuration", name):
            return
        if any(tls_name.names_match(name, c["tls_certificate_name"]) for c in self.certificates):
            return
        finding = self.add(
            "hybrid_configuration_tls_certificate_name_not_found", "hybrid_configuration", "Hybrid Configuration",
            self.not_found_message(name, "mail flow does not read it, but the Hybrid Configuration Wizard starts"
                                   " from it and would write it back to the connectors. Update it"
                                   " (send_connector_tls with update_hybrid_configuration) or rerun HCW."),
            current=name,
        )
        self.propose(finding, name, None, True)

    def transport_service(self) -> None:
        thumbprint = self.facts.get("internal_transport_certificate")
        obj = self.server["name"]
        cert = next((c for c in self.certificates if c["thumbprint"] == thumbprint), None)
        if thumbprint is None or cert is None:
            where = "is not set (event 12012)" if thumbprint is None else f"{thumbprint} is not in the store (event 12013)"
            self.add(
                "internal_transport_certificate_missing", "transport_service", obj,
                f"The default SMTP certificate (internal transport certificate) {where}: TLS between Exchange servers"
                " and EdgeSync depend on it. Recreate it as HealthChecker advises: New-ExchangeCertificate -Services"
                " SMTP -Force (a self-signed certificate, kept as the default).",
                current=thumbprint,
            )
        elif cert["expired"]:
            self.add(
                "internal_transport_certificate_expired", "transport_service", obj,
                f"The default SMTP certificate {thumbprint} expired on {cert['not_after']} (event 12015). Recreate it:"
                " New-ExchangeCertificate -Services SMTP -Force (on an Edge server, re-create the Edge subscription"
                " afterwards).",
                current=thumbprint, certificates=[thumbprint],
            )

    def events(self) -> None:
        groups: dict = {}
        for event in self.facts.get("events") or []:
            groups.setdefault((event["id"], event["provider"]), []).append(event)
        for (event_id, provider), seen in sorted(groups.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))):
            latest = max(seen, key=lambda e: e["time_created"])
            self.add(
                "transport_tls_event", "transport_service", provider,
                f"Event {event_id} ({_EVENT_MEANING.get(event_id, 'a transport TLS certificate event')}) was logged"
                f" {len(seen)} time(s), last at {latest['time_created']}: {latest['message']}",
                current=latest["time_created"], severity=_EVENT_SEVERITY.get(event_id, WARNING),
            )

    def completeness(self) -> None:
        unknown = [c["thumbprint"] for c in self.certificates if not c.get("properties_complete", True)]
        if unknown:
            self.add(
                "certificate_properties_unknown", "certificate", self.server["name"],
                f"Exchange did not return Services, Status or the private key of {len(unknown)} certificate(s); they"
                " are reported as unknown, and the SMTP and status checks are skipped for them. This happens over a"
                " remote PowerShell session that does not ask for serializationLevel=Full (a connection_uri must"
                " carry it), or when Exchange cannot sign the serialization data (an expired or missing Auth"
                " certificate): renew the Auth certificate.",
                certificates=unknown,
            )
        for error in self.facts.get("read_errors") or []:
            object_type = {"hybrid_configuration": "hybrid_configuration", "certificates": "certificate"}.get(
                error["step"], "transport_service")
            self.add(
                "facts_incomplete", object_type, self.server["name"],
                f"Reading {error['step']} ({error['cmdlet']}) failed: {error['error']}. Findings that need it are"
                " missing; check the account's rights for that cmdlet.",
            )


# The window of tls_certificate_expiring_soon, in days. Ten years is longer than any certificate a public CA
# issues (398 days since 2020) and than Exchange's self-signed default (five years): a larger value is a typo.
EXPIRING_DAYS_RANGE = (0, 3650)


def expiring_days_problem(value: object, name: str = "expiring_days") -> str | None:
    """Why ``value`` is no expiring_days, or None: the one check behind every module option and the role variable."""
    low, high = EXPIRING_DAYS_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{name} must be between {low} and {high}, got {value!r}; it is a whole number of days"
    return None


def analyze(facts: dict, expiring_days: int = 30) -> list[dict]:
    """Every finding for one server's facts (as exchange_certificate_facts returns them)."""
    problem = expiring_days_problem(expiring_days)
    if problem:
        raise ValueError(problem)
    analysis = _Analysis(facts, expiring_days)
    for rc in facts["receive_connectors"]:
        analysis.receive_connector(rc)
    for sc in facts["send_connectors"]:
        analysis.send_connector(sc)
    analysis.hybrid_configuration(facts.get("hybrid_configuration"))
    analysis.transport_service()
    analysis.events()
    analysis.completeness()
    return analysis.found


__all__ = ["CODES", "ERROR", "INFO", "WARNING", "analyze"]
