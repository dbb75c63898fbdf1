"""The server's Web Push (VAPID) key when ``VAPID_PRIVATE_KEY`` is not set: generated once into
``instance/vapid_private_key`` (0600) on first use, never by ``create_app``."""

from __future__ import annotations

import base64
from pathlib import Path

from app.security import key_file
from app.setting_parsers import checked_vapid_key

VAPID_KEY_FILE = "vapid_private_key"


def load_or_create_vapid_key(instance_dir: Path) -> str:
    """Return ``instance/vapid_private_key``, creating it (0600) on first run.

    Kept like the secret key: generated once, published atomically with ``os.link`` so
    processes that start together agree on one key. Every browser's push subscription is
    tied to the matching public key, so a new key means every student subscribes again.
    """
    return key_file(instance_dir / VAPID_KEY_FILE, _new_vapid_key, checked_vapid_key)


def _new_vapid_key() -> str:
    """A fresh P-256 private key, as the base64url of its 32-byte scalar."""
    from cryptography.hazmat.primitives.asymmetric import ec

    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(scalar.to_bytes(32, "big")).decode().rstrip("=")
