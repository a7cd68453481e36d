"""Notification parsers: read the amount received (whole rupiah) and the payer's name from a
"money received" notification that the shop's phone forwards, or return None.

    parse_notification("id.dana", "DANA", "Kamu berhasil menerima Rp25.042 dari JOHN DOE")
    -> Parsed(amount=25042, sender_name="JOHN DOE", parser="dana")

Each app family is data (a `Family` in its own module: packages, brand, rules). The family is
chosen by the app's package name first (REGISTRY); for any other package, or none, a title
(then a text) that clearly names one brand picks that family; otherwise the conservative
generic reader reads it. Reading is not trusting: the amount of a mail, chat or unknown app's
notification is read too, so that the owner sees it, and the caller decides with
`is_payment_app()` (and the merchant's own list) whether it may pay.

A false positive marks an unpaid order paid, so every family answers None when unsure.
"""

from __future__ import annotations

from . import (
    allo,
    bca,
    blu,
    bni,
    bri,
    bsi,
    dana,
    flip,
    generic,
    gopay,
    jago,
    jenius,
    krom,
    linkaja,
    mandiri,
    neo,
    nobu,
    ocbc,
    octo,
    ovo,
    paydia,
    permata,
    pos,
    qris_merchant,
    raya,
    seabank,
    shopeepay,
    superbank,
)
from .common import Family, Parsed, parse_rupiah

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "Family",
    "Parsed",
    "family_for",
    "is_payment_app",
    "non_payment_kind",
    "parse_notification",
    "parse_rupiah",
    "sibling_apps",
]

# Every family; generic last (it claims no text of its own).
FAMILIES: tuple[Family, ...] = (
    dana.FAMILY,
    gopay.FAMILY,
    ovo.FAMILY,
    shopeepay.FAMILY,
    linkaja.FAMILY,
    bca.FAMILY,
    bri.FAMILY,
    mandiri.FAMILY,
    bni.FAMILY,
    jago.FAMILY,
    seabank.FAMILY,
    blu.FAMILY,
    neo.FAMILY,
    qris_merchant.FAMILY,
    # Apps whose own incoming wording has not been seen in public: the shared shapes only.
    jenius.FAMILY,
    octo.FAMILY,
    ocbc.FAMILY,
    permata.FAMILY,
    bsi.FAMILY,
    allo.FAMILY,
    superbank.FAMILY,
    krom.FAMILY,
    raya.FAMILY,
    nobu.FAMILY,
    paydia.FAMILY,
    flip.FAMILY,
    pos.FAMILY,
    generic.FAMILY,
)
GENERIC: Family = generic.FAMILY


def _build_registry() -> dict[str, Family]:
    registry: dict[str, Family] = {}
    for family in FAMILIES:
        for package in family.packages:
            key = package.lower()
            if key in registry:
                raise RuntimeError(f"package {package} is claimed by two families")
            registry[key] = family
    return registry


# Package name (lower case) -> the family that reads its notifications. These packages, and
# only these, are known payment apps.
REGISTRY: dict[str, Family] = _build_registry()

_BRANDED: tuple[Family, ...] = tuple(f for f in FAMILIES if f.brand is not None)


def _package(app: object) -> str:
    if isinstance(app, (bytes, bytearray)):
        app = bytes(app).decode("utf-8", "replace")
    return app.strip().lower() if isinstance(app, str) else ""


# --------------------------------------------------------------------------------------------
# Trust data: which packages are payment apps, and what the others are
# --------------------------------------------------------------------------------------------


def is_payment_app(app: str | None) -> bool:
    """True only for a package that a family lists (a wallet, bank or QRIS-merchant app)."""
    return _package(app) in REGISTRY


