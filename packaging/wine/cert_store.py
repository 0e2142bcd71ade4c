"""Add a CA certificate to this Windows user's trusted roots, or take it out again (run by Windows Python).

    python cert_store.py add CA.pem       -> prints "added <SHA-1 thumbprint>"
    python cert_store.py remove CA.pem    -> prints "removed <thumbprint>" (or "absent <thumbprint>")
    python cert_store.py has CA.pem       -> prints "present ..." / "absent ...", exit 0 / 1

The same store a Windows administrator or a corporate proxy's installer adds a CA to (what
``certutil -user -addstore Root`` does), through CryptoAPI itself: this is what the Wine check's
`tls` step uses to show that the app trusts the Windows store. Standard library only.
"""

from __future__ import annotations

import ctypes
import hashlib
import ssl
import sys
from ctypes import wintypes
from pathlib import Path

X509_ASN_ENCODING = 0x1
PKCS_7_ASN_ENCODING = 0x10000
CERT_STORE_PROV_SYSTEM_REGISTRY_W = 13  # the user's own registry-backed store, not the Root collection
CERT_SYSTEM_STORE_CURRENT_USER = 1 << 16
CERT_STORE_ADD_REPLACE_EXISTING = 3
CERT_FIND_SHA1_HASH = 1 << 16
ENCODING = X509_ASN_ENCODING | PKCS_7_ASN_ENCODING


class CryptBlob(ctypes.Structure):
    _fields_ = [("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_ubyte))]


crypt32 = ctypes.WinDLL("crypt32", use_last_error=True)  # type: ignore[attr-defined]
crypt32.CertOpenStore.restype = ctypes.c_void_p
crypt32.CertOpenStore.argtypes = [
    ctypes.c_void_p,
    wintypes.DWORD,
    ctypes.c_void_p,
    wintypes.DWORD,
    ctypes.c_void_p,
]
crypt32.CertAddEncodedCertificateToStore.argtypes = [
    ctypes.c_void_p,
    wintypes.DWORD,
    ctypes.c_char_p,
    wintypes.DWORD,
    wintypes.DWORD,
    ctypes.c_void_p,
]
crypt32.CertFindCertificateInStore.restype = ctypes.c_void_p
crypt32.CertFindCertificateInStore.argtypes = [
    ctypes.c_void_p,
    wintypes.DWORD,
    wintypes.DWORD,
    wintypes.DWORD,
    ctypes.c_void_p,
    ctypes.c_void_p,
]
crypt32.CertDeleteCertificateFromStore.argtypes = [ctypes.c_void_p]
crypt32.CertFreeCertificateContext.argtypes = [ctypes.c_void_p]
crypt32.CertCloseStore.argtypes = [ctypes.c_void_p, wintypes.DWORD]


def user_root_store() -> int:
    store = crypt32.CertOpenStore(
        ctypes.c_void_p(CERT_STORE_PROV_SYSTEM_REGISTRY_W),
        0,
        None,
        CERT_SYSTEM_STORE_CURRENT_USER,
        ctypes.c_wchar_p("Root"),
    )
    if not store:
        raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
    return int(store)


def find(store: int, der: bytes) -> int | None:
    digest = hashlib.sha1(der).digest()
    buffer = (ctypes.c_ubyte * len(digest)).from_buffer_copy(digest)
    blob = CryptBlob(len(digest), buffer)
    found = crypt32.CertFindCertificateInStore(
        store, ENCODING, 0, CERT_FIND_SHA1_HASH, ctypes.byref(blob), None
    )
    return int(found) if found else None


def main(argv: list[str]) -> int:
    action, path = argv
    der = ssl.PEM_cert_to_DER_cert(Path(path).read_text("ascii"))
    thumbprint = hashlib.sha1(der).hexdigest()
    store = user_root_store()
    try:
        present = find(store, der)
        if present is not None and action != "remove":
            crypt32.CertFreeCertificateContext(present)
        if action == "add":
            if not crypt32.CertAddEncodedCertificateToStore(
                store, X509_ASN_ENCODING, der, len(der), CERT_STORE_ADD_REPLACE_EXISTING, None
            ):
                raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
            print(f"added {thumbprint}")
        elif action == "remove":
            if present is None:
                print(f"absent {thumbprint}")
            else:
                # CertDeleteCertificateFromStore frees the context it is given.
                if not crypt32.CertDeleteCertificateFromStore(present):
                    raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
                print(f"removed {thumbprint}")
        elif action == "has":
            print(f"{'present' if present else 'absent'} {thumbprint}")
            return 0 if present else 1
        else:
            raise SystemExit(f"unknown action {action!r}: add, remove or has")
    finally:
        crypt32.CertCloseStore(store, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
