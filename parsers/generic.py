"""The careful fallback for apps without their own module (and for unknown packages).

It accepts only sentences that say plainly that money came in — QRIS merchant apps'
"Pembayaran QRIS sebesar Rp… <payer> - <source> telah diterima", "Transaksi diterima! Jumlah
Rp…", "Transfer Masuk" / "Rp… akan dikreditkan ke rekening Anda", "Kamu menerima Rp… dari …" —
and the shared noise filter and one-amount rule still apply.
"""

from __future__ import annotations

from .common import (
    AMOUNT_IN,
    AMOUNT_RECEIVED,
    CREDITED,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSACTION_RECEIVED,
    TRANSFER_RECEIVED,
    Parsed,
    Rule,
    rule,
    run,
)

NAME = "generic"
PACKAGES: tuple[str, ...] = (
    "com.bnc.finance",  # Bank Neo Commerce (neobank)
    "com.interactive.qrisid",  # a QRIS merchant app (qrishook test fixtures)
)


def matches_text(title: str, message: str) -> bool:
    """The fallback claims no text of its own."""
    return False


RULES: tuple[Rule, ...] = (
    # "Pembayaran QRIS sebesar Rp. 10.000 Sample Sender - Sample Source telah diterima"
    rule(
        r"\bpembayaran\s+qris\s+(?:sebesar\s+)?<AMT>\s+(?P<sender>[^\n|]{1,60}?)\s+-\s+"
        r"[^\n|]{1,60}?\s+(?:(?:telah|sudah|berhasil)\s+)?diterima\b"
    ),
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    TRANSFER_RECEIVED,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSACTION_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    AMOUNT_RECEIVED,
    CREDITED,
    AMOUNT_IN,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a notification reports as received, read conservatively, or None."""
    return run(NAME, title, message, RULES)
