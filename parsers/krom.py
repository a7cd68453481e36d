"""Krom Bank.

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="krom",
    # The app id public Play Store review scrapers fetch for "Krom Bank Digital" (one checks
    # every id against the listing's title and developer). Other ids seen in public lists
    # (id.krom.mobile, id.co.krom) come with no such check and are left out.
    packages=("com.krom.android",),
    # "krom" is also Indonesian for chrome: only the bank's own capitalised name counts.
    brand=brand(r"\bKrom(?:\s+Bank)?\b|\bKROM\b", case_sensitive=True),
    rules=SHARED_RULES,
)
