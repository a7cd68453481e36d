"""BRI: BRImo and BRImerchant.

Wordings seen in public listeners and docs:
  BRImo: "Sobat BRI! Dana Rp1.000.451 masuk ke rekening 736901035288537 pada 05/12/2025
          11:14:59 KET.:TRANSFER DARI JANE DOE"  (account number and time are not amounts)
  BRImo: "BRImo - Transfer masuk sebesar Rp 750000"
  BRImerchant: "Pembayaran Diterima" / "QRIS Rp150.000 berhasil"
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
    Family,
    brand,
    rule,
)

FAMILY = Family(
    name="bri",
    packages=(
        "id.co.bri.brimo",  # BRImo
        # BRImerchant (QRIS BRI): the package of a public forwarder's BRImerchant payload example
        # ("source_app_label": "BRImerchant") and of a payment service's accepted apps.
        "id.co.bri.merchant",
    ),
    brand=brand(r"\b(?:BRImo|BRImerchant|BRI)\b", case_sensitive=True),
    rules=(
        # "Dana Rp… masuk ke rekening … KET.:TRANSFER DARI NAME"
        rule(r"\bdana\s+<AMT>\s+masuk\s+ke\s+rekening\b[^\n]*?\bdari\s+<SENDER>"),
        # BRImerchant: title "Pembayaran Diterima", text "QRIS Rp… (dari NAME) berhasil"
        rule(r"^pembayaran\s+diterima\s*\n\s*qris\s+<AMT>(?:\s+dari\s+<SENDER>)?\s+berhasil\b"),
        # "penerimaan dana Rp… dari NAME" (reconstructed from a public parser's regex)
        rule(r"\bpenerimaan\s+dana\s+(?:sebesar\s+)?<AMT>(?:\s+dari\s+<SENDER>)?"),
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        PAYER_BEFORE_AMOUNT,
        LABEL_IN_THEN_AMOUNT,
        PAYMENT_RECEIVED,
        QRIS_AMOUNT_RECEIVED,
        RECEIVE,
    ),
)
