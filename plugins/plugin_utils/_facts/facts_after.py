# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One server's facts with a run's changes applied: the server as it is now, without reading it again.

The converging modules read back every value they write, so their ``changes``
carry live values. Applying them to the facts the run started from, then
recomputing selection and findings, gives what a new read would give for the
properties the run touched; a later task (send_connector_tls) and the fleet
report decide from that instead of spending a PowerShell launch per host.
"""

from __future__ import annotations

import copy
from typing import List

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import certificate_selection
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import findings as findings_mod
from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts.fact_values import same_server


def facts_after(facts: dict, changes: List[dict], expiring_days: int = 30) -> dict:
    """The facts with what a run changed (values read back); selection and findings recomputed.

    Connector names (receive, send), the hybrid configuration's name, certificate services and the default SMTP
    certificate come from the changes; certificate and transport changes of other servers (a send connector's
    other source servers) are ignored. collected_at and the events stay those of the read.
    """
    updated = copy.deepcopy(facts)
    server = updated["server"]
    receive = {c["identity"]: c for c in updated["receive_connectors"]}
    send = {c["name"]: c for c in updated["send_connectors"]}
    certificates = {c["thumbprint"]: c for c in updated["certificates"]}
    for change in changes:
        kind, obj, prop, after = change["object_type"], change["object"], change["property"], change["after"]
        here = change.get("server") is None or same_server(change["server"], server.get("name"), server.get("fqdn"))
        if prop == "TlsCertificateName":
            if kind == "receive_connector" and obj in receive:
                receive[obj]["tls_certificate_name"] = after
            elif kind == "send_connector" and obj in send:
                send[obj]["tls_certificate_name"] = after
            elif kind == "hybrid_configuration" and updated.get("hybrid_configuration"):
                updated["hybrid_configuration"]["tls_certificate_name"] = after
        elif kind == "certificate" and prop == "Services" and here and obj in certificates:
            certificates[obj]["services"] = after
        elif kind == "transport_service" and prop == "InternalTransportCertificateThumbprint" and here:
            updated["internal_transport_certificate"] = after
    for certificate in updated["certificates"]:
        certificate["is_internal_transport"] = certificate["thumbprint"] == updated.get("internal_transport_certificate")
    certificate_selection.annotate(updated)
    updated["findings"] = findings_mod.analyze(updated, expiring_days=expiring_days)
    return updated


__all__ = ["facts_after"]
