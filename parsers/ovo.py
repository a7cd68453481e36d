"""OVO.

Wordings: "OVO QRIS Rp60.000 berhasil diterima." and the common "Kamu menerima Rp… dari …";
a transfer in, "<NAME> mengirimkan dana sebesar Rp…" (the one OVO wording a public listener,
NotiPay's NotificationHandler, accepts as money in).
Top-ups ("Top up sebesar Rp 100.000 berhasil masuk") are the shop's own money, not a payment.
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
    RECEIVED_EN,
    SENT_TO_YOU,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    Family,
    brand,
)

FAMILY = Family(
    name="ovo",
    wallet=True,
    packages=("ovo.id",),
    brand=brand(r"\bOVO\b", case_sensitive=True),
    rules=(
        QRIS_AMOUNT_RECEIVED,
        RECEIVE,
        SENT_TO_YOU,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        PAYMENT_RECEIVED,
        LABEL_IN_THEN_AMOUNT,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        RECEIVED_EN,
    ),
)
