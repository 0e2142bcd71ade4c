"""The one TLS context every connection to OpenAlgo uses: the operating system's trust, always verified.

A trader's OpenAlgo may sit behind a certificate from a CA their company or their LAN installed
in the operating system (a corporate proxy, a self-run CA for the server on the desk's network).
Their browser trusts it because it asks the OS; so does this app:

* Windows and macOS: ``truststore`` verifies every chain with the OS itself (CryptoAPI's chain
  engine, the Security framework), so the Windows certificate store and the Keychain decide,
  including CAs an administrator added.
* Linux: the OS store is OpenSSL's default certificate files (``/etc/ssl/certs``, or
  ``SSL_CERT_FILE``/``SSL_CERT_DIR``), loaded once. This is what truststore does there too, but
  truststore reloads the whole bundle on every new connection (~24 ms, measured) while holding a
  lock that the other lane's handshake then waits for; loading it once costs the same ~24 ms
  once. Where OpenSSL's compiled-in paths are empty (a frozen build on another distribution) the
  usual bundle files are tried, as truststore does.

Verification is never switched off and nothing here follows redirects (``core.client`` refuses
them). The context is made once, under a lock, and shared: a caller that arrives while another
thread makes it waits for that one.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
import threading

# Where distributions keep the CA bundle, for when OpenSSL's own default paths hold nothing
# (truststore's list, from certifi-system-store).
_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL
    "/etc/pki/tls/cert.pem",  # older Fedora, RHEL, CentOS
    "/etc/ssl/cert.pem",  # Alpine, Arch, BSD
    "/etc/ssl/ca-bundle.pem",  # SUSE
)

_HASHED_NAME = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")  # how OpenSSL names a CA in a hashed directory

_lock = threading.Lock()
_made: list[ssl.SSLContext] = []


def verified_tls() -> ssl.SSLContext:
    """The shared client context: certificates and host names checked against the OS's trust."""
    with _lock:
        if not _made:
            _made.append(_os_trust_context())
        return _made[0]


def _os_trust_context() -> ssl.SSLContext:
    if sys.platform in ("win32", "darwin"):
        import truststore

        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_default_certs()
        if not context.cert_store_stats()["x509_ca"] and not _default_dir_has_certs():
            for bundle in _CA_BUNDLES:
                if os.path.isfile(bundle):
                    context.load_verify_locations(cafile=bundle)
                    break
    # PROTOCOL_TLS_CLIENT already means both; said again so that no later edit can loosen them.
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _default_dir_has_certs() -> bool:
    """OpenSSL's hashed certificate directory is read lazily, so an empty store may still trust."""
    capath = ssl.get_default_verify_paths().capath
    try:
        return bool(capath) and any(_HASHED_NAME.match(name) for name in os.listdir(capath))
    except OSError:
        return False
