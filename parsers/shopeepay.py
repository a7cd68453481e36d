"""ShopeePay, ShopeePay Merchant and Shopee Partner.

Wordings seen in public listeners and tests (Shopee Partner, com.shopeepay.merchant.id):
  title "Pembayaran sebesar Rp1.000 diterima"
  text  "Pembayaran sebesar Rp1.000 telah diterima pada transaksi 20820696399434593."
ShopeePay: "Saldo ShopeePay Diterima" / "Rp10.000 telah diterima dari NAME.";
  "NAME mengirimkan dana sebesar Rp500.000 ke ShopeePay-mu melalui BI-Fast."
The amount may be only in the title; the long transaction id is never an amount. A group
summary ("2 pembayaran baru") repeats a payment already posted on its own, so it is ignored.
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    SENT_TO_YOU,
    Family,
    brand,
)

FAMILY = Family(
    name="shopeepay",
    wallet=True,
    packages=(
        "com.shopeepay.id",  # ShopeePay
        "com.shopeepay.merchant.id",  # Shopee Partner / ShopeePay Merchant
    ),
    brand=brand(r"\bshopee\s*pay\b|\bshopee\b"),
    rules=(
        SENT_TO_YOU,
        PAYMENT_RECEIVED,
        PAYMENT_RECEIVED_THEN_AMOUNT,
        RECEIVE,
        AMOUNT_RECEIVED,
        LABEL_IN_THEN_AMOUNT,
    ),
    noise=re.compile(r"^[0-9]+\s+pembayaran\b", re.IGNORECASE | re.ASCII),
)
