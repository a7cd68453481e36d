"""The careful fallback for text that names no family (any package, or none).

It accepts only sentences that say plainly that money came in — QRIS merchant apps'
"Pembayaran QRIS sebesar Rp… <payer> - <source> telah diterima", "Transaksi diterima! Jumlah
Rp…", "Transfer Masuk" / "Rp… akan dikreditkan ke rekening Anda", "Kamu menerima Rp… dari …" —
and the shared noise filter and one-amount rule still apply. It lists no package: whether a
notification may pay is decided by its package (parsers.is_payment_app), never by this reader.
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    AMOUNT_RECEIVED,
    CREDITED,
    LABEL_IN_THEN_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    QRIS_AMOUNT_RECEIVED,
    QRIS_PAYER_SOURCE_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSACTION_RECEIVED,
    TRANSFER_RECEIVED,
    Family,
)

FAMILY = Family(
    name="generic",
    packages=(),
    brand=None,
    rules=(
        QRIS_PAYER_SOURCE_RECEIVED,
        PAYMENT_RECEIVED,
        PAYMENT_RECEIVED_THEN_AMOUNT,
        QRIS_AMOUNT_RECEIVED,
        RECEIVE,
        TRANSFER_RECEIVED,
        RECEIVED_EN,
        SENT_TO_YOU,
        SENT_TO_YOU_EN,
        SENT_YOU_EN,
        TRANSACTION_RECEIVED,
        LABEL_IN_THEN_AMOUNT,
        AMOUNT_RECEIVED,
        CREDITED,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
    ),
)
