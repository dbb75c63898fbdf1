"""Secret keys: one complete key for processes that boot together; weak keys refused.

Issue 11, finding 6 and the "keys" info item.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.security import InvalidCanvasToken, TokenCipher, WeakKeyError
from config import Config, ConfigError
from demo import load_or_create_secret_key

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 24

# The demo's generated key (demo.py; every other start needs SECRET_KEY).
# Each child imports demo first (the slow part), then waits for a common instant so that
# every process reaches the key file at the same moment, as workers started together do.
# Opening a file for writing is made slow (a busy disk), which widens any window in which a
# reader could find the key file created but not yet written; children start staggered by a
# few milliseconds so that some arrive inside such a window.
CHILD = """
import os, sys, time
from pathlib import Path
from demo import load_or_create_secret_key
real_fdopen = os.fdopen
def slow_fdopen(*args, **kwargs):
    time.sleep(0.3)
    return real_fdopen(*args, **kwargs)
os.fdopen = slow_fdopen
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
print("KEY=" + load_or_create_secret_key(Path(os.environ["GRADESYNC_INSTANCE_DIR"])), flush=True)
"""


@pytest.mark.slow
def test_processes_booting_together_all_get_the_same_complete_key(tmp_path: Path) -> None:
    instance = tmp_path / "instance"  # fresh and not created yet: the first boot makes it
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["GRADESYNC_INSTANCE_DIR"] = str(instance)
    start = time.time() + 4.0
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, repr(start + i * 0.02)], cwd=ROOT,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(PROCESSES)
    ]
    keys = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err[-2000:]
        keys.append(out.strip().removeprefix("KEY="))
    assert len(set(keys)) == 1, keys
    assert len(keys[0]) >= 32
    key_file = instance / "secret_key"
    assert key_file.read_text() == keys[0]
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in instance.iterdir()] == ["secret_key"]  # no temp files left


@pytest.mark.parametrize("content", ["", "   \n", "short", "0" * 64])
def test_an_empty_or_weak_key_file_is_refused_in_one_line(tmp_path: Path, content: str) -> None:
    (tmp_path / "secret_key").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_or_create_secret_key(tmp_path)
    assert "\n" not in str(info.value) and "delete the file" in str(info.value)


@pytest.mark.parametrize("secret", ["x", "0" * 40, "abababababababababab",
                                    "xxxxxxxxxxxxxxxxabcdef", "abcdefabcdefabcdefabcdef"])
def test_a_weak_secret_key_setting_is_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is") as info:
        Config({"SECRET_KEY": secret})
    assert "\n" not in str(info.value) and "secrets.token_urlsafe" in str(info.value)


@pytest.mark.parametrize("secret", ["correct horse battery staple",
                                    "test-secret-key-not-for-production",
                                    "Zq8w3R5tY7uI9oPa"])
def test_a_varied_secret_key_is_accepted(secret: str) -> None:
    assert Config({"SECRET_KEY": secret}).SECRET_KEY == secret


@pytest.mark.parametrize(
    "key",
    ["", "short pass", base64.urlsafe_b64encode(bytes(32)).decode(),
     base64.urlsafe_b64encode(b"\x01" * 32).decode()],
    ids=["empty", "short", "all-zero-fernet", "constant-fernet"],
)
def test_weak_token_encryption_keys_are_refused(key: str) -> None:
    with pytest.raises(WeakKeyError):
        TokenCipher(key)


def test_a_passphrase_is_stretched_with_scrypt_and_old_tokens_still_decrypt() -> None:
    passphrase = "correct horse battery staple"
    cipher = TokenCipher(passphrase)
    legacy_key = base64.urlsafe_b64encode(HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"gradesync-token-v1", info=b"canvas-token"
    ).derive(passphrase.encode()))
    legacy = Fernet(legacy_key)
    # A token stored before the KDF change is still readable ...
    assert cipher.decrypt(legacy.encrypt(b"old-token")) == "old-token"
    # ... and new tokens use the scrypt key, not the cheap HKDF one.
    fresh = cipher.encrypt("new-token")
    assert cipher.decrypt(fresh) == "new-token"
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidToken
        legacy.decrypt(fresh)
    with pytest.raises(InvalidCanvasToken):
        TokenCipher("another long passphrase here").decrypt(fresh)


def test_a_fernet_key_is_used_as_given() -> None:
    key = Fernet.generate_key()
    assert Fernet(key).decrypt(TokenCipher(key.decode()).encrypt("t")) == b"t"
