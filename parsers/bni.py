"""BNI: wondr by BNI and BNI Merchant.

Wordings seen in public listeners and tests:
  wondr: "Transfer Masuk: Rp 100.000 dari AHMAD ke rekening 1234***"
  BNI Merchant: "Transaksi Sebesar Rp 1.000 dari BLU BCA telah berhasil"
  ("BLU BCA" is the payer's wallet/bank, not a person)
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
    TRANSACTION_RECEIVED,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    Family,
    brand,
    rule,
)

FAMILY = Family(
    name="bni",
    packages=(
        "id.bni.wondr",  # wondr by BNI
        "id.co.bni.merchant",  # BNI Merchant
        "src.com.bni",  # BNI Mobile Banking, wondr's predecessor
    ),
    brand=brand(r"\b(?:BNI|wondr)\b", case_sensitive=True),
    rules=(
        rule(r"\btransaksi\s+sebesar\s+<AMT>\s+dari\s+<SENDER>\s+(?:telah\s+)?berhasil\b"),
        LABEL_IN_THEN_AMOUNT,
        RECEIVE,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        PAYMENT_RECEIVED,
        QRIS_AMOUNT_RECEIVED,
        TRANSACTION_RECEIVED,
    ),
)
