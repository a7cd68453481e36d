"""Allo Bank.

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="allo",
    # The app id public Play Store review scrapers fetch for "allo bank" (one checks every id
    # against the listing's title and developer), and a public installed-apps list ("Yump", the
    # app's former name).
    packages=("com.alloapp.yump",),
    brand=brand(r"\ballo\s*bank\b"),
    rules=SHARED_RULES,
)
