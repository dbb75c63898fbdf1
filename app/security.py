"""Secrets and outbound-URL safety: token encryption at rest and the Canvas URL guard.

- Tokens are encrypted with Fernet. The key is ``TOKEN_ENCRYPTION_KEY`` when given (a Fernet
  key, or a passphrase of 16+ characters, stretched with scrypt), else derived from
  ``SECRET_KEY`` the same way. Tokens stored under the older HKDF derivation still decrypt.
- ``validate_canvas_url`` is the SSRF guard for a URL: https on port 443 only, the host as its
  A-label, and hosts that resolve to loopback, private, link-local or reserved addresses (or
  tunnel to one) are refused unless private hosts are allowed (tests and the demo, which talk
  to the simulator on 127.0.0.1 over plain http). Each connection is checked again by
  :mod:`app.outbound`.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import os
import socket
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from app.outbound import is_public_address, normalise_host
from app.settings import ConfigError, secret_weakness

MAX_TOKEN_LENGTH = 512
MAX_URL_LENGTH = 255


def key_file(path: Path, generate: Callable[[], str], check: Callable[[Path, str], str]) -> str:
    """The key kept in the file ``path`` (read back through ``check``), generated on first use.

    Processes that start together must all end up with the same complete key, so a new key is
    written to a private (0600) temporary file first and then published with ``os.link``,
    which fails if the name exists: exactly one process wins, and nobody can read the name
    before the key is in it.
    """
    try:
        return check(path, path.read_text())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return check(path, path.read_text())  # another process won
    finally:
        os.unlink(temp)
    return key


class InvalidCanvasURL(ValueError):
    """The Canvas URL is malformed or points somewhere we refuse to call."""


class InvalidCanvasToken(ValueError):
    """The access token is empty, too long or has characters a token never has."""


# scrypt parameters for a passphrase key (RFC 7914's interactive setting: ~16 MiB, ~50 ms).
# The salt is fixed on purpose: every process and worker must derive the same key from the
# same passphrase with no shared state. Changing any of these makes stored tokens unreadable.
SCRYPT_SALT = b"gradesync-token-encryption-v2"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_DISTINCT_KEY_BYTES = 8
_KEY_NAMES = "the token encryption key (TOKEN_ENCRYPTION_KEY, else SECRET_KEY)"


class WeakKeyError(ConfigError):
    """The token encryption key is empty, too short or obviously not random."""


@functools.lru_cache(maxsize=8)
def _derive_keys(secret: str) -> tuple[bytes, ...]:
    """Fernet keys for ``secret``: the one to encrypt with first, then legacy ones to read.

    A Fernet key is used as it is. Any other string is a passphrase, stretched with scrypt;
    tokens stored before scrypt was introduced were encrypted with an HKDF key from the same
    string, so that key stays in the list for decryption only.
    """
    raw = secret.encode()
    fernet_key = _as_fernet_key(raw)
    if fernet_key is not None:
        if len(set(fernet_key)) < MIN_DISTINCT_KEY_BYTES:
            raise WeakKeyError(f"{_KEY_NAMES} is not random (e.g. all zeros): generate a new one")
        return (raw,)
    reason = secret_weakness(secret)
    if reason:
        raise WeakKeyError(f"{_KEY_NAMES} is {reason}")
    stretched = Scrypt(salt=SCRYPT_SALT, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    legacy = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"gradesync-token-v1", info=b"canvas-token"
    )
    return (
        base64.urlsafe_b64encode(stretched.derive(raw)),
        base64.urlsafe_b64encode(legacy.derive(raw)),
    )


def _as_fernet_key(raw: bytes) -> bytes | None:
    """The 32 key bytes if ``raw`` is a Fernet key (urlsafe base64 of 32 bytes), else None."""
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (ValueError, TypeError):
        return None
    return decoded if len(decoded) == 32 else None


class TokenCipher:
    """Encrypts and decrypts Canvas access tokens.

    Raises ``WeakKeyError`` at construction for an empty, short or all-zero key, so a
    misconfigured server refuses to start instead of encrypting with a guessable key.
    """

    def __init__(self, secret: str) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in _derive_keys(secret)])

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
PORTS_ON_PUBLIC_HOSTS = (443,)


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    # TCP lookups give (address, port, ...) sockaddrs: the address is always a str.
    return [str(info[4][0]) for info in infos]


def validate_canvas_url(
    url: str | None,
    *,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    resolver: Resolver | None = _resolve,
) -> str:
    """Check a Canvas base URL and return it normalised (``scheme://host[:port]``).

    The host comes back as its A-label (UTS-46), the name every later check and connection
    uses. ``resolver=None`` skips the DNS step (IP literals are still checked): the guarded
    connection (:mod:`app.outbound`) checks the addresses again on every connection anyway.
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
    if not parts.hostname or any(ch.isspace() for ch in url) or parts.username or parts.password:
        raise InvalidCanvasURL(
            "the Canvas URL is malformed: enter just the address, e.g. https://canvas.example.edu"
        )
    try:
        host = normalise_host(parts.hostname)
    except UnicodeError as exc:
        raise InvalidCanvasURL(
            f"cannot resolve the Canvas host {parts.hostname!r}: it is not a valid domain name; "
            "check the URL"
        ) from exc
    allowed = [h.lower() for h in allowed_hosts]
    if allowed and host not in allowed:
        raise InvalidCanvasURL(f"{host} is not an allowed Canvas host here; ask your operator")
    if parts.scheme not in ("https", "http"):
        raise InvalidCanvasURL("the Canvas URL must start with https://")
    addresses = _addresses(host, resolver)
    public = all(is_public_address(a) for a in addresses)
    if not allow_private:
        if not public:
            # A local test Canvas (the demo's simulator) is refused for being local, not for
            # its http: say which setting lets it in.
            raise InvalidCanvasURL(
                f"{host} resolves to a private or reserved address; Canvas must be a public "
                "https:// host (for a local test Canvas, set CANVAS_ALLOW_PRIVATE_HOSTS=1)"
            )
        if parts.scheme != "https":
            raise InvalidCanvasURL("the Canvas URL must start with https://")
        if port is not None and port not in PORTS_ON_PUBLIC_HOSTS:
            raise InvalidCanvasURL(
                f"the Canvas URL has port {port}: Canvas answers on the https port (443); "
                "remove the port"
            )
    elif parts.scheme != "https" and public and addresses:
        # Plain http is only tolerated for local test servers, never a public host.
        raise InvalidCanvasURL("the Canvas URL must start with https://")
    if port == {"https": 443, "http": 80}[parts.scheme]:
        port = None
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" if port is None else f"{parts.scheme}://{netloc}:{port}"


def _addresses(host: str, resolver: Resolver | None) -> list[str]:
    """The addresses to check: the resolver's answer, or just an IP literal without one."""
    try:
        literal = str(ipaddress.ip_address(host))
    except ValueError:
        literal = None
    if resolver is None:
        return [literal] if literal else []
    try:
        addresses = list(resolver(host))
    except (OSError, UnicodeError) as exc:
        raise InvalidCanvasURL(f"cannot resolve the Canvas host {host}: check the URL") from exc
    if not addresses:
        raise InvalidCanvasURL(f"cannot resolve the Canvas host {host}: check the URL")
    return addresses
