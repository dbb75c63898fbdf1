"""Secrets and outbound-URL safety: token encryption at rest and the Canvas URL guard.

- Tokens are encrypted with Fernet. The key is ``TOKEN_ENCRYPTION_KEY`` when given (a Fernet
  key, or any string, which is then stretched with HKDF), else derived from ``SECRET_KEY``.
- ``validate_canvas_url`` is the SSRF guard: https only, and hosts that resolve to loopback,
  private, link-local or reserved addresses are refused unless private hosts are allowed
  (tests and the demo, which talk to the simulator on 127.0.0.1 over plain http).
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAX_TOKEN_LENGTH = 512
MAX_URL_LENGTH = 255


class InvalidCanvasURL(ValueError):
    """The Canvas URL is malformed or points somewhere we refuse to call."""


class InvalidCanvasToken(ValueError):
    """The access token is empty, too long or has characters a token never has."""


class TokenCipher:
    """Encrypts and decrypts Canvas access tokens."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(self._key_from(secret))

    @staticmethod
    def _key_from(secret: str) -> bytes:
        raw = secret.encode()
        try:
            if len(base64.urlsafe_b64decode(raw)) == 32:
                return raw  # already a Fernet key
        except (ValueError, TypeError):
            pass
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"gradesync-token-v1", info=b"canvas-token"
        ).derive(raw)
        return base64.urlsafe_b64encode(derived)

    def encrypt(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken as exc:
            raise InvalidCanvasToken(
                "the stored Canvas token cannot be decrypted (the encryption key changed): "
                "connect Canvas again in Settings"
            ) from exc


def mask_token(token: str | None) -> str:
    """A token as it may appear in logs: the last 4 characters at most."""
    if not token:
        return "<none>"
    return "****" + token[-4:] if len(token) > 12 else "****"


def clean_token(token: str | None) -> str:
    """Return the stripped token or raise ``InvalidCanvasToken`` with a one-line reason."""
    token = (token or "").strip()
    if not token:
        raise InvalidCanvasToken("the Canvas access token is empty: paste the token from Canvas")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidCanvasToken(
            f"the Canvas access token is too long ({len(token)} characters; at most "
            f"{MAX_TOKEN_LENGTH}): paste only the token"
        )
    if not all(33 <= ord(ch) < 127 for ch in token):
        raise InvalidCanvasToken(
            "the Canvas access token has spaces or characters a token never has: "
            "paste only the token"
        )
    return token


Resolver = Callable[[str], Iterable[str]]


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        # Shared address space (100.64.0.0/10, carrier NAT; some clouds' metadata services)
        # is neither "private" nor "reserved" to ipaddress, but it is not the internet.
        or not ip.is_global
    )


def validate_canvas_url(
    url: str | None,
    *,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    resolver: Resolver = _resolve,
) -> str:
    """Check a Canvas base URL and return it normalised (``scheme://host[:port]``).

    Raises ``InvalidCanvasURL`` with a message that names what to fix.
    """
    url = (url or "").strip()
    if not url:
        raise InvalidCanvasURL("the Canvas URL is empty: enter e.g. https://canvas.example.edu")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCanvasURL(f"the Canvas URL is too long (at most {MAX_URL_LENGTH} characters)")
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidCanvasURL(f"the Canvas URL is malformed ({exc}): check it") from exc
    host = (parts.hostname or "").lower()
    if not host or any(ch.isspace() for ch in url) or parts.username or parts.password:
        raise InvalidCanvasURL(
            "the Canvas URL is malformed: enter just the address, e.g. https://canvas.example.edu"
        )
    allowed = [h.lower() for h in allowed_hosts]
    if allowed and host not in allowed:
        raise InvalidCanvasURL(f"{host} is not an allowed Canvas host here; ask your operator")
    if parts.scheme not in ("https", "http"):
        raise InvalidCanvasURL("the Canvas URL must start with https://")
    try:
        addresses = list(resolver(host))
    except (OSError, UnicodeError) as exc:
        raise InvalidCanvasURL(f"cannot resolve the Canvas host {host}: check the URL") from exc
    if not addresses:
        raise InvalidCanvasURL(f"cannot resolve the Canvas host {host}: check the URL")
    public = all(_is_public(a) for a in addresses)
    if not allow_private:
        if parts.scheme != "https":
            raise InvalidCanvasURL("the Canvas URL must start with https://")
        if not public:
            raise InvalidCanvasURL(
                f"{host} resolves to a private or reserved address; Canvas must be a public host"
            )
    elif parts.scheme != "https" and public:
        # Plain http is only tolerated for local test servers, never a public host.
        raise InvalidCanvasURL("the Canvas URL must start with https://")
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return f"{parts.scheme}://{netloc}"
