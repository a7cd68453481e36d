"""Notification parsers: read the amount received (whole rupiah) and the payer's name from a
"money received" notification that the shop's phone forwards, or return None.

    parse_notification("id.dana", "DANA", "Kamu berhasil menerima Rp25.042 dari JOHN DOE")
    -> Parsed(amount=25042, sender_name="JOHN DOE", parser="dana")

The parser is chosen by the app's package name first (REGISTRY). For an unknown or missing
package, a title (then a text) that clearly names one app picks that app's parser; otherwise the
conservative generic parser reads it. Notifications of messaging, mail and social apps are never
read: anybody can send a shop a chat message that looks like a payment.

A false positive marks an unpaid order paid, so every parser answers None when unsure.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    bca,
    blu,
    bni,
    bri,
    dana,
    generic,
    gopay,
    jago,
    linkaja,
    mandiri,
    ovo,
    seabank,
    shopeepay,
)
from .common import Parsed, parse_rupiah

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "Parsed",
    "is_payment_app",
    "is_untrusted_app",
    "non_payment_kind",
    "parse_notification",
    "parse_rupiah",
    "parser_for_app",
]

# Every family module; generic last (it claims no text of its own).
FAMILIES: tuple[ModuleType, ...] = (
    dana,
    gopay,
    ovo,
    shopeepay,
    linkaja,
    bca,
    bri,
    mandiri,
    bni,
    jago,
    seabank,
    blu,
    generic,
)


def _build_registry() -> dict[str, ModuleType]:
    registry: dict[str, ModuleType] = {}
    for family in FAMILIES:
        for package in family.PACKAGES:
            key = package.lower()
            if key in registry:
                raise RuntimeError(f"package {package} is claimed by two parsers")
            registry[key] = family
    return registry


# Package name (lower case) -> the family module that reads its notifications.
REGISTRY: dict[str, ModuleType] = _build_registry()

_TEXT_FAMILIES: tuple[ModuleType, ...] = tuple(f for f in FAMILIES if f is not generic)

# Apps whose notifications carry what other people wrote: never read as a payment.
_UNTRUSTED_PARTS: tuple[str, ...] = (
    "whatsapp",
    "telegram",
    "messenger",
    "messaging",
    "mms",
    ".sms",
    "sms.",
    "gmail",
    "email",
    ".mail",
    "mail.",
    "outlook",
    "instagram",
    "facebook",
    "twitter",
    "tiktok",
    "musically",
    "discord",
    "securesms",
    "org.signal",
    "slack",
    "jp.naver.line.android",
    "wechat",
    "tencent.mm",
    "viber",
    "skype",
    "youtube",
    "michat",
)


def is_untrusted_app(app: str) -> bool:
    """True for messaging, mail and social apps: their notifications show other people's text."""
    key = app.lower()
    return any(part in key for part in _UNTRUSTED_PARTS)


def is_payment_app(app: str | None) -> bool:
    """True for a package that a payment family lists: only those pay by default."""
    return isinstance(app, str) and app.strip().lower() in REGISTRY


def non_payment_kind(app: str | None) -> str | None:
    """A word for a known kind of app that is not a payment app, for explanations."""
    return "messaging, mail or social" if isinstance(app, str) and is_untrusted_app(app) else None


def _by_text(text: str, message_side: bool) -> ModuleType | None:
    """The one family whose name the text carries, or None when none or several do."""
    found = [
        f
        for f in _TEXT_FAMILIES
        if (f.matches_text("", text) if message_side else f.matches_text(text, ""))
    ]
    return found[0] if len(found) == 1 else None


def parser_for_app(app: str | None, title: str = "", message: str = "") -> ModuleType | None:
    """The family module that should read this notification, or None (an untrusted app)."""
    package = app.strip() if isinstance(app, str) else ""
    if package:
        family = REGISTRY.get(package.lower())
        if family is not None:
            return family
    return _by_text(title, False) or _by_text(message, True) or generic


def _text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def parse_notification(app: str | None, title: str | None, message: str | None) -> Parsed | None:
    """The payment a notification reports as received, or None. Never raises."""
    try:
        title_text, message_text = _text(title), _text(message)
        family = parser_for_app(_text(app) or None, title_text, message_text)
        if family is None:
            return None
        found: Parsed | None = family.parse(title_text, message_text)
        return found
    except Exception:  # a parser bug must not turn into a 500 or a false positive
        return None
