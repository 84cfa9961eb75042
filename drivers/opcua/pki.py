"""Signed and encrypted OPC UA sessions: Kiln's application certificate, and servers trusted explicitly.

Kiln's own certificate and key are made on the first secure connection in KILN_OPCUA_PKI_DIR
(`kiln-client-cert.der`, `kiln-client-key.pem`, key readable by its owner only) and reused afterwards, so a
server's administrator trusts it once.

The server's certificate is never trusted on first use silently: before a secure session, Kiln asks the server
for its endpoints (an unsecured GetEndpoints, as every client must), takes the certificate of the endpoint with
the chosen policy and mode, and compares its SHA-256 fingerprint with the one an engineer entered on the
connection. Missing or different → no session, and the connection's last error shows the fingerprint the
server presented, for the engineer to check (with the server's administrator) and paste into the connection.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies

__all__ = ["configure_security", "certificate_fingerprint", "UntrustedServer", "CLIENT_CERT", "CLIENT_KEY"]

CLIENT_CERT = "kiln-client-cert.der"
CLIENT_KEY = "kiln-client-key.pem"


class UntrustedServer(Exception):
    """The server's certificate is not the one an engineer trusted."""


def _first_certificate(der: bytes) -> bytes:
    # Servers may send their certificate followed by its chain: the first DER SEQUENCE is theirs.
    if len(der) > 4 and der[1] == 0x82:
        return der[:int.from_bytes(der[2:4], "big") + 4]
    return der


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a (first) DER certificate, lower-case hex, as engineers compare it."""
    return hashlib.sha256(_first_certificate(der)).hexdigest()


async def configure_security(client: Client, spec) -> None:
    """Set up `client` for spec.security ("Basic256Sha256_Sign" / "_SignAndEncrypt"); raises UntrustedServer."""
    policy_name, _, mode_name = spec.security.partition("_")
    policy = getattr(security_policies, f"SecurityPolicy{policy_name}")
    mode = getattr(ua.MessageSecurityMode, mode_name)
    pki = Path(spec.pki_dir)
    cert, key = await client.setup_self_signed_certificate(pki / CLIENT_KEY, pki / CLIENT_CERT)
    os.chmod(key, 0o600)
    endpoints = await client.connect_and_get_server_endpoints()
    endpoint = next((e for e in endpoints if e.SecurityMode == mode and e.SecurityPolicyUri == policy.URI), None)
    if endpoint is None:
        raise UntrustedServer(f"the server offers no {policy_name} {mode_name} endpoint")
    server_der = _first_certificate(endpoint.ServerCertificate or b"")
    presented = hashlib.sha256(server_der).hexdigest()
    if not spec.server_certificate_sha256:
        raise UntrustedServer(f"server certificate not trusted yet: it presents SHA-256 {presented}; check it with "
                              f"the server's administrator and enter it in the connection to trust it")
    if presented != spec.server_certificate_sha256:
        raise UntrustedServer(f"server certificate changed: it presents SHA-256 {presented}, the connection trusts "
                              f"{spec.server_certificate_sha256}; nothing was sent")
    await client.set_security(policy, cert, key, server_certificate=server_der, mode=mode)
