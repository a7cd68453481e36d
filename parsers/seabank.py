"""SeaBank.

Wording: "Kamu menerima transfer masuk sebesar Rp 100.000 dari SITI RAHMAWATI".
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYER_BEFORE_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    Family,
    brand,
)

FAMILY = Family(
    name="seabank",
    packages=("id.co.bankbkemobile.digitalbank",),
    brand=brand(r"\bsea\s*bank\b"),
    rules=(
        RECEIVE,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        LABEL_IN_THEN_AMOUNT,
        QRIS_AMOUNT_RECEIVED,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        RECEIVED_EN,
        SENT_TO_YOU,
        SENT_TO_YOU_EN,
        SENT_YOU_EN,
    ),
)
