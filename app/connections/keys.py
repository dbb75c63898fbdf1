"""Developer keys for "Connect with Canvas": one ``canvas_oauth_client`` row per Canvas address.

An operator registers a school's key once (``flask canvas oauth-client add``); the secret is
Fernet ciphertext at rest and never logged or rendered. Each key carries the scopes GradeSync
asks Canvas for (:mod:`.scopes`; NULL = GradeSync's own list).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.extensions import db
from app.models import CanvasOAuthClient
from app.security import clean_token

from .scopes import DEFAULT_SCOPES, scopes_of
from .verify import check_canvas_url, token_cipher


def register_client(
    base_url: str, client_id: str, client_secret: str, scopes: Sequence[str] | None = None
) -> CanvasOAuthClient:
    """Add or replace the developer key for a Canvas; the secret is stored encrypted; commits.

    ``scopes`` (already checked by :func:`.scopes.parse_scopes`) replaces the key's list;
    None or empty keeps GradeSync's own list.
    """
    url = check_canvas_url(base_url)
    client_id = client_id.strip()
    if not client_id or len(client_id) > 255:
        raise ValueError("give the developer key's client id (its number in Canvas)")
    if not client_id.isprintable() or any(ch.isspace() for ch in client_id):
        # It is printed one per line by 'oauth-client list' and sent in every token request.
        raise ValueError("the client id must be one word without spaces, line breaks or "
                         "control characters: copy the developer key's number from Canvas")
    secret = clean_token(client_secret)
    row = client_for(url) or CanvasOAuthClient(base_url=url)
    row.client_id = client_id
    row.client_secret_encrypted = token_cipher().encrypt(secret)
    row.scopes = " ".join(scopes) if scopes and tuple(scopes) != DEFAULT_SCOPES else None
    db.session.add(row)
    db.session.commit()
    return row


def client_for(base_url: str) -> CanvasOAuthClient | None:
    return db.session.scalar(
        select(CanvasOAuthClient).where(CanvasOAuthClient.base_url == base_url)
    )


def list_clients() -> list[CanvasOAuthClient]:
    return list(db.session.scalars(select(CanvasOAuthClient).order_by(CanvasOAuthClient.base_url)))


def remove_client(base_url: str) -> bool:
    row = client_for(base_url)
    if row is None:
        return False
    db.session.delete(row)
    db.session.commit()
    return True


def client_scopes(client: CanvasOAuthClient) -> tuple[str, ...]:
    """The scopes this key asks Canvas for."""
    return scopes_of(client.scopes)


def client_form(client: CanvasOAuthClient) -> dict[str, str]:
    """The client credentials the token endpoint takes as form parameters."""
    return {
        "client_id": client.client_id,
        "client_secret": token_cipher().decrypt(client.client_secret_encrypted),
    }
