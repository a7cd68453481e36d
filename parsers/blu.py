"""blu by BCA Digital.

Incoming transfers are titled "Kamu Menerima Dana Nih!" (public listeners allowlist that
title). Refused: refunds ("Pengembalian dana Rp 18.094,80 ...") and card payments
("Pembayaran di Grab* ... Rp 35.899,00 dengan ... bluDebit Card telah berhasil").
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    RECEIVE,
    Parsed,
    Rule,
    rule,
    run,
)

NAME = "blu"
PACKAGES: tuple[str, ...] = ("com.bcadigital.blu",)

_HINT = re.compile(r"\bblu(?:Account|Debit)?\b", re.IGNORECASE | re.ASCII)


def matches_text(title: str, message: str) -> bool:
    """True when the text names blu (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    RECEIVE,
    LABEL_IN_THEN_AMOUNT,
    AMOUNT_IN,
    # title "Kamu Menerima Dana Nih!" with the amount (and payer) in the text
    rule(
        r"^kamu\s+menerima\s+dana\s+nih\b[^\n]*\n[^\n]*?<AMT>(?:\s+dari\s+<SENDER>)?",
    ),
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a blu notification reports as received, or None."""
    return run(NAME, title, message, RULES)
