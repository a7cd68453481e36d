"""blu by BCA Digital.

Incoming transfers are titled "Kamu Menerima Dana Nih!" (public listeners allowlist that
title). Refused: refunds ("Pengembalian dana Rp 18.094,80 ...") and card payments
("Pembayaran di Grab* ... Rp 35.899,00 dengan ... bluDebit Card telah berhasil").
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYER_BEFORE_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    RECEIVE,
    Family,
    brand,
    rule,
)

FAMILY = Family(
    name="blu",
    packages=("com.bcadigital.blu",),
    brand=brand(r"\bblu(?:Account|Debit)?\b"),
    rules=(
        RECEIVE,
        LABEL_IN_THEN_AMOUNT,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        # title "Kamu Menerima Dana Nih!" with the amount (and payer) in the text
        rule(
            r"^kamu\s+menerima\s+dana\s+nih\b[^\n]*\n[^\n]*?<AMT>(?:\s+dari\s+<SENDER>)?",
        ),
    ),
)
