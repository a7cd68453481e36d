"""DANA and DANA Bisnis (the merchant side lives in the same app, package id.dana).

Wordings seen in public listeners and tests:
  "Pembayaran Masuk" / "Rp29.000 diterima DANA Bisnis."
  "Rp1.000 dari PT BANK JAGO TBK berhasil diterima DANA Bisnis."
  "Kamu berhasil menerima Rp25.042 dari JOHN DOE" (also "... via Gopay ke akunmu")
  "Saldo DANA Rp20.000 Berhasil Masuk" / "Uang masuk dari pengirim Andi."
  "DANA Bisnis: Transaksi QRIS sebesar Rp1.771,00 sukses"
  "Mutasi Masuk DANA Bisnis Rp5.083,00", "DANA: Masuk Rp5.083 dari NAME",
  "Penerimaan DANA Bisnis Rp50.120 berhasil" (public listeners' tests)
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    AMOUNT_RECEIVED,
    IN_THEN_AMOUNT,
    LABEL_IN_THEN_AMOUNT,
    PAYER_BEFORE_AMOUNT,
    PAYER_TITLE_AMOUNT_IN,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    RECEIPT,
    RECEIVE,
    Family,
    brand,
    rule,
)

FAMILY = Family(
    name="dana",
    wallet=True,
    # id.dana is the real app; com.dana.id is what the WebQRIS API docs' examples say;
    # id.dana.kasir is listed as a DANA package by a public bridge (k12stockroom danabridge).
    packages=("id.dana", "com.dana.id", "id.dana.kasir"),
    # The brand is written in capitals; "Dana masuk" is a bank's.
    brand=brand(r"\bDANA\b", case_sensitive=True),
    rules=(
        # Amount only in the title; the payer in the text.
        rule(
            r"\bsaldo\s+dana\s+<AMT>\s+(?:berhasil\s+|telah\s+)?masuk\b[^\n]*"
            r"(?:\n[^\n]*?\bdari\s+(?:pengirim\s+)?<SENDER>)?"
        ),
        rule(
            r"\bdana\s+bisnis\s*:\s*transaksi\s+(?:qris\s+)?(?:sebesar\s+)?<AMT>\s+(?:sukses|berhasil)\b",
            take_sender=False,
        ),
        RECEIVE,
        PAYER_BEFORE_AMOUNT,
        PAYMENT_RECEIVED,
        PAYMENT_RECEIVED_THEN_AMOUNT,
        AMOUNT_RECEIVED,
        PAYER_TITLE_AMOUNT_IN,
        AMOUNT_IN,
        LABEL_IN_THEN_AMOUNT,
        IN_THEN_AMOUNT,
        RECEIPT,
    ),
)
