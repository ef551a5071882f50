"""The scenario format's vocabulary: key lists, enum names, patterns, and the error type.

The format is described in ``lab/docs/scenario-format.md``. A new top-level key is added to ``TOP_KEYS`` here
and checked in :mod:`.sections` (``_validate``).
"""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple


FORMAT_VERSION = 1

ROLES = ("Mailbox", "Edge")
TRANSPORT_ROLES = ("FrontendTransport", "HubTransport")
ALLOWED_SERVICES = ("None", "Federation", "IIS", "IMAP", "POP", "SMTP", "UM", "UMCallRouter")
CERTIFICATE_STATUSES = (
    "DateInvalid", "Invalid", "PendingRequest", "RevocationCheckFailure",
    "Revoked", "Unknown", "Untrusted", "Valid",
)
AUTH_MECHANISMS = (
    "None", "Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS",
    "ExchangeServer", "ExternalAuthoritative",
)
PERMISSION_GROUPS = (
    "None", "AnonymousUsers", "ExchangeUsers", "ExchangeServers",
    "ExchangeLegacyServers", "Partners", "Custom",
)
TLS_AUTH_LEVELS = ("EncryptionOnly", "CertificateValidation", "DomainValidation")
FAULT_KINDS = (
    "http_500", "connection_reset", "timeout", "auth_failure", "access_denied",
    "cmdlet_error", "snapin_missing", "concurrent_change", "reply_lost", "stray_error_record",
)
EDGESYNC_STATES = ("intact", "broken")
# What Get-ExchangeCertificate objects keep on the way to the client
# (docs/exchange-behaviour.md#sessions): the EMS view, a plain remote session's
# X509Certificate2 members, or RawData alone after a failed signed deserialisation.
CERTIFICATE_PROPERTIES = ("full", "remote", "raw_data")
# How Exchange enum values reach the client (lab/docs/scenario-format.md, Additions): by name
# ("IMAP, POP, IIS, SMTP") or, from a session that could not rehydrate them, as integers (27).
ENUM_FORMS = ("name", "number")
# Certificate quality (lab/docs/scenario-format.md, Additions): what the minted certificate really is.
CERTIFICATE_KEY_TYPES = ("RSA 1024", "RSA 2048", "RSA 3072", "RSA 4096", "ECDSA P-256", "ECDSA P-384")
SIGNATURE_HASHES = ("sha1", "sha256", "sha384", "sha512")
# The lab's key when a scenario names none: what it minted before the key was a choice, so every
# thumbprint of an existing scenario that names no key stays the same.
DEFAULT_KEY_TYPE = "ECDSA P-256"
EKU_NAMES = ("serverAuth", "clientAuth")

# Documented key order (also the dump order).
TOP_KEYS = ("format", "organization", "now", "latency", "hybrid_configuration",
            "send_connectors", "servers",
            "replication_lag_seconds", "auth_certificate")
# auth_certificate (rollout): what Get-AuthConfig names, {certificate: SERVER/id[, next_certificate: SERVER/id]}.
AUTH_CERTIFICATE_KEYS = ("certificate", "next_certificate")
LATENCY_KEYS = ("launch_seconds",)
HYBRID_KEYS = ("tls_certificate_name", "receiving_transport_servers",
               "sending_transport_servers", "edge_transport_servers")
SEND_CONNECTOR_KEYS = ("name", "address_spaces", "source_transport_servers", "fqdn",
                       "tls_certificate_name", "tls_auth_level", "tls_domain", "require_tls",
                       "cloud_services_mail_enabled", "smart_hosts",
                       # state-only, derived: recomputed by the lab, ignored on load
                       "outbound_tls",
                       # state-only: each Edge source server's EdgeSync copy of tls_certificate_name
                       "edge_copies")
SERVER_KEYS = ("name", "fqdn", "role", "version", "certificates",
               "internal_transport_certificate", "edge_subscription_certificate",
               "transport_change_needs_restart", "certificate_properties", "enum_form",
               "receive_connectors", "faults",
               # state-only
               "launches", "writes", "restarts", "events", "edgesync")
CERTIFICATE_KEYS = ("id", "subject", "issuer", "self_signed", "domains", "not_before",
                    "not_after", "services", "has_private_key", "status", "in_store",
                    "friendly_name", "root_ca_type",
                    "key", "signature_hash", "eku", "include_chain", "exportable",
                    # state-only
                    "thumbprint")
RECEIVE_CONNECTOR_KEYS = ("name", "transport_role", "bindings", "fqdn", "auth_mechanism",
                          "permission_groups", "tls_domain_capabilities",
                          "tls_certificate_name", "require_tls", "remote_ip_ranges")
FAULT_KEYS = ("kind", "cmdlet", "times", "occurrence")
CONCURRENT_CHANGE_KEYS = FAULT_KEYS + ("connector", "value")
EVENT_KEYS = ("id", "source", "level", "time", "message")
CERTIFICATE_REF_KEYS = ("certificate",)

_RESERVED_HOST_NAMES = ("all", "ungrouped", "localhost")
_HOST_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_FQDN_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")
_VERSION_RE = re.compile(r"\d+(?:\.\d+){1,3}\Z")
_THUMBPRINT_RE = re.compile(r"[0-9A-F]{40}\Z")
_CMDLET_RE = re.compile(r"[A-Za-z]+-[A-Za-z0-9]+\Z")
_BINDING_V4_RE = re.compile(r"([0-9.]+):([0-9]+)\Z")
_BINDING_V6_RE = re.compile(r"\[([^\]]+)\]:([0-9]+)\Z")
_DATE_ONLY_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


# --------------------------------------------------------------------------- errors


class Problem(NamedTuple):
    """One validation problem."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario file is invalid; carries every problem found.

    ``ScenarioError(file, line, key, message)`` builds a one-problem error;
    ``ScenarioError(details=[Problem, ...])`` one with several.
    """

    def __init__(self, file: str = "<string>", line: int | None = None, key: str = "",
                 message: str = "", *, details: Iterable[Problem] | None = None) -> None:
        problems = list(details) if details is not None else [Problem(file, line, key, message)]
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.details: list[Problem] = problems
        first = problems[0]
        self.file: str = first.file
        self.line: int | None = first.line
        self.key: str = first.key
        self.message: str = first.message
        self.problems: list[str] = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (_rebuild_error, (self.details,))


def _rebuild_error(details: list[Problem]) -> ScenarioError:
    return ScenarioError(details=details)

