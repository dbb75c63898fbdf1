"""Discord as an alert channel: a channel's webhook, one JSON POST through the outbound guard.

A student copies the webhook from the Discord channel (Edit channel -> Integrations ->
Webhooks -> Copy Webhook URL): ``https://discord.com/api/webhooks/ID/TOKEN`` (also
``discordapp.com`` and the ``ptb.``/``canary.`` hosts), or Apprise's ``discord://ID/TOKEN``.
Only those hosts are taken, over https; where the policy allows private hosts (tests, the
demo) any host with that path is, so a loopback server can stand in for Discord.

The token is the secret: the address is stored encrypted and shown back as
``https://discord.com/api/webhooks/1234****/****``. The text comes from Canvas, so the
message carries ``allowed_mentions: {"parse": []}``: no ``@everyone`` or role ping.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.alerts import guarded_send
from app.alerts.prefs import WebhookRefused, check_outbound_url
from app.alerts.webhook import MAX_CONTENT
from app.outbound import OutboundPolicy
from app.safe_text import strip_control

HOSTS = ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com")
PATH = re.compile(r"/api/webhooks/(?P<id>[0-9]{1,30})/(?P<token>[A-Za-z0-9_-]{10,120})/?")
WHERE = "copy it from the Discord channel's Integrations -> Webhooks"


def looks_like(address: str) -> bool:
    """Whether an http(s) address is meant as a Discord webhook (not an ntfy topic)."""
    try:
        parts = urlsplit(address.strip())
        return (parts.hostname or "") in HOSTS or parts.path.startswith("/api/webhooks/")
    except ValueError:  # not an address at all: the kind's own check says so
        return False


def parse(address: str, policy: OutboundPolicy) -> str:
    """The webhook's URL, checked by the outbound guard; :class:`WebhookRefused` says why not."""
    address = address.strip()
    if address.lower().startswith("discord://"):  # Apprise's form: discord://ID/TOKEN
        ident, _, token = address[len("discord://"):].partition("/")
        address = f"https://discord.com/api/webhooks/{ident}/{token}"
    parts = urlsplit(address)
    host = (parts.hostname or "").lower()
    if not policy.allow_private and (parts.scheme.lower() != "https" or host not in HOSTS):
        raise WebhookRefused("A Discord webhook address starts with "
                             f"https://discord.com/api/webhooks/: {WHERE}.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise WebhookRefused("Leave anything before the host or after the token (@, ?, #) out "
                             "of the Discord webhook address.")
    found = PATH.fullmatch(parts.path)
    if found is None:
        raise WebhookRefused("The Discord webhook address ends in /api/webhooks/NUMBER/TOKEN: "
                             f"{WHERE}.")
    url = f"{parts.scheme.lower()}://{parts.netloc}/api/webhooks/{found['id']}/{found['token']}"
    return check_outbound_url(url, policy, "Discord webhook address")


def mask(address: str) -> str:
    """The webhook as Settings shows it: the host and the id's first four digits, no token."""
    address = address.strip()
    if address.lower().startswith("discord://"):
        origin, ident = "https://discord.com", address[len("discord://"):].partition("/")[0]
    else:
        parts = urlsplit(address)
        found = PATH.fullmatch(parts.path)
        origin = f"{parts.scheme.lower()}://{parts.netloc.rsplit('@', 1)[-1]}"
        ident = found["id"] if found else ""
    return f"{origin}/api/webhooks/{ident[:4]}****/****"[:300]


def post(address: str, lines: list[str], policy: OutboundPolicy) -> None:
    """Send the alert; raises ``requests.RequestException``, ``OutboundRefused`` or
    :class:`WebhookRefused` (an address that no longer passes the guard)."""
    url = parse(address, policy)
    text = "\n".join(strip_control(line) for line in lines)
    if len(text) > MAX_CONTENT:
        text = text[: MAX_CONTENT - 1] + "…"
    guarded_send.send("POST", url, policy, service="Discord",
                      json={"content": text, "allowed_mentions": {"parse": []}})
