"""BCA: myBCA, BCA mobile (m-BCA) and Merchant BCA.

Wordings seen in public listeners and tests:
  myBCA "Catatan Finansial": "Pemasukan Rp1.500.000,00 dari JOHN DOE pada 05/12/2025 10:30",
    and without Rp: "Pemasukan 1,500,000.00" (41524120021/notification_listener examples)
  myBCA "Financial Diary": "You received IDR 43,000.00 from ****TA LA**IT M at Account Transfer
    category." (the payer masked by the bank)
  myBCA in English ("Financial Diary"): "You spent IDR 85,000.00 at Groceries." (money out)
  BCA mobile: "m-Transfer: Rp 500.000,00 dari BUDI SANTOSO telah masuk ke rek 1234567890"
Outgoing m-Transfer ("Rp50.000 ke 987654321 a/n ...") and QR payments are refused.
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    INCOME,
    LABEL_IN_THEN_AMOUNT,
    PAYER_BEFORE_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    Family,
    brand,
    rule,
)

FAMILY = Family(
    name="bca",
    packages=(
        "com.bca.mybca.omni.android",  # myBCA
        "com.bca",  # BCA mobile
        "com.bca.msb",  # Merchant BCA: QRIS & EDC
    ),
    brand=brand(r"\b(?:m-?BCA|myBCA|KlikBCA|BCA)\b", case_sensitive=True),
    rules=(
        INCOME,
        # myBCA "Catatan Finansial" without Rp: "Pemasukan 1,500,000.00 (dari NAME)"
        rule(r"\bpemasukan\s+(?:sebesar\s+)?<BARE>(?:\s+dari\s+<SENDER>)?"),
        # "m-Transfer dari NAME BERHASIL Rp…" (reconstructed from a public parser's regex)
        rule(r"\bm-?transfer\s+dari\s+<SENDER>\s+berhasil\s+<AMT>"),
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        LABEL_IN_THEN_AMOUNT,
        RECEIVE,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        RECEIVED_EN,
        PAYMENT_RECEIVED,
        QRIS_AMOUNT_RECEIVED,
    ),
)
