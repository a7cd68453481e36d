"""OVO.

Wordings: "OVO QRIS Rp60.000 berhasil diterima." and the common "Kamu menerima Rp… dari …".
Top-ups ("Top up sebesar Rp 100.000 berhasil masuk") are the shop's own money, not a payment.
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    RECEIVED_EN,
    TRANSFER_RECEIVED,
    Parsed,
    Rule,
    run,
)

NAME = "ovo"
PACKAGES: tuple[str, ...] = ("ovo.id",)

_HINT = re.compile(r"\bOVO\b")


def matches_text(title: str, message: str) -> bool:
    """True when the text names OVO (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    TRANSFER_RECEIVED,
    PAYMENT_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    AMOUNT_IN,
    RECEIVED_EN,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment an OVO notification reports as received, or None."""
    return run(NAME, title, message, RULES)
