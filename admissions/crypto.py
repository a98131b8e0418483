"""Personal-data protection: AES-256-GCM at rest and an HMAC blind index.

Ciphertext layout (stored in one column): ``kid_len (1 byte) || kid (ASCII) || nonce (12 bytes)
|| AES-GCM ciphertext+tag`` (NIST SP 800-38D; 96-bit random nonces). The associated data binds a
ciphertext to its row (e.g. the application number), so swapping ciphertexts between rows fails.
The key id travels with the ciphertext, so old keys stay usable for decryption after rotation
while new records use ``active_data_key``.

The blind index of an ID number is ``HMAC-SHA256(blind_index_key, "gb11643:" || number)``
(uppercase, no spaces): equal numbers collide (for the uniqueness constraint), but the index
reveals nothing without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptionError(Exception):
    """Unknown key id, truncated data or a failed authentication tag."""


class DataCipher:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError("active key id not among keys")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        kid = self.active.encode("ascii")
        nonce = os.urandom(12)
        ct = self._aead[self.active].encrypt(nonce, plaintext, aad)
        return bytes([len(kid)]) + kid + nonce + ct

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < 1 + 12 + 16:
            raise DecryptionError("ciphertext too short")
        n = blob[0]
        kid = blob[1 : 1 + n].decode("ascii", "replace")
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptionError(f"unknown data key id {kid!r}")
        nonce = blob[1 + n : 13 + n]
        try:
            return aead.decrypt(nonce, blob[13 + n :], aad)
        except InvalidTag:
            raise DecryptionError("authentication failed") from None

    @staticmethod
    def key_id(blob: bytes) -> str:
        return blob[1 : 1 + blob[0]].decode("ascii", "replace")


def blind_index(key: bytes, id_number: str) -> str:
    msg = b"gb11643:" + id_number.strip().upper().encode("ascii")
    return hmac.digest(key, msg, hashlib.sha256).hex()  # one-shot HMAC (OpenSSL)
