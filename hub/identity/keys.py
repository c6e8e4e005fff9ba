"""Key material: checked at start-up, used for digests, pseudonyms and the vault.

Three independent secrets, each at least 32 bytes, given base64-encoded:

* ``pepper``: keys the HMAC digests natural identifiers are looked up by, so the database holds
  no unkeyed hash of an email or phone (those are trivially reversible by brute force);
* ``master_key``: wraps each customer's data key (AES-256-GCM);
* ``pseudonym_key``: derives one key per brick (HKDF), so each vendor sees a different, stable
  pseudonym and two vendors cannot join their data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from hub.config.model import HubSettings

__all__ = ["MIN_KEY_BYTES", "KeyMaterialError", "KeyRing", "generate_key"]

MIN_KEY_BYTES = 32
_KEY_NAMES = ("pepper", "master_key", "pseudonym_key")


class KeyMaterialError(Exception):
    """Keys are missing or unusable: the hub must not start. ``problems`` are dotted paths."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {message}" for path, message in problems))


def generate_key() -> str:
    """A fresh 256-bit key, base64-encoded, for ``hub keys generate``."""
    return base64.b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode("ascii")


def _decode(path: str, value: SecretStr | None, env_name: str) -> tuple[bytes | None, str | None]:
    if value is None:
        return None, (
            f"missing: set {env_name} or a {{env = ...}} / {{file = ...}} reference "
            "(make one with `hub keys generate`)"
        )
    text = value.get_secret_value().strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, "must be base64 (make one with `hub keys generate`)"
    if len(raw) < MIN_KEY_BYTES:
        return None, f"too short: {len(raw)} bytes, needs at least {MIN_KEY_BYTES}"
    return raw, None


def _hkdf(key: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(key)


@dataclass(frozen=True)
class KeyRing:
    pepper: bytes = field(repr=False)
    master_key: bytes = field(repr=False)
    pseudonym_key: bytes = field(repr=False)
    brick_key_overrides: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: HubSettings) -> KeyRing:
        """Decode and check every key; raise ``KeyMaterialError`` listing all problems."""
        problems: list[tuple[str, str]] = []
        decoded: dict[str, bytes] = {}
        unavailable = settings.unavailable_secrets
        for name in _KEY_NAMES:
            if f"security.{name}" in unavailable:
                problems.append((f"security.{name}", unavailable[f"security.{name}"]))
                continue
            raw, problem = _decode(
                f"security.{name}",
                getattr(settings.security, name),
                f"HUB_SECURITY__{name.upper()}",
            )
            if problem:
                problems.append((f"security.{name}", problem))
            elif raw is not None:
                decoded[name] = raw
        if len(set(decoded.values())) < len(decoded):
            problems.append(("security", "pepper, master_key and pseudonym_key must differ"))
        overrides: dict[str, bytes] = {}
        for brick, section in settings.bricks.items():
            path = f"bricks.{brick}.pseudonym_key"
            if path in unavailable:
                problems.append((path, unavailable[path]))
                continue
            if section.pseudonym_key is None:
                continue
            env = f"HUB_BRICKS__{brick.upper()}__PSEUDONYM_KEY"
            raw, problem = _decode(f"bricks.{brick}.pseudonym_key", section.pseudonym_key, env)
            if problem:
                problems.append((f"bricks.{brick}.pseudonym_key", problem))
            elif raw is not None:
                overrides[brick] = raw
        if problems:
            raise KeyMaterialError(problems)
        return cls(brick_key_overrides=overrides, **decoded)

    @property
    def master_key_id(self) -> str:
        """Names the master key a data key was wrapped with, without revealing it."""
        return hmac.new(self.master_key, b"hub master key id", hashlib.sha256).hexdigest()[:16]

    def digest(self, kind: str, namespace: str, normalised: str) -> str:
        """Keyed digest of a normalised identifier: the only form stored in ``identifiers``."""
        message = "\x1f".join((kind, namespace, normalised)).encode("utf-8")
        return hmac.new(self.pepper, message, hashlib.sha256).hexdigest()

    def brick_key(self, brick: str) -> bytes:
        return self.brick_key_overrides.get(brick) or _hkdf(
            self.pseudonym_key, f"hub pseudonym v1:{brick}"
        )

    def pseudonym(self, brick: str, customer_id: str) -> str:
        """Stable per (customer, brick), unlinkable across bricks without the key."""
        mac = hmac.new(self.brick_key(brick), customer_id.encode("ascii"), hashlib.sha256)
        return "ps_" + base64.b32encode(mac.digest()[:20]).decode("ascii").lower()

    def system_key(self, purpose: str) -> bytes:
        """A key for core data that belongs to no customer (e.g. dead-letter payloads)."""
        return _hkdf(self.master_key, f"hub system key v1:{purpose}")
