# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.500 names exactly as Windows/.NET prints and parses them.

Exchange builds ``TlsCertificateName`` from ``X509Certificate2.Issuer`` and
``.Subject`` and later compares those strings, so "the same name" means "the
same Windows string", not "the same DER" or "the same RFC 4514 string".
This module reproduces the two crypt32 calls involved, following
``docs/x500-names.md`` (section numbers below refer to it):

* :func:`render_name` is ``CertNameToStrW(CERT_X500_NAME_STR [| REVERSE])``,
  which is what ``.Subject``, ``.Issuer``, ``X500DistinguishedName.Name``
  (reversed) and ``.Format(false)`` (DER order) return.
* :func:`parse_name` and :func:`encode_name` are ``CertStrToNameW``, which is
  what ``new X500DistinguishedName(string[, flags])`` calls.
* :func:`exchange_normalize` chains them the way Exchange's
  ``SmtpX509Identifier`` normalises an issuer or subject it is given.

Pure standard library; ``cryptography`` is imported only inside
:func:`cryptography_name`, so the rest works on hosts without it.

The code lives in parts named for what they do (``x500_keys``, ``x500_der``,
``x500_render``, ``x500_parse``, ``x500_encode``); this module is the one to
import.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_encode import cryptography_name, encode_name
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_keys import RDN_NAMES, AttributeValue, X500Error
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_parse import parse_name
from ansible_collections.exchange.transport_tls.plugins.module_utils.x500_render import certificate_names, render_name

__all__ = [
    "AttributeValue",
    "RDN_NAMES",
    "X500Error",
    "certificate_names",
    "cryptography_name",
    "encode_name",
    "exchange_normalize",
    "parse_name",
    "render_name",
]


def exchange_normalize(part: str, *, oid_names: Mapping[str, str] | None = None) -> str:
    """Return what Exchange stores for an issuer or subject part.

    Exchange's SmtpX509Identifier keeps
    ``new X500DistinguishedName(part, X500DistinguishedNameFlags.None).Format(false)``:
    parsed, encoded in the written order, printed in DER order - the
    canonical Windows spelling in the order written. A string copied from
    ``$cert.Subject`` comes back unchanged. Raises X500Error when Windows
    would throw (unparseable, or not encodable).
    """
    der = encode_name(parse_name(part, oid_names=oid_names), reverse=False)
    return render_name(der, reverse=False, oid_names=oid_names)
