"""A local certificate authority for the sandboxes: HTTPS on 127.0.0.1 that the real SDKs trust."""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class LocalCA:
    ca_pem: Path  # what clients pass as their CA bundle
    _ca: trustme.CA
    _server_cert: trustme.LeafCert

    @classmethod
    def create(cls, directory: Path) -> LocalCA:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="Baton sandbox CA")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca_pem = directory / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(ca_pem))
        return cls(ca_pem=ca_pem, _ca=ca, _server_cert=cert)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context
