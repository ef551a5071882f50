"""Get-/Set-ReceiveConnector and Get-/Set-SendConnector.
"""

from __future__ import annotations

from ansible_collections.exchange.transport_tls.plugins.plugin_utils._facts import tls_name

from ..model import AUTH_BITS, ReceiveConnector
from .core import (
    CmdletError, Context, _not_found, _parameter_set_error, _read, _target_server, _visible_servers, _wrote,
)
from .objects import receive_connector_object, send_connector_object


def _find_receive_connectors(ctx: Context, ident: str, cmdlet: str) -> ReceiveConnector:
    if "\\" in ident:
        server_name, name = ident.split("\\", 1)
        server = ctx.org.server(server_name)
        scope = [server] if server is not None and (not ctx.server.is_edge or server is ctx.server) else []
    else:
        # A bare connector name means the local server's connector (Get-ReceiveConnector docs, example 2).
        name, scope = ident, [ctx.server]
    found = [rc for s in scope for rc in s.receive_connectors if rc.name.lower() == name.lower()]
    if not found:
        raise _not_found(ident, cmdlet, ctx)
    if len(found) > 1:
        raise CmdletError(
            f"The operation couldn't be performed because '{ident}' matches multiple entries.",
            f"ManagementObjectAmbiguousException,{cmdlet}",
            "NotSpecified",
        )
    return found[0]


def get_receive_connector(ctx: Context, p: dict) -> list[dict]:
    if "Identity" in p and "Server" in p:
        raise _parameter_set_error("GetReceiveConnector")
    if "Identity" in p:
        found = [_find_receive_connectors(ctx, p["Identity"], "GetReceiveConnector")]
    else:
        servers = [_target_server(ctx, p["Server"], "GetReceiveConnector")] if "Server" in p else _visible_servers(ctx)
        found = [rc for s in servers for rc in s.receive_connectors]
    return [_read(ctx, ("receive", rc.identity.lower()), receive_connector_object(rc)) for rc in found]


def _no_change(ctx: Context, ident: str) -> None:
    ctx.warnings.append(f"The command completed successfully but no settings of '{ident}' have been modified.")


def set_receive_connector(ctx: Context, p: dict) -> list[dict]:
    rc = _find_receive_connectors(ctx, p["Identity"], "SetReceiveConnector")
    auth = list(rc.auth_mechanism)
    if "AuthMechanism" in p:
        auth = []
        for item in p["AuthMechanism"]:
            for part in item.split(","):
                match = next((n for n in list(AUTH_BITS) + ["None"] if n.lower() == part.strip().lower()), None)
                if match is None:
                    raise CmdletError(
                        f"Cannot bind parameter 'AuthMechanism'. Cannot convert value \"{part.strip()}\" to type "
                        "\"Microsoft.Exchange.Data.AuthMechanisms\".",
                        "CannotConvertArgumentNoMessage,SetReceiveConnector",
                        "InvalidArgument",
                    )
                if match != "None":
                    auth.append(match)
    require_tls = p.get("RequireTLS", rc.require_tls)
    if require_tls and "Tls" not in auth:
        raise CmdletError(
            "The RequireTLS parameter can't be set to $true when Tls isn't one of the AuthMechanism values.",
            "InvalidOperation,SetReceiveConnector",
        )
    value = p.get("TlsCertificateName")
    if rc.server.is_edge and value is not None and len(value) > tls_name.EDGE_NAME_LIMIT:
        # The Edge's AD LDS schema caps ms-Exch-Smtp-TLS-Certificate at 256 characters (KB 4052493): the
        # directory refuses the write (a constraint violation) and nothing changes. The lab's wording.
        raise CmdletError(
            f"Active Directory operation failed on {rc.server.fqdn}. This error is not retriable. Additional "
            "information: A constraint violation occurred. Active directory response: 0000202F: AtrErr: the value of "
            f"msExchSmtpTLSCertificate is {len(value)} characters; the schema allows at most {tls_name.EDGE_NAME_LIMIT}.",
            "ADOperationException,SetReceiveConnector",
            "WriteError",
        )
    seen = receive_connector_object(rc)
    before = (rc.tls_certificate_name, rc.auth_mechanism, rc.require_tls, rc.fqdn)
    if "TlsCertificateName" in p:
        rc.tls_certificate_name = p["TlsCertificateName"]
    rc.auth_mechanism, rc.require_tls = auth, require_tls
    if "Fqdn" in p:
        rc.fqdn = p["Fqdn"]
    if (rc.tls_certificate_name, rc.auth_mechanism, rc.require_tls, rc.fqdn) == before:
        _no_change(ctx, rc.identity)
        return []
    ctx.wrote = True
    _wrote(ctx, ("receive", rc.identity.lower()), seen, receive_connector_object(rc))
    ctx.org.connector_changed(rc)
    return []


def _subscribed_edge(ctx: Context) -> bool:
    return ctx.server.is_edge and ctx.server.edge_subscription_certificate is not None


def get_send_connector(ctx: Context, p: dict) -> list[dict]:
    connectors = ctx.org.send_connectors
    if ctx.server.is_edge:
        # EdgeSync replicates to an Edge the send connectors it is a source server of.
        connectors = [c for c in connectors if ctx.server.name in c.source_transport_servers]
    if "Identity" in p:
        found = [c for c in connectors if c.name.lower() == p["Identity"].lower()]
        if not found:
            raise _not_found(p["Identity"], "GetSendConnector", ctx)
        connectors = found
    # An Edge reads its own EdgeSync copy of the name; a Mailbox server reads the directory.
    return [_read(ctx, ("send", c.name.lower()), dict(send_connector_object(c), TlsCertificateName=ctx.org.name_on(c, ctx.server)))
            for c in connectors]


def set_send_connector(ctx: Context, p: dict) -> list[dict]:
    if _subscribed_edge(ctx):
        raise CmdletError(
            "Set-SendConnector is disabled on this Edge Transport server because it is subscribed to an Active "
            "Directory site (EdgeSync). Change the send connector on a Mailbox server; EdgeSync replicates it.",
            "InvalidOperation,SetSendConnector",
        )
    sc = ctx.org.send_connector(p["Identity"])
    if sc is None:
        raise _not_found(p["Identity"], "SetSendConnector", ctx)
    before = (sc.tls_certificate_name,)
    if "TlsCertificateName" in p:
        sc.tls_certificate_name = p["TlsCertificateName"]
    if (sc.tls_certificate_name,) == before:
        _no_change(ctx, sc.name)
        return []
    ctx.wrote = True
    _wrote(ctx, ("send", sc.name.lower()), {"TlsCertificateName": before[0]}, {"TlsCertificateName": sc.tls_certificate_name})
    ctx.org.edge_sync(sc)
    return []

