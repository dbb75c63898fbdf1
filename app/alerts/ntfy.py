"""ntfy (https://ntfy.sh or a self-hosted server) as an alert channel, through the guard.

A student gives the topic's address in one of the forms Apprise uses:

- ``https://ntfy.sh/my-topic`` (anyone who knows the topic can read it: pick a long one);
- ``ntfys://TOKEN@ntfy.sh/my-topic`` or ``ntfys://USER:PASSWORD@host/my-topic`` for a
  protected topic (``ntfy://`` for plain http, only where private hosts are allowed).

The address holds a secret either way, so it is stored encrypted and shown back only masked
(:func:`mask`). The alert is one plain-text POST to ``https://host/topic`` made by
:func:`app.alerts.guarded_send.send` (the outbound guard), like a webhook.

Why not Apprise itself: each of its 200-odd services opens its own connections (module-level
``requests`` calls, SMTP, XMPP and MQTT sockets), so none can be made to go through the
outbound guard without patching the library; it also brings PyYAML, Markdown and
requests-oauthlib. ntfy is one POST, so it is written here, guarded.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from app.alerts import guarded_send
from app.alerts.prefs import WebhookRefused, check_outbound_url
from app.outbound import OutboundPolicy
from app.safe_text import strip_control

TOPIC = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_MESSAGE = 4000  # ntfy turns a longer message into an attachment
SCHEMES = {"https": "https", "ntfys": "https", "ntfy": "http"}


@dataclass(frozen=True)
class Target:
    """Where to POST and the Authorization header to send (None: an open topic)."""

    url: str
    authorization: str | None


def parse(address: str, policy: OutboundPolicy) -> Target:
    """The ntfy address, checked by the outbound guard; :class:`WebhookRefused` says why not."""
    address = address.strip()
    parts = urlsplit(address)
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise WebhookRefused("Enter the ntfy address as https://ntfy.sh/your-topic "
                             "(or ntfys://token@host/your-topic).")
    if scheme == "http" and not policy.allow_private:
        raise WebhookRefused("Use ntfys:// or https:// for the ntfy address: plain http is "
                             "not allowed on this server.")
    topic = parts.path.strip("/")
    if not TOPIC.fullmatch(topic):
        raise WebhookRefused("The ntfy topic (after the host) must be 1 to 64 letters, digits, "
                             "- or _.")
    if parts.query or parts.fragment:
        raise WebhookRefused("Leave anything after the topic (? or #) out of the ntfy address.")
    auth = None
    if parts.username and parts.password is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password)}".encode()
        auth = "Basic " + base64.b64encode(pair).decode()
    elif parts.username:
        auth = f"Bearer {unquote(parts.username)}"
    if auth is not None and scheme == "https" and parts.scheme.lower() == "https":
        raise WebhookRefused("Write a protected topic as ntfys://token@host/topic.")
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in (parts.hostname or ""):
        netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    url = check_outbound_url(f"{scheme}://{netloc}/{topic}", policy, "ntfy address")
    return Target(url, auth)


def mask(address: str) -> str:
    """The address as Settings shows it: the host, the topic's first two characters, no secret."""
    parts = urlsplit(address.strip())
    topic = parts.path.strip("/")
    who = "****@" if parts.username else ""
    return f"{parts.scheme}://{who}{parts.netloc.rsplit('@', 1)[-1]}/{topic[:2]}****"[:300]


def post(address: str, lines: list[str], policy: OutboundPolicy, *,
         title: str = "GradeSync") -> None:
    """Send the alert; raises ``requests.RequestException``, ``OutboundRefused`` or
    :class:`WebhookRefused` (an address that no longer passes the guard)."""
    target = parse(address, policy)
    text = "\n".join(strip_control(line) for line in lines)[:MAX_MESSAGE]
    headers = {"Title": title, "Content-Type": "text/plain; charset=utf-8"}
    if target.authorization:
        headers["Authorization"] = target.authorization
    guarded_send.send("POST", target.url, policy, service="ntfy", headers=headers,
                      data=text.encode())
