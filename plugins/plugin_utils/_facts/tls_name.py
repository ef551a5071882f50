# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exchange's ``TlsCertificateName`` value: ``<I>{Issuer}<S>{Subject}``.

Connectors and the hybrid configuration name their certificate by issuer and
subject instead of thumbprint, so a renewal keeps working only while those
strings still match the new certificate's ``.Issuer``/``.Subject``. This
module reproduces how Exchange (``SmtpX509Identifier``, see
``docs/x500-names.md`` section 6) accepts such a value and how Exchange and
HealthChecker compare two of them, so the collection can tell "matches",
"does not match" and "would match if it had not been typed by hand".
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from ansible_collections.exchange.transport_tls.plugins.module_utils.x500 import (
    X500Error,
    exchange_normalize,
    parse_name,
)

__all__ = [
    "TlsCertificateName",
    "TlsCertificateNameError",
    "common_name",
    "format_tls_certificate_name",
    "is_smtp_domain",
    "names_match",
    "names_match_loosely",
    "normalize_tls_certificate_name",
    "parse_tls_certificate_name",
    "split_tls_certificate_name",
]

_VALID_FORM = (
    "'<I>issuer<S>subject' or '<S>subject' (markers in any case, the issuer without '<', "
    "the subject on one line and containing CN=<SMTP domain>, e.g. "
    "'<I>CN=R10, O=Let's Encrypt, C=US<S>CN=mail.contoso.com')"
)


class TlsCertificateNameError(ValueError):
    """A value Exchange would refuse as ``-TlsCertificateName``.

    ``TlsCertificateNameError(value, problem)`` builds the message from the
    offending value, the problem and what would be valid; ``invalid_domain``
    is true when only the CN is wrong (Exchange reports that case with its
    own message, InvalidDomainInSmtpX509Identifier). A single argument is
    taken as a ready-made message, as with ValueError, for callers that
    re-raise another error.
    """

    def __init__(
        self,
        value: object,
        problem: str | None = None,
        *,
        expected: str | None = _VALID_FORM,
        invalid_domain: bool = False,
    ) -> None:
        if problem is None:
            super().__init__(str(value))
            self.value: object = None
            self.problem = str(value)
        else:
            message = f"invalid TlsCertificateName {value!r}: {problem}"
            super().__init__(message + f"; expected {expected}" if expected else message)
            self.value = value
            self.problem = problem
        self.invalid_domain = invalid_domain


@dataclass(frozen=True)
class TlsCertificateName:
    """An issuer/subject pair as Exchange holds it (strings kept verbatim)."""

    issuer: str | None
    subject: str

    def __str__(self) -> str:
        # SmtpX509Identifier.ToString omits "<I>" for a null or empty issuer.
        if not self.issuer:
            return "<S>" + self.subject
        return "<I>" + self.issuer + "<S>" + self.subject

    @property
    def common_name(self) -> str | None:
        return common_name(self.subject)


# Exchange's pattern, "^(<I>([^<]+))?(<S>(.+))" with IgnoreCase. The markers
# are spelled as explicit classes because Python's Unicode IGNORECASE would
# also let U+017F (long s) match "s", which .NET does not. As in .NET, '.'
# stops at a line feed while "[^<]" does not, and the match is not anchored
# at the end, so a subject is cut at its first line feed.
_FORMAT = re.compile(r"(?:<[Ii]>(?P<issuer>[^<]+))?<[Ss]>(?P<subject>.+)")
# "CN=(.*?)($|,)" with IgnoreCase, searched anywhere in the raw subject:
# Exchange takes the first "CN=" it finds, up to the next comma or the end.
_COMMON_NAME = re.compile(r"[Cc][Nn]=(.*?)(?:,|$)")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}\Z")
_IPV4_LITERAL = re.compile(r"\[([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\]\Z")


def _marker_at(value: str, pos: int, letter: str) -> bool:
    return value[pos : pos + 3] in ("<" + letter.upper() + ">", "<" + letter.lower() + ">")


def _explain_format_failure(value: str) -> str:
    if not value:
        return "it is empty"
    if not (_marker_at(value, 0, "I") or _marker_at(value, 0, "S")):
        if value.lstrip().startswith(("<I>", "<i>", "<S>", "<s>")):
            return "it has whitespace before the first marker"
        if not re.search(r"<[Ss]>", value):
            return "it has no <S> marker"
        return "it does not start with <I> or <S>"
    if _marker_at(value, 0, "I"):
        next_lt = value.find("<", 3)
        if next_lt == 3:
            return "the issuer after <I> is empty"
        if next_lt == -1:
            return "it has no <S> marker after the issuer"
        if not _marker_at(value, next_lt, "S"):
            return (
                f"the issuer contains '<' at position {next_lt}, which Exchange's pattern "
                "cannot express (the issuer ends at the first '<')"
            )
        subject_at = next_lt + 3
    else:
        subject_at = 3
    if subject_at >= len(value):
        return "the subject after <S> is empty"
    return f"the subject starts with a line feed at position {subject_at}"


