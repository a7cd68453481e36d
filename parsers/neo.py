"""Bank Neo Commerce (neobank).

Wordings seen in a public QRIS bot's README (it calls the bank "Nobu", but its package and the
QRIS GUID ID.CO.BANKNEOCOMMERCE.WWW are Neo Commerce's):
  title "Transfer Masuk" / "Rp10347 akan dikreditkan ke rekening Anda"
  title "Kamu menerima 1 pembayaran" / "Pembayaran QRIS diterima, Rp114 akan dikreditkan ke
  Tabungan Reguler kamu 5859********8988"  (the masked digits are the shop's account)
"""

from __future__ import annotations

from .common import (
    CREDITED,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    Family,
    brand,
)

FAMILY = Family(
    name="neo",
    packages=("com.bnc.finance",),
    brand=brand(r"\bneo\s*(?:bank|commerce)\b|\bneobank\b"),
    rules=(
        CREDITED,
        PAYMENT_RECEIVED,
        PAYMENT_RECEIVED_THEN_AMOUNT,
        RECEIVE,
        LABEL_IN_THEN_AMOUNT,
    ),
)
