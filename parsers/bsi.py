"""Bank Syariah Indonesia: BYOND by BSI and the older BSI Mobile.

No incoming wording of either app has been seen in public, so they read the shared sentence
shapes only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="bsi",
    packages=(
        # BYOND by BSI: Play Store link "details?id=co.id.bankbsi.superapp" on a public page, and
        # the app id public Play Store review scrapers fetch for "BYOND".
        "co.id.bankbsi.superapp",
        # BSI Mobile: Play Store link "details?id=com.bsm.activity2" in a public app list, and
        # the app id public review scrapers fetch for "BSI Mobile".
        "com.bsm.activity2",
    ),
    brand=brand(r"\bBSI\b|\bBYOND\b", case_sensitive=True),
    rules=SHARED_RULES,
)
