"""BRI: BRImo and BRImerchant.

Wordings seen in public listeners and docs:
  BRImo: "Sobat BRI! Dana Rp1.000.451 masuk ke rekening 736901035288537 pada 05/12/2025
          11:14:59 KET.:TRANSFER DARI JANE DOE"  (account number and time are not amounts)
  BRImo: "BRImo - Transfer masuk sebesar Rp 750000"
  BRImerchant: "Pembayaran Diterima" / "QRIS Rp150.000 berhasil"
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    Parsed,
    Rule,
    rule,
    run,
)

NAME = "bri"
PACKAGES: tuple[str, ...] = (
    "id.co.bri.brimo",  # BRImo
    "id.co.bri.merchant",  # BRImerchant
)

_HINT = re.compile(r"\b(?:BRImo|BRImerchant|BRI)\b")


def matches_text(title: str, message: str) -> bool:
    """True when the text names BRI / BRImo (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    # "Dana Rp… masuk ke rekening … KET.:TRANSFER DARI NAME"
    rule(r"\bdana\s+<AMT>\s+masuk\s+ke\s+rekening\b[^\n]*?\bdari\s+<SENDER>"),
    # BRImerchant: title "Pembayaran Diterima", text "QRIS Rp… (dari NAME) berhasil"
    rule(r"^pembayaran\s+diterima\s*\n\s*qris\s+<AMT>(?:\s+dari\s+<SENDER>)?\s+berhasil\b"),
    # "penerimaan dana Rp… dari NAME" (reconstructed from a public parser's regex)
    rule(r"\bpenerimaan\s+dana\s+(?:sebesar\s+)?<AMT>(?:\s+dari\s+<SENDER>)?"),
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a BRImo / BRImerchant notification reports as received, or None."""
    return run(NAME, title, message, RULES)
