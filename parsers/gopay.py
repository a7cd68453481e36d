"""GoPay (consumer app and Gojek), GoPay Merchant and GoBiz.

Wordings seen in public listeners and tests:
  GoPay Merchant: "Pembayaran QRIS statis diterima" / "Rp 1.127 di JAJAN.AI DIY YOGYAKARTA, ..."
  GoBiz:          "Pembayaran QRIS diterima!" / "Rp1.000 berhasil diterima. ID transaksi: 40tc6WND"
  GoPay:          "Kamu menerima Rp50.000 dari Toko ABC via QRIS"
  GoPay Usaha:    "GoPay Usaha: Pembayaran sebesar Rp 199.000 berhasil diterima"
Merchant notifications carry no payer name ("di TOKO" is the shop itself). The consumer app
posts the same payment again: a shop should forward one of the two.
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    Parsed,
    Rule,
    rule,
    run,
)

NAME = "gopay"
PACKAGES: tuple[str, ...] = (
    "com.gojek.gopaymerchant",  # GoPay Merchant
    "com.gojek.resto",  # GoBiz (GoFood Merchant)
    "com.gojek.gopay",  # GoPay
    "com.gojek.app",  # Gojek
)

_HINT = re.compile(r"\bgo-?pay\b|\bgobiz\b|\bgofood\b|\bgojek\b", re.IGNORECASE | re.ASCII)


def matches_text(title: str, message: str) -> bool:
    """True when the text names GoPay / GoBiz / Gojek (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    # GoPay Merchant: title "Pembayaran diterima", text "Pembayaran QRIS Rp 50.000"
    rule(r"^pembayaran\s+diterima\s*\n\s*pembayaran\s+qris\s+<AMT>", take_sender=False),
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    # "Anda telah menerima Tabungan by Jago sebanyak Rp500.000." (the source is a bank)
    rule(r"\bmenerima\s+(?P<sender>[^\n|.!?]{1,60}?)\s+sebanyak\s+<AMT>"),
    PAYMENT_RECEIVED,
    AMOUNT_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a GoPay / GoPay Merchant / GoBiz notification reports as received, or None."""
    return run(NAME, title, message, RULES)
