"""LinkAja.

Wordings: "Kamu menerima saldo sebesar Rp 50.000 dari BUDI"; "Kamu terima uang Rp…" (from a
public parser's regex list, which gives it to LinkAja and to Jago).
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYER_BEFORE_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    Family,
    brand,
)

FAMILY = Family(
    name="linkaja",
    wallet=True,
    packages=("com.telkom.mwallet",),
    brand=brand(r"\blink\s*aja\b"),
    rules=(
        RECEIVE,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        PAYMENT_RECEIVED,
        QRIS_AMOUNT_RECEIVED,
        LABEL_IN_THEN_AMOUNT,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
    ),
)
