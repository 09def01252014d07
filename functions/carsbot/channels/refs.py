"""Channel references as admins type them, normalised to one stable key.

Accepted forms (case-insensitive scheme/host; usernames are case-insensitive in Telegram, invite hashes
are not):

* public: ``@name``, ``name``, ``t.me/name``, ``https://t.me/name``, ``telegram.me/name``,
  ``t.me/s/name`` (web preview), ``t.me/name/123`` (a post link), ``tg://resolve?domain=name``;
* private invites: ``t.me/+HASH``, ``https://t.me/joinchat/HASH``, ``+HASH``, ``tg://join?invite=HASH``.

The normalised ref is ``@name`` (lower-case) or ``+HASH`` and is the ChannelsTable hash key. Numeric
channel ids come in two spellings (Telethon's ``1234``, the Bot API's ``-1001234``);
:func:`peer_channel_id` maps both to the positive id the registry stores. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

__all__ = ["ChannelRef", "InvalidChannelRef", "RefKind", "parse_channel_ref", "peer_channel_id"]


class RefKind(StrEnum):
    PUBLIC = "public"
    INVITE = "invite"


@dataclass(frozen=True)
class ChannelRef:
    kind: RefKind
    value: str  # username (lower-case, no @) or invite hash

    @property
    def ref(self) -> str:
        """The normalised key: ``@name`` or ``+HASH``."""
        return f"@{self.value}" if self.kind is RefKind.PUBLIC else f"+{self.value}"

    @property
    def link(self) -> str:
        return f"https://t.me/{self.value}" if self.kind is RefKind.PUBLIC else f"https://t.me/+{self.value}"

    def __str__(self) -> str:
        return self.ref


class InvalidChannelRef(ValueError):
    """The text is not a channel reference this system understands."""


# Telegram usernames: 5-32 characters, a letter first, letters/digits/underscores, no trailing underscore.
# (Some old/short collectible names exist with 4 characters; accept 4+.)
_USERNAME = re.compile(r"^[a-z][a-z0-9_]{2,30}[a-z0-9]$")
_INVITE_HASH = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_TME_HOSTS = {"t.me", "telegram.me", "telegram.dog", "www.t.me", "www.telegram.me"}
# First path segments of t.me links that are not channel usernames.
_RESERVED = {
    "c",
    "addstickers",
    "addemoji",
    "share",
    "proxy",
    "socks",
    "login",
    "confirmphone",
    "setlanguage",
}


def _public(name: str, original: str) -> ChannelRef:
    name = name.strip().lstrip("@").lower()
    if not _USERNAME.match(name) or "__" in name:
        raise InvalidChannelRef(f"{original!r}: {name!r} is not a valid Telegram username")
    return ChannelRef(RefKind.PUBLIC, name)


def _invite(value: str, original: str) -> ChannelRef:
    value = value.strip()
    if not _INVITE_HASH.match(value):
        raise InvalidChannelRef(f"{original!r}: {value!r} is not a valid invite hash")
    return ChannelRef(RefKind.INVITE, value)


def parse_channel_ref(text: str) -> ChannelRef:
    """Normalise ``text`` to a :class:`ChannelRef`; raises :class:`InvalidChannelRef` with a clear reason."""
    original = text
    text = (text or "").strip()
    if not text:
        raise InvalidChannelRef("empty channel reference")
    if text.startswith("+"):
        return _invite(text[1:], original)
    if text.startswith("@"):
        return _public(text, original)

    lowered = text.lower()
    if lowered.startswith("tg://"):
        parts = urlsplit(text)
        query = parse_qs(parts.query)
        if parts.netloc.lower() == "resolve" and query.get("domain"):
            return _public(query["domain"][0], original)
        if parts.netloc.lower() == "join" and query.get("invite"):
            return _invite(query["invite"][0], original)
        raise InvalidChannelRef(f"{original!r}: unsupported tg:// link")

    candidate = text if "://" in lowered else "https://" + text
    parts = urlsplit(candidate)
    host = parts.netloc.lower()
    if host in _TME_HOSTS:
        segments = [segment for segment in parts.path.split("/") if segment]
        if not segments:
            raise InvalidChannelRef(f"{original!r}: the link has no channel in it")
        first = segments[0]
        if first.startswith("+"):
            return _invite(first[1:], original)
        if first.lower() == "joinchat":
            if len(segments) < 2:
                raise InvalidChannelRef(f"{original!r}: joinchat link without an invite hash")
            return _invite(segments[1], original)
        if first.lower() == "s" and len(segments) >= 2:
            return _public(segments[1], original)
        if first.lower() in _RESERVED:
            raise InvalidChannelRef(
                f"{original!r}: t.me/{first}/... links are not channel references "
                "(use the channel's @username or an invite link)"
            )
        return _public(first, original)
    if "/" in text or "." in text or ":" in text:
        raise InvalidChannelRef(f"{original!r}: only t.me / telegram.me links are supported")
    return _public(text, original)


def peer_channel_id(value: int) -> int:
    """Telethon's positive channel id from either form (``1234`` or the Bot API's ``-1001234``)."""
    if value < 0:
        text = str(-value)
        return int(text[3:]) if text.startswith("100") and len(text) > 3 else -value
    return value
