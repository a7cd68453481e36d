"""Bank Jago.

Wordings seen in public tests (device-captured):
  "MUHAMMAD RIZKI YANTO telah mengirim Rp25.000 ke kamu. Buka aplikasi Jago untuk ..."
  "Kamu menerima kiriman Rp35.098 dari SHADIQ HAIRWIZ"
  "Kamu menerima Rp10.565 dari GoPay"  (a wallet, not a person)
  "You've received Rp200.000 from MIRANDA AMBAR SARI"  (English app setting)
  "<NAME> has sent Rp500.050 to you. Need help? Contact Tanya Jago at 1500 746."
Refused: "Kamu telah mengirim Rp… ke …", "Kamu telah membayar …", pocket moves, refunds.
"""

from __future__ import annotations

from .common import (
    LABEL_IN_THEN_AMOUNT,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    Family,
    brand,
)

FAMILY = Family(
    name="jago",
    packages=("com.jago.digitalBanking",),
    brand=brand(r"\bjago\b"),
    rules=(
        SENT_TO_YOU,
        SENT_TO_YOU_EN,
        SENT_YOU_EN,
        RECEIVE,
        TRANSFER_RECEIVED,
        TRANSFER_RECEIVED_THEN_AMOUNT,
        RECEIVED_EN,
        LABEL_IN_THEN_AMOUNT,
        QRIS_AMOUNT_RECEIVED,
    ),
)
