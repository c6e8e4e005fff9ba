"""Envelope encryption of personal data: one data key per customer, wrapped by the master key.

Erasing a customer deletes the wrapped data key, which makes every ciphertext of that person
unreadable at once (crypto-shredding), including copies in backups.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.identity.keys import KeyRing

__all__ = ["Vault", "VaultError"]

_VERSION = b"\x01"
_NONCE = 12


class VaultError(Exception):
    """A ciphertext cannot be opened: wrong key, tampering, or a destroyed data key."""


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
        raise VaultError("unknown ciphertext format")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad)
    except InvalidTag:
        raise VaultError("ciphertext does not open with this key") from None


class Vault:
    """Pure crypto; the identity service stores what this returns.

    Associated data binds every ciphertext to its customer and field, so a value copied onto
    another row or field does not decrypt.
    """

    def __init__(self, keys: KeyRing, cache_size: int = 4096) -> None:
        self._keys = keys
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"<Vault master_key_id={self._keys.master_key_id}>"

    # -- data keys ---------------------------------------------------------------------------
    def new_data_key(self, customer_id: str) -> tuple[bytes, bytes]:
        """Returns (data key, wrapped data key to store)."""
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = _seal(self._keys.master_key, data_key, b"data-key:" + customer_id.encode())
        self._remember(customer_id, data_key)
        return data_key, wrapped

    def unwrap(self, customer_id: str, wrapped: bytes) -> bytes:
        cached = self._cache.get(customer_id)
        if cached is not None:
            self._cache.move_to_end(customer_id)
            return cached
        data_key = _open(self._keys.master_key, wrapped, b"data-key:" + customer_id.encode())
        self._remember(customer_id, data_key)
        return data_key

    def forget(self, customer_id: str) -> None:
        self._cache.pop(customer_id, None)

    def _remember(self, customer_id: str, data_key: bytes) -> None:
        self._cache[customer_id] = data_key
        self._cache.move_to_end(customer_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # -- fields ------------------------------------------------------------------------------
    @staticmethod
    def encrypt_field(data_key: bytes, customer_id: str, field: str, value: str) -> bytes:
        return _seal(data_key, value.encode("utf-8"), f"{customer_id}:{field}".encode())

    @staticmethod
    def decrypt_field(data_key: bytes, customer_id: str, field: str, blob: bytes) -> str:
        return _open(data_key, blob, f"{customer_id}:{field}".encode()).decode("utf-8")

    # -- core data that belongs to no customer -------------------------------------------------
    def seal_system(self, purpose: str, plaintext: bytes) -> bytes:
        return _seal(self._keys.system_key(purpose), plaintext, purpose.encode())

    def open_system(self, purpose: str, blob: bytes) -> bytes:
        return _open(self._keys.system_key(purpose), blob, purpose.encode())
