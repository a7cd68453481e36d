"""LinkAja.

Wordings: "Kamu menerima saldo sebesar Rp 50.000 dari BUDI"; "Kamu terima uang Rp…" (from a
public parser's regex list, which gives it to LinkAja and to Jago).
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    TRANSFER_RECEIVED,
    Parsed,
    Rule,
    run,
)

NAME = "linkaja"
PACKAGES: tuple[str, ...] = ("com.telkom.mwallet",)

_HINT = re.compile(r"\blink\s*aja\b", re.IGNORECASE | re.ASCII)


def matches_text(title: str, message: str) -> bool:
    """True when the text names LinkAja (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    RECEIVE,
    TRANSFER_RECEIVED,
    PAYMENT_RECEIVED,
    QRIS_AMOUNT_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    AMOUNT_IN,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a LinkAja notification reports as received, or None."""
    return run(NAME, title, message, RULES)
