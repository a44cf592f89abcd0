"""One throwaway certificate authority per test process; simulators serve HTTPS with certificates it issued.

Clients trust it by path (`connection_verify=ca_path` for azure-core, `ssl_ca_cert` for kubernetes), never
through global environment variables, so tests can run in parallel with different trust.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TestAuthority:
    ca_path: Path
    _ca: trustme.CA

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context


@cache
def authority() -> TestAuthority:
    ca = trustme.CA(organization_name="keda-auth test kit")
    folder = Path(tempfile.mkdtemp(prefix="keda-auth-ca-"))
    path = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return TestAuthority(ca_path=path, _ca=ca)
