"""ShopeePay, ShopeePay Merchant and Shopee Partner.

Wordings seen in public listeners and tests (Shopee Partner, com.shopeepay.merchant.id):
  title "Pembayaran sebesar Rp1.000 diterima"
  text  "Pembayaran sebesar Rp1.000 telah diterima pada transaksi 20820696399434593."
ShopeePay: "Saldo ShopeePay Diterima" / "Rp10.000 telah diterima dari NAME.";
  "NAME mengirimkan dana sebesar Rp500.000 ke ShopeePay-mu melalui BI-Fast."
The amount may be only in the title; the long transaction id is never an amount. A group
summary ("2 pembayaran baru") repeats a payment already posted on its own, so it is ignored.
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_RECEIVED,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    SENT_TO_YOU,
    Parsed,
    Rule,
    run,
)

NAME = "shopeepay"
PACKAGES: tuple[str, ...] = (
    "com.shopeepay.id",  # ShopeePay
    # not com.shopee.id: the shopping app shows sellers' and chats' words, it is not a wallet
    "com.shopeepay.merchant.id",  # Shopee Partner / ShopeePay Merchant
)

_HINT = re.compile(r"\bshopee\s*pay\b|\bshopee\b", re.IGNORECASE | re.ASCII)
_NOISE = re.compile(r"^[0-9]+\s+pembayaran\b", re.IGNORECASE | re.ASCII)


def matches_text(title: str, message: str) -> bool:
    """True when the text names Shopee / ShopeePay (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    SENT_TO_YOU,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    AMOUNT_RECEIVED,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a ShopeePay / Shopee Partner notification reports as received, or None."""
    return run(NAME, title, message, RULES, noise=_NOISE)