def split_tls_certificate_name(value: str) -> TlsCertificateName:
    """Split a value into issuer and subject by Exchange's pattern only.

    No CN or X.500 checks (see :func:`parse_tls_certificate_name` for those).
    A line feed in the subject is refused: Exchange's pattern would silently
    keep only the text before it, which is never what was meant.
    """
    if not isinstance(value, str):
        raise TlsCertificateNameError(value, f"it is a {type(value).__name__}, not a string")
    return _split(value)


# Parsing is cached by value: a fleet audit compares each connector's name with every certificate
# of its server, and a pathological 10,000-character name re-parsed per pair made the audit 4x slower.
# The results are immutable (a frozen dataclass, tuples); failures are not cached and raise again.
_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _split(value: str) -> TlsCertificateName:
    match = _FORMAT.match(value)
    if match is None:
        raise TlsCertificateNameError(value, _explain_format_failure(value))
    if match.end() != len(value):
        # '.+' stopped early, which only a line feed makes it do.
        raise TlsCertificateNameError(
            value,
            f"the subject contains a line feed at position {match.end()}; Exchange would keep only "
            f"{match.group('subject')!r} as the subject",
        )
    return TlsCertificateName(issuer=match.group("issuer"), subject=match.group("subject"))


def common_name(subject: str) -> str | None:
    """Return the CN value as Exchange extracts it from a subject, or None.

    Exchange searches the raw, unparsed subject for the first "CN=" in any
    case and takes everything up to the next comma: no unquoting, no
    trimming, and "CN = x" (spaces around '=') is not found.
    """
    match = _COMMON_NAME.search(subject)
    return match.group(1) if match else None


def _is_domain_literal(text: str) -> bool:
    ipv4 = _IPV4_LITERAL.match(text)
    if ipv4:
        return all(int(octet) <= 255 for octet in ipv4.groups())
    if text[:6].lower() == "[ipv6:" and text.endswith("]"):
        try:
            ipaddress.IPv6Address(text[6:-1])
        except ValueError:
            return False
        return True
    return False


def is_smtp_domain(value: str) -> bool:
    """Whether Exchange's SmtpDomainWithSubdomains accepts ``value``.

    Accepted: "*" alone; an optional "*." prefix before a domain of dot-
    separated labels of 1-63 ASCII letters, digits, '-' or '_' (no empty
    label, no trailing dot, 255 characters at most); an address literal such
    as "[192.0.2.1]" or "[IPv6:2001:db8::1]". Exchange's own parser is not
    public; this follows a port of its MIME domain rules [I], treating
    non-ASCII (UTF-8) domains as invalid.
    """
    if value == "*":
        return True
    if value.startswith("*."):
        value = value[2:]
    if not value or len(value) > 255:
        return False
    if value.startswith("["):
        return _is_domain_literal(value)
    return all(_DOMAIN_LABEL.match(label) for label in value.split("."))


def parse_tls_certificate_name(value: str) -> TlsCertificateName:
    """Accept or refuse ``value`` exactly as ``Set-ReceiveConnector -TlsCertificateName`` would.

    Exchange's rule (docs/x500-names.md section 6): the value matches
    ``^(<I>([^<]+))?(<S>(.+))`` ignoring case; the raw subject contains
    ``CN=(.*?)($|,)`` whose value is an SMTP domain (``*.`` wildcard
    allowed); and both parts parse and encode as X.500 names. The returned
    strings are the input's, not normalised (see
    :func:`normalize_tls_certificate_name` for what Exchange stores). A
    ``<S>`` inside the subject stays part of the subject. Raises
    TlsCertificateNameError.
    """
    name = split_tls_certificate_name(value)
    cn = common_name(name.subject)
    if cn is None:
        raise TlsCertificateNameError(
            value,
            f"the subject {name.subject!r} has no 'CN='",
            expected="a subject containing CN=<SMTP domain>, written without spaces around '='",
        )
    if not is_smtp_domain(cn):
        raise TlsCertificateNameError(
            value,
            f"the subject's CN {cn!r} is not an SMTP domain",
            expected="a CN such as mail.contoso.com, *.contoso.com or *, up to the next comma",
            invalid_domain=True,
        )
    for label, part in (("issuer", name.issuer), ("subject", name.subject)):
        if part is None:
            continue
        try:
            exchange_normalize(part)
        except X500Error as exc:
            # The X500Error message already says what would be valid.
            raise TlsCertificateNameError(
                value, f"the {label} is not a valid X.500 name: {exc}", expected=None
            ) from exc
    return name


def normalize_tls_certificate_name(value: str) -> TlsCertificateName:
    """Return what Exchange stores (and ``Get-*Connector`` shows) for ``value``.

    Each part becomes ``X500DistinguishedName(part, None).Format(false)``;
    an issuer that normalises to "" is dropped, as SmtpX509Identifier.ToString
    drops it. Raises TlsCertificateNameError like
    :func:`parse_tls_certificate_name`.
    """
    name = parse_tls_certificate_name(value)
    issuer = exchange_normalize(name.issuer) if name.issuer is not None else ""
    return TlsCertificateName(issuer=issuer or None, subject=exchange_normalize(name.subject))


