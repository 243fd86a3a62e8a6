from __future__ import annotations

import pytest

from crmkit.config import Settings
from crmkit.secretbox import SecretBox, SecretBoxError, key_id, new_key


def test_seal_open_and_rotation_to_the_newest_key() -> None:
    old, new = new_key(), new_key()
    sealed = SecretBox([old]).seal("hunter2")
    assert "hunter2" not in sealed
    both = SecretBox([new, old])
    assert both.open(sealed) == "hunter2"
    assert both.key_id_of(sealed) == key_id(old)
    rotated = both.rotate(sealed)
    assert both.key_id_of(rotated) == key_id(new) == both.current_key_id
    assert SecretBox([new]).open(rotated) == "hunter2"
    with pytest.raises(SecretBoxError):
        SecretBox([new]).open(sealed)


def test_bad_keys_are_refused() -> None:
    with pytest.raises(SecretBoxError):
        SecretBox([])
    with pytest.raises(SecretBoxError):
        SecretBox(["not-a-key"])


def test_keys_come_from_crm_secret_keys_newest_first() -> None:
    a, b = new_key(), new_key()
    assert Settings.from_env({"CRM_SECRET_KEYS": f"{a}, {b}"}).secret_keys == (a, b)
