"""Bank Raya (BRI group's digital bank).

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="raya",
    # Play Store links "details?id=id.co.bankraya.apps" in two public portfolios of developers
    # who worked on it, and the app id public review scrapers fetch for Bank Raya.
    packages=("id.co.bankraya.apps",),
    # "Hari Raya" greetings name no bank: only "Bank Raya" counts.
    brand=brand(r"\bbank\s*raya\b"),
    rules=SHARED_RULES,
)
