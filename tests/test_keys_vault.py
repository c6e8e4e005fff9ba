"""Key material checks and the vault's envelope encryption."""

from __future__ import annotations

import base64
import hashlib

import pytest
from pydantic import SecretStr

from hub.config import HubSettings, SecuritySettings
from hub.identity.keys import KeyMaterialError, KeyRing, generate_key
from hub.identity.vault import Vault, VaultError


def _settings(**keys: str | None) -> HubSettings:
    values = {"pepper": generate_key(), "master_key": generate_key(),
              "pseudonym_key": generate_key(), **keys}
    security = SecuritySettings(
        **{k: SecretStr(v) if v is not None else None for k, v in values.items()}
    )
    return HubSettings.model_construct(security=security, bricks={})


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.from_settings(_settings())


def test_generated_keys_are_256_bits():
    assert len(base64.b64decode(generate_key())) == 32
    assert generate_key() != generate_key()


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"pepper": None}, "security.pepper", "missing"),
        ({"master_key": base64.b64encode(b"short").decode()}, "security.master_key", "too short"),
        ({"pseudonym_key": "not base64 at all!"}, "security.pseudonym_key", "base64"),
    ],
)
def test_bad_keys_stop_the_hub_with_a_clear_message(overrides, path, fragment):
    with pytest.raises(KeyMaterialError) as caught:
        KeyRing.from_settings(_settings(**overrides))
    assert path in [p for p, _ in caught.value.problems]
    assert fragment in str(caught.value)


def test_identical_keys_are_refused():
    same = generate_key()
    with pytest.raises(KeyMaterialError, match="must differ"):
        KeyRing.from_settings(_settings(pepper=same, master_key=same))


def test_keys_never_show_in_repr(ring):
    for secret in (ring.pepper, ring.master_key, ring.pseudonym_key):
        assert base64.b64encode(secret).decode() not in repr(ring)
        assert secret.hex() not in repr(ring)
    assert "KeyRing" in repr(ring)


def test_digest_is_keyed_and_separates_kinds(ring):
    other = KeyRing.from_settings(_settings())
    value = "ada@example.com"
    assert ring.digest("email", "", value) == ring.digest("email", "", value)
    assert ring.digest("email", "", value) != other.digest("email", "", value)
    assert ring.digest("email", "", value) != ring.digest("crm_id", "", value)
    assert ring.digest("crm_id", "shop-a", "42") != ring.digest("crm_id", "shop-b", "42")
    assert ring.digest("email", "", value) != hashlib.sha256(value.encode()).hexdigest()


def test_pseudonyms_differ_per_brick_and_per_key(ring):
    other = KeyRing.from_settings(_settings())
    assert ring.pseudonym("brevo", "cus_x") == ring.pseudonym("brevo", "cus_x")
    assert ring.pseudonym("brevo", "cus_x") != ring.pseudonym("twilio", "cus_x")
    assert ring.pseudonym("brevo", "cus_x") != other.pseudonym("brevo", "cus_x")


def test_vault_round_trip_and_binding(ring):
    vault = Vault(ring)
    data_key, _ = vault.new_data_key("cus_a")
    blob = vault.encrypt_field(data_key, "cus_a", "email", "ada@example.com")
    assert b"ada" not in blob
    assert vault.decrypt_field(data_key, "cus_a", "email", blob) == "ada@example.com"
    with pytest.raises(VaultError):  # copied onto another field
        vault.decrypt_field(data_key, "cus_a", "phone", blob)
    with pytest.raises(VaultError):  # copied onto another customer
        vault.decrypt_field(data_key, "cus_b", "email", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(VaultError):
        vault.decrypt_field(data_key, "cus_a", "email", tampered)


def test_wrapped_key_opens_only_with_the_master_key(ring):
    vault = Vault(ring)
    data_key, wrapped = vault.new_data_key("cus_a")
    assert Vault(ring).unwrap("cus_a", wrapped) == data_key
    with pytest.raises(VaultError):
        Vault(KeyRing.from_settings(_settings())).unwrap("cus_a", wrapped)
    with pytest.raises(VaultError):
        Vault(ring).unwrap("cus_b", wrapped)


def test_system_payloads_are_sealed(ring):
    vault = Vault(ring)
    blob = vault.seal_system("dead-letters", b'{"email": "x@example.com"}')
    assert b"example" not in blob
    assert vault.open_system("dead-letters", blob) == b'{"email": "x@example.com"}'
    with pytest.raises(VaultError):
        vault.open_system("other-purpose", blob)
