"""Superbank (formerly Bank Fama, whence its package name).

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="superbank",
    # The app id public Play Store review scrapers fetch for "Superbank" (one checks every id
    # against the listing's title and developer). Other ids seen in public lists
    # (id.co.superbank, id.co.superbank.app) come with no such check and are left out.
    packages=("id.co.bankfama.android",),
    brand=brand(r"\bsuperbank\b"),
    rules=SHARED_RULES,
)
