"""Mandiri: Livin' by Mandiri and Livin' Merchant.

Wordings seen in public tests (device-captured, masked accounts):
  "Ini Dia Transaksi Terbaru Anda" / "Dana Rp 1.405.792,00 masuk ke rek. ****2430"
  "Dana Rp 480.040,00 didebit dari rek. ****2430. ..." (money out)
Livin' Merchant: "Dana masuk Rp10.000 dari BUDI" (a public device-test checklist).
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    TRANSFER_RECEIVED,
    Parsed,
    Rule,
    run,
)

NAME = "mandiri"
PACKAGES: tuple[str, ...] = (
    "id.bmri.livin",  # Livin' by Mandiri
    "id.bmri.livinmerchant",  # Livin' Merchant
)

_HINT = re.compile(r"\blivin\b|\bmandiri\b", re.IGNORECASE | re.ASCII)


def matches_text(title: str, message: str) -> bool:
    """True when the text names Livin' / Mandiri (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    LABEL_IN_THEN_AMOUNT,
    TRANSFER_RECEIVED,
    AMOUNT_IN,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a Livin' / Livin' Merchant notification reports as received, or None."""
    return run(NAME, title, message, RULES)
