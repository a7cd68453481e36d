"""SeaBank.

Wording: "Kamu menerima transfer masuk sebesar Rp 100.000 dari SITI RAHMAWATI".
"""

from __future__ import annotations

import re

from .common import (
    AMOUNT_IN,
    LABEL_IN_THEN_AMOUNT,
    RECEIVE,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSFER_RECEIVED,
    Parsed,
    Rule,
    run,
)

NAME = "seabank"
PACKAGES: tuple[str, ...] = ("id.co.bankbkemobile.digitalbank",)

_HINT = re.compile(r"\bsea\s*bank\b", re.IGNORECASE | re.ASCII)


def matches_text(title: str, message: str) -> bool:
    """True when the text names SeaBank (used only for an unknown package)."""
    return bool(_HINT.search(title or "") or _HINT.search(message or ""))


RULES: tuple[Rule, ...] = (
    RECEIVE,
    TRANSFER_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    AMOUNT_IN,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
)


def parse(title: str, message: str) -> Parsed | None:
    """The payment a SeaBank notification reports as received, or None."""
    return run(NAME, title, message, RULES)
