"""OVO.

Wordings: "OVO QRIS Rp60.000 berhasil diterima." and the common "Kamu menerima Rp… dari …".
Top-ups ("Top up sebesar Rp 100.000 berhasil masuk") are the shop's own money, not a payment.
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    TRANSFER_RECEIVED,
    Family,
    brand,
)

FAMILY = Family(
    name="ovo",
    wallet="ovo",
    packages=("ovo.id",),
    brand=brand(r"\bOVO\b", case_sensitive=True),
    rules=(
        QRIS_AMOUNT_RECEIVED,
        RECEIVE,
        TRANSFER_RECEIVED,
        PAYMENT_RECEIVED,
        LABEL_IN_THEN_AMOUNT,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        RECEIVED_EN,
    ),
)
