"""GoPay (consumer app and Gojek), GoPay Merchant and GoBiz.

Wordings seen in public listeners and tests:
  GoPay Merchant: "Pembayaran QRIS statis diterima" / "Rp 1.127 di JAJAN.AI DIY YOGYAKARTA, ..."
  GoBiz:          "Pembayaran QRIS diterima!" / "Rp1.000 berhasil diterima. ID transaksi: 40tc6WND"
  GoPay:          "Kamu menerima Rp50.000 dari Toko ABC via QRIS"
                  "Transfer masuk" / "Rp1 dari icaangg udah masuk ke GoPay kamu." (a phone)
  GoPay Usaha:    "GoPay Usaha: Pembayaran sebesar Rp 199.000 berhasil diterima"
  GoPay, English: "Rp1.000 from NAME has been received in your GoPay." (a phone's notification
                  dump quoted in a public listener's test)
Merchant notifications carry no payer name ("di TOKO" is the shop itself). The consumer app
posts the same payment again: a shop should forward one of the two.
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    AMOUNT_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    PAYER_BEFORE_AMOUNT,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIVE,
    Family,
    brand,
    rule,
)

FAMILY = Family(
    name="gopay",
    wallet=True,
    packages=(
        "com.gojek.gopaymerchant",  # GoPay Merchant
        "com.gojek.resto",  # GoBiz (GoFood Merchant)
        "com.gojek.gopay",  # GoPay
        "com.gojek.app",  # Gojek
    ),
    brand=brand(r"\bgo-?pay\b|\bgobiz\b|\bgofood\b|\bgojek\b"),
    rules=(
        # GoPay Merchant: title "Pembayaran diterima", text "Pembayaran QRIS Rp 50.000"
        rule(r"^pembayaran\s+diterima\s*\n\s*pembayaran\s+qris\s+<AMT>", take_sender=False),
        PAYMENT_RECEIVED_THEN_AMOUNT,
        RECEIVE,
        # "Anda telah menerima Tabungan by Jago sebanyak Rp500.000." (the source is a bank)
        rule(r"\bmenerima\s+(?P<sender>[^\n|.!?]{1,60}?)\s+sebanyak\s+<AMT>"),
        PAYMENT_RECEIVED,
        AMOUNT_RECEIVED,
        LABEL_IN_THEN_AMOUNT,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        # The app set to English: "Rp1.000 from NAME has been received in your GoPay."
        rule(
            r"(?:^|\n|[.!:]\s)<AMT>\s+(?:from\s+<SENDER>\s+)?has\s+been\s+received\s+"
            r"in(?:to)?\s+your\s+gopay\b"
        ),
    ),
)