# Apps whose notifications show what other people wrote or sell: whatever their text says, they
# never pay by default. Exact packages first (from the apps' Play Store listings), then name
# parts that catch their variants (Lite, Business, beta, OEM builds).
_NON_PAYMENT_PACKAGES: dict[str, str] = {
    # mail
    "com.google.android.gm": "mail",
    "com.google.android.gm.lite": "mail",
    "com.microsoft.office.outlook": "mail",
    "com.yahoo.mobile.client.android.mail": "mail",
    "com.samsung.android.email.provider": "mail",
    "ch.protonmail.android": "mail",
    "me.bluemail.mail": "mail",
    # SMS
    "com.google.android.apps.messaging": "sms",
    "com.samsung.android.messaging": "sms",
    "com.android.mms": "sms",
    "com.android.messaging": "sms",
    # messaging
    "com.whatsapp": "messaging",
    "com.whatsapp.w4b": "messaging",
    "org.telegram.messenger": "messaging",
    "org.telegram.messenger.web": "messaging",
    "org.thunderdog.challegram": "messaging",
    "jp.naver.line.android": "messaging",
    "com.facebook.orca": "messaging",
    "com.facebook.mlite": "messaging",
    "com.discord": "messaging",
    "org.thoughtcrime.securesms": "messaging",
    "com.viber.voip": "messaging",
    "com.tencent.mm": "messaging",
    "com.skype.raider": "messaging",
    "com.slack": "messaging",
    "com.michatapp.im": "messaging",
    # social
    "com.instagram.android": "social",
    "com.facebook.katana": "social",
    "com.facebook.lite": "social",
    "com.twitter.android": "social",
    "com.zhiliaoapp.musically": "social",  # TikTok
    "com.ss.android.ugc.trill": "social",  # TikTok (Asia builds)
    "com.google.android.youtube": "social",
    # caller id
    "com.truecaller": "caller-id",
    "app.source.getcontact": "caller-id",
    # marketplaces and shopping: their chats and order messages quote amounts
    "com.shopee.id": "marketplace",
    "com.tokopedia.tkpd": "marketplace",
    "com.tokopedia.sellerapp": "marketplace",
    "com.lazada.android": "marketplace",
    "com.bukalapak.android": "marketplace",
    "blibli.mobile.commerce": "marketplace",
}
_NON_PAYMENT_PARTS: tuple[tuple[str, str], ...] = (
    ("whatsapp", "messaging"),
    ("telegram", "messaging"),
    ("messenger", "messaging"),
    ("securesms", "messaging"),
    ("signal", "messaging"),
    ("discord", "messaging"),
    ("viber", "messaging"),
    ("wechat", "messaging"),
    ("michat", "messaging"),
    ("gmail", "mail"),
    ("email", "mail"),
    (".mail", "mail"),
    ("mail.", "mail"),
    ("outlook", "mail"),
    ("messaging", "sms"),
    (".mms", "sms"),
    (".sms", "sms"),
    ("sms.", "sms"),
    ("truecaller", "caller-id"),
    ("getcontact", "caller-id"),
    ("instagram", "social"),
    ("facebook", "social"),
    ("twitter", "social"),
    ("tiktok", "social"),
    ("musically", "social"),
    ("youtube", "social"),
    ("tokopedia", "marketplace"),
    ("lazada", "marketplace"),
    ("bukalapak", "marketplace"),
    ("blibli", "marketplace"),
)


def sibling_apps(app: str | None, other: str | None) -> bool:
    """True for two different apps of one family (GoPay Merchant and the GoPay app, BCA mobile
    and myBCA), which may both post the same payment."""
    package, other_package = _package(app), _package(other)
    family = REGISTRY.get(package)
    return family is not None and package != other_package \
        and REGISTRY.get(other_package) is family


def non_payment_kind(app: str | None) -> str | None:
    """The kind of a known non-payment app ("mail", "sms", "messaging", "social", "caller-id",
    "marketplace"), for the owner's explanation; None for payment apps and unknown packages."""
    package = _package(app)
    if not package or package in REGISTRY:
        return None
    kind = _NON_PAYMENT_PACKAGES.get(package)
    if kind is not None:
        return kind
    return next((kind for part, kind in _NON_PAYMENT_PARTS if part in package), None)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _named_in(text: str) -> Family | None:
    """The one family whose brand the text names, or None when none or several do."""
    found = [f for f in _BRANDED if f.names(text)]
    return found[0] if len(found) == 1 else None


def family_for(app: str | None, title: str = "", message: str = "") -> Family:
    """The family that reads this notification: by package, else by the brand its title (then
    its text) names, else the generic reader."""
    family = REGISTRY.get(_package(app))
    if family is not None:
        return family
    return _named_in(title) or _named_in(message) or GENERIC


def _text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def parse_notification(app: str | None, title: str | None, message: str | None) -> Parsed | None:
    """The payment a notification reports as received, or None, whatever the app. Never raises.

    Whether the app may pay is not decided here: see is_payment_app()."""
    try:
        title_text, message_text = _text(title), _text(message)
        return family_for(_text(app), title_text, message_text).parse(title_text, message_text)
    except Exception:  # a parser bug must not turn into a 500 or a false positive
        return None
