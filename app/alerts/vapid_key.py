"""The server's Web Push (VAPID) key when ``VAPID_PRIVATE_KEY`` is not set: generated once into
``instance/vapid_private_key`` (0600) on first use, never by ``create_app``."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from app.setting_parsers import checked_vapid_key

VAPID_KEY_FILE = "vapid_private_key"


def load_or_create_vapid_key(instance_dir: Path) -> str:
    """Return ``instance/vapid_private_key``, creating it (0600) on first run.

    Kept like the secret key: generated once, published atomically with ``os.link`` so
    processes that start together agree on one key. Every browser's push subscription is
    tied to the matching public key, so a new key means every student subscribes again.
    """
    path = instance_dir / VAPID_KEY_FILE
    try:
        return checked_vapid_key(path, path.read_text())
    except FileNotFoundError:
        pass
    from cryptography.hazmat.primitives.asymmetric import ec

    instance_dir.mkdir(parents=True, exist_ok=True)
    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    key = base64.urlsafe_b64encode(scalar.to_bytes(32, "big")).decode().rstrip("=")
    fd, temp = tempfile.mkstemp(prefix=".vapid_key.", dir=instance_dir)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return checked_vapid_key(path, path.read_text())  # another process won
    finally:
        os.unlink(temp)
    return key
