"""BNI: wondr by BNI and BNI Merchant.

Wordings seen in public listeners and tests:
  wondr: "Transfer Masuk: Rp 100.000 dari AHMAD ke rekening 1234***"
  BNI Merchant: "Transaksi Sebesar Rp 1.000 dari BLU BCA telah berhasil"
  ("BLU BCA" is the payer's wallet/bank, not a person)
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    TRANSACTION_RECEIVED,
    TRANSFER_RECEIVED,
    Parsed,
    Rule,
    rule,
    run,
)

NAME = "bni"
PACKAGES: tuple[str, ...] = (
    "id.bni.wondr",  # wondr by BNI
    "id.co.bni.merchant",  # BNI Merchant
)

_HINT = re.compile(r"\b(?:BNI|wondr)\b")


def matches_text(title: str, message: str) -> bool:
    """True when the text names BNI / wondr (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    rule(r"\btransaksi\s+sebesar\s+<AMT>\s+dari\s+<SENDER>\s+(?:telah\s+)?berhasil\b"),
    LABEL_IN_THEN_AMOUNT,
    RECEIVE,
    TRANSFER_RECEIVED,
    AMOUNT_IN,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    TRANSACTION_RECEIVED,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a wondr / BNI Merchant notification reports as received, or None."""
    return run(NAME, title, message, RULES)
