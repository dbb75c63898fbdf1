"""Telegram as an alert channel: a bot's ``sendMessage``, one JSON POST through the guard.

A student makes a bot with @BotFather, starts a chat with it (or adds it to a group) and gives
the address in Apprise's form, ``tgram://BOT_TOKEN/CHAT_ID``: the token as BotFather gives it
(``123456789:AAH…``), the chat a number (``-100…`` for a group or channel) or ``@channelname``.
The alert is POSTed to ``{TELEGRAM_API_URL}/bot{TOKEN}/sendMessage`` as
``{"chat_id", "text"}``, plain text (no ``parse_mode``, so nothing in it is read as markup).

The bot token is the secret (it is in the request's path): the address is stored encrypted
and shown back as ``tgram://12****/-1****``. The API address is the operator's setting
(``TELEGRAM_API_URL``, https://api.telegram.org; tests point it at a loopback server) and is
checked by the outbound guard like any other.
"""

from __future__ import annotations

import re

from app.alerts import guarded_send
from app.alerts.prefs import WebhookRefused, check_outbound_url
from app.alerts.webhook import WORD_JOINER
from app.outbound import OutboundPolicy
from app.safe_text import strip_control

SCHEME = "tgram://"
TOKEN = re.compile(r"(?:bot)?(?P<token>[0-9]{1,20}:[A-Za-z0-9_-]{20,100})")
CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
MAX_TEXT = 4096  # Telegram refuses a longer message
EXAMPLE = "tgram://123456789:AAH-your-bot-token/your-chat-id"


def split(address: str) -> tuple[str, str]:
    """The bot token and the chat id of a ``tgram://`` address; :class:`WebhookRefused`
    names what to fix."""
    address = address.strip()
    if not address.lower().startswith(SCHEME):
        raise WebhookRefused(f"Write the Telegram address as {EXAMPLE}.")
    rest = address[len(SCHEME):]
    if "?" in rest or "#" in rest:
        raise WebhookRefused("Leave anything after the chat id (? or #) out of the Telegram "
                             "address.")
    token_part, _, chat = rest.partition("/")
    token = TOKEN.fullmatch(token_part)
    if token is None:
        raise WebhookRefused("The Telegram bot token is the one @BotFather gives, like "
                             f"123456789:AAH… : check it in {EXAMPLE}.")
    chat = chat.rstrip("/")
    if not chat:
        raise WebhookRefused(f"Add the chat id after the bot token: {EXAMPLE}.")
    if not CHAT.fullmatch(chat):
        raise WebhookRefused("The Telegram chat id is one number (e.g. -1001234567890 for a "
                             "group) or @channelname.")
    return token["token"], chat


def endpoint(token: str, api_url: str) -> str:
    return f"{api_url.rstrip('/')}/bot{token}/sendMessage"


def parse(address: str, policy: OutboundPolicy, api_url: str) -> tuple[str, str]:
    """The ``sendMessage`` URL and the chat id, checked by the outbound guard."""
    token, chat = split(address)
    url = check_outbound_url(endpoint(token, api_url), policy, "Telegram API address")
    return url, chat


def mask(address: str) -> str:
    """The address as Settings shows it: the first two characters of the bot and of the chat."""
    token, _, chat = address.strip()[len(SCHEME):].partition("/")
    return f"{SCHEME}{token[:2]}****/{chat.rstrip('/')[:2]}****"[:300]


def message(lines: list[str]) -> str:
    """The alert as plain text; a word joiner after each ``@`` so a Canvas name pings no one."""
    text = "\n".join(strip_control(line) for line in lines).replace("@", "@" + WORD_JOINER)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def post(address: str, lines: list[str], policy: OutboundPolicy, *, api_url: str) -> None:
    """Send the alert; raises ``requests.RequestException``, ``OutboundRefused`` or
    :class:`WebhookRefused` (an address that no longer passes the guard)."""
    url, chat = parse(address, policy, api_url)
    chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
    guarded_send.send("POST", url, policy, service="Telegram",
                      json={"chat_id": chat_id, "text": message(lines)})
