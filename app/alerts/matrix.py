"""Matrix as an alert channel: one ``m.room.message`` PUT to the homeserver, through the guard.

A student gives ``matrixs://ACCESS_TOKEN@HOMESERVER/!ROOM_ID`` (Apprise's form): an access
token of the account that posts (Element: Settings -> Help & About -> Access token; a bot
account is best), the server the Matrix app connects to, and the room's id (Element: Room
settings -> Advanced -> Internal room ID, ``!abc…:matrix.org``). A room alias (``#room:server``)
is refused with a line saying to paste the room id: resolving aliases is left out.
``matrix://`` (plain http) only where private hosts are allowed (tests, the demo).

The alert is ``PUT {homeserver}/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}``
with ``{"msgtype": "m.text", "body": text}`` and ``Authorization: Bearer TOKEN``; an empty
``m.mentions`` says the text mentions no one, so a Canvas name cannot ping a room member. The
token is the secret: stored encrypted, shown back as ``matrixs://****@matrix.org/!ab****``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from app.alerts import guarded_send
from app.alerts.prefs import WebhookRefused, check_outbound_url
from app.outbound import OutboundPolicy
from app.safe_text import strip_control

SCHEMES = {"matrixs": "https", "matrix": "http"}
EXAMPLE = "matrixs://YOUR_ACCESS_TOKEN@matrix-client.matrix.org/!roomid:matrix.org"
MAX_ROOM = 255  # the spec's limit for a room id
MAX_BODY = 4000


@dataclass(frozen=True)
class Target:
    """The homeserver's origin (``https://host[:port]``), the room id and the access token."""

    origin: str
    room: str
    token: str

    def url(self, txn: str) -> str:
        room = quote(self.room, safe="")
        return f"{self.origin}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"


def split(address: str, policy: OutboundPolicy) -> Target:
    """The address's parts, each checked; :class:`WebhookRefused` names what to fix."""
    address = address.strip()
    scheme_name, sep, rest = address.partition("://")
    scheme = SCHEMES.get(scheme_name.lower()) if sep else None
    if scheme is None:
        raise WebhookRefused(f"Write the Matrix address as {EXAMPLE}.")
    if scheme == "http" and not policy.allow_private:
        raise WebhookRefused("Use matrixs:// for the Matrix address: plain http is not allowed "
                             "on this server.")
    authority, _, room = rest.partition("/")
    token, at, host = authority.rpartition("@")
    if not at or not token or not host:
        raise WebhookRefused(f"Put the access token before the server: {EXAMPLE}.")
    if ":" in token:
        raise WebhookRefused("Give the Matrix account's access token, not a user name and "
                             f"password: {EXAMPLE}.")
    token = unquote(token)
    if not token.isascii() or not token.isprintable() or " " in token:
        raise WebhookRefused("The Matrix access token has characters a token never has: "
                             "copy it again.")
    return Target(_origin(scheme, host), _room(room), token)


def _origin(scheme: str, host: str) -> str:
    try:
        parts = urlsplit(f"{scheme}://{host}")
        port = parts.port
    except ValueError:
        raise WebhookRefused("The Matrix server in the address is not a host name (or "
                             "host:port).") from None
    if not parts.hostname or parts.path or parts.query or parts.fragment:
        raise WebhookRefused("The Matrix server in the address is not a host name (or "
                             "host:port).")
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{name}" + (f":{port}" if port else "")


def _room(text: str) -> str:
    room = unquote(text).strip().rstrip("/")
    if room.startswith("#") or text.startswith("#"):
        raise WebhookRefused("Paste the room id (!…:server, Element: Room settings -> Advanced), "
                             "not its #alias: aliases are not looked up.")
    if not room:
        raise WebhookRefused(f"Add the room id after the server: {EXAMPLE}.")
    if (not room.startswith("!") or len(room) > MAX_ROOM
            or any(c.isspace() or c in "/?#" for c in room)):
        raise WebhookRefused("The Matrix room id starts with ! (e.g. !abcdef:matrix.org); "
                             "leave anything after it out.")
    return room


def parse(address: str, policy: OutboundPolicy) -> Target:
    """The address, its homeserver checked by the outbound guard."""
    target = split(address, policy)
    check_outbound_url(target.url("check"), policy, "Matrix server")
    return target


def mask(address: str) -> str:
    """The address as Settings shows it: the server and the room's first characters only."""
    scheme, _, rest = address.strip().partition("://")
    authority, _, room = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme.lower()}://****@{host}/{unquote(room)[:3]}****"[:300]


def post(address: str, lines: list[str], policy: OutboundPolicy) -> None:
    """Send the alert; raises ``requests.RequestException``, ``OutboundRefused`` or
    :class:`WebhookRefused` (an address that no longer passes the guard)."""
    target = parse(address, policy)
    body = "\n".join(strip_control(line) for line in lines)
    body = body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"
    guarded_send.send(
        "PUT", target.url(uuid.uuid4().hex), policy, service="The Matrix server",
        headers={"Authorization": f"Bearer {target.token}"},
        json={"msgtype": "m.text", "body": body, "m.mentions": {}},
    )
