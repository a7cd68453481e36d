"""QRIS merchant apps that are neither a bank's nor a wallet's: InterActive QRIS ("QRIS Online").

Wordings seen in public listeners' tests (qrishook, captured on a device):
  title "Transaksi InterActive QRIS" / "Pembayaran QRIS sebesar Rp 1 Sample Sender - Sample
  Source telah diterima"  (the payer, then the payer's bank or wallet)
Refused: "Transaksi Rp10.000 dibatalkan", "Refund Rp10.000 berhasil".
"""

from __future__ import annotations

from .common import (
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    QRIS_AMOUNT_RECEIVED,
    QRIS_PAYER_SOURCE_RECEIVED,
    TRANSACTION_RECEIVED,
    Family,
    brand,
)

FAMILY = Family(
    name="qris_merchant",
    # InterActive QRIS: its Play Store listing (details?id=com.interactive.qrisid) is linked from
    # a public portfolio, and qrishook's InterActiveQrisMerchantParser lists the same package.
    packages=("com.interactive.qrisid",),
    brand=brand(r"\binteractive\s+qris\b"),
    rules=(
        QRIS_PAYER_SOURCE_RECEIVED,
        PAYMENT_RECEIVED,
        PAYMENT_RECEIVED_THEN_AMOUNT,
        QRIS_AMOUNT_RECEIVED,
        TRANSACTION_RECEIVED,
    ),
)
