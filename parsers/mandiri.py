"""Mandiri: Livin' by Mandiri and Livin' Merchant.

Wordings seen in public tests (device-captured, masked accounts):
  "Ini Dia Transaksi Terbaru Anda" / "Dana Rp 1.405.792,00 masuk ke rek. ****2430"
  "Dana Rp 480.040,00 didebit dari rek. ****2430. ..." (money out)
Livin' Merchant: "Dana masuk Rp10.000 dari BUDI" (a public device-test checklist).
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
    name="mandiri",
    packages=(
        "id.bmri.livin",  # Livin' by Mandiri
        # Livin' Merchant: Play Store links "details?id=id.bmri.livinmerchant" on public merchant
        # pages, and the package public QRIS listeners and a payment service accept.
        "id.bmri.livinmerchant",
    ),
    brand=brand(r"\blivin\b|\bmandiri\b"),
    rules=(
        LABEL_IN_THEN_AMOUNT,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        PAYMENT_RECEIVED,
        QRIS_AMOUNT_RECEIVED,
        RECEIVE,
    ),
)
