"""Provider keys: HMAC secrets kept encrypted at rest, RSA public keys, and the two signature checks.

The HMAC secret is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived by HKDF from
`PROVIDER_SECRETS_KEY` (falling back to SECRET_KEY): a dump of the database alone does not let anyone
sign a wallet call as the provider. Rotating the settings key means re-registering the secrets
(`manage.py provider_key`). Every comparison is constant time (hmac.compare_digest / RSA verify).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> Fernet:
    master = (getattr(settings, "PROVIDER_SECRETS_KEY", "") or settings.SECRET_KEY).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"apps.games.provider-secrets").derive(master)
    return Fernet(base64.urlsafe_b64encode(key))


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str | None:
    """None when the stored secret cannot be read (a rotated settings key): every signature then fails."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_valid(secret: str | None, body: bytes, signature: str | None) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(hmac_hex(secret, body).encode(), signature.strip().lower().encode("utf-8", "replace"))


def public_key_load(pem: str) -> rsa.RSAPublicKey:
    """Parse and check an RSA public key in PEM; ValueError if it is anything else."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("Only RSA public keys are accepted.")
    if key.key_size < 2048:
        raise ValueError("RSA keys shorter than 2048 bits are refused.")
    return key


@lru_cache(maxsize=64)
def _verifying_key(pem: str) -> rsa.RSAPublicKey:
    """public_key_load, once per key text per process: every wallet call is verified with the provider's key, and
    parsing the PEM again each time was most of the check's cost. Keyed by the text itself, so a rotated key (a new
    PEM) is parsed anew and the old one is never used for it; a key that fails to load is not cached."""
    return public_key_load(pem)


def rsa_valid(public_key_pem: str, body: bytes, signature_b64: str | None) -> bool:
    """base64(RSA-SHA256 PKCS#1 v1.5 signature of the raw body), verified with the registered public key."""
    if not public_key_pem or not signature_b64:
        return False
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        _verifying_key(public_key_pem).verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def rsa_keypair() -> tuple[str, str]:
    """(private PEM, public PEM): for the sandbox provider and tests, which play the provider's side."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def rsa_sign(private_pem: str, body: bytes) -> str:
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(private.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