def format_tls_certificate_name(issuer: str, subject: str) -> str:
    """Build the value from a certificate's ``.Issuer`` and ``.Subject``.

    Microsoft's recipe, ``"<I>$($cert.Issuer)<S>$($cert.Subject)"``, verbatim.
    """
    return "<I>" + issuer + "<S>" + subject


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _fold(text: str) -> str:
    # .NET OrdinalIgnoreCase upper-cases each UTF-16 code unit with the
    # simple (one-to-one) mapping: "ß" stays "ß" rather than becoming "SS",
    # and characters outside the BMP (surrogate pairs in .NET) are compared
    # as they are. Python's str.upper() is a full mapping, so keep only its
    # one-to-one results [I: approximates .NET's invariant casing table].
    out = []
    for char in text:
        if ord(char) <= 0xFFFF:
            upper = char.upper()
            out.append(upper if len(upper) == 1 else char)
        else:
            out.append(char)
    return "".join(out)


def _coerce(value: str | TlsCertificateName) -> TlsCertificateName:
    if isinstance(value, TlsCertificateName):
        return value
    return split_tls_certificate_name(value)


def names_match(a: str | TlsCertificateName, b: str | TlsCertificateName) -> bool:
    """Compare two values as Exchange and HealthChecker do.

    Issuer and subject are each compared ignoring case (OrdinalIgnoreCase),
    with no X.500 normalisation: "CN=a,O=b" and "CN=a, O=b" differ. An absent
    issuer equals only an absent or empty one. A side that does not split by
    Exchange's pattern (:func:`split_tls_certificate_name`) never equals
    anything, itself included: no connector can hold such a value, so it
    cannot name any certificate. Never raises for str or TlsCertificateName
    input.
    """
    try:
        left, right = _coerce(a), _coerce(b)
    except TlsCertificateNameError:
        return False
    return _fold(left.issuer or "") == _fold(right.issuer or "") and _fold(left.subject) == _fold(right.subject)


_TYPED_SPACE = " \t\n\v\f\r"


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _rdn_keys(part: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    # Attributes of one RDN are compared as a multiset because whether
    # Windows re-sorts a multi-valued RDN is not known (docs/x500-names.md section 8.5).
    keys = []
    for rdn in parse_name(part):
        keys.append(
            tuple(sorted((oid, "#" + value.hex() if isinstance(value, bytes) else "'" + _fold(value)) for oid, value in rdn))
        )
    return tuple(keys)


def names_match_loosely(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` name the same certificate up to hand-typing.

    True when :func:`names_match` is, and also when the two differ only in
    what someone typing the value would change: spacing around separators
    and markers, "," vs ", " vs ";", case, key aliases (ST for S, Email for
    E), quotes around a value that needs none, the order of attributes
    inside a multi-valued RDN. RDN order, values and a missing issuer still
    count. Used to say "this value was likely typed by hand"; never raises.
    """
    try:
        if names_match(a, b):  # type: ignore[arg-type]
            return True
        # Only the whitespace CertStrToName skips: str.strip() would also eat
        # a trailing U+00A0 or U+2002, which Windows prints unquoted as part
        # of the last value.
        left = _coerce(a.strip(_TYPED_SPACE) if isinstance(a, str) else a)  # type: ignore[arg-type]
        right = _coerce(b.strip(_TYPED_SPACE) if isinstance(b, str) else b)  # type: ignore[arg-type]
        return _rdn_keys(left.issuer or "") == _rdn_keys(right.issuer or "") and _rdn_keys(
            left.subject
        ) == _rdn_keys(right.subject)
    except (TlsCertificateNameError, X500Error, TypeError, AttributeError):
        return False


# An Edge Transport server keeps TlsCertificateName in its own AD LDS, whose schema caps the attribute
# (ms-Exch-Smtp-TLS-Certificate) at 256 characters: EdgeSync cannot copy a longer value there and a write
# of one on the Edge fails (Microsoft KB 4052493). Full Active Directory on the Mailbox side accepts it.
EDGE_NAME_LIMIT = 256


def edge_length_problem(value: str | None) -> str | None:
    """Why ``value`` cannot be an Edge server's TlsCertificateName, with what to do; None when it fits."""
    if value is None or len(value) <= EDGE_NAME_LIMIT:
        return None
    return (
        f"the name is {len(value)} characters long, and an Edge Transport server stores at most {EDGE_NAME_LIMIT}"
        " (its AD LDS schema caps TlsCertificateName; Microsoft KB 4052493): EdgeSync would not copy it to the Edge"
        " and mail through the Edge would fail with 454 4.7.5. Use a certificate whose issuer and subject together"
        f" are shorter (at most {EDGE_NAME_LIMIT - 6} characters, the markers <I> and <S> count too)"
    )
