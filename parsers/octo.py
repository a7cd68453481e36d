"""OCTO Mobile by CIMB Niaga.

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="octo",
    # Play Store link "details?id=id.co.cimbniaga.mobile.android" in public portfolios of
    # developers who worked on OCTO; the same package in public bank-app package lists.
    packages=("id.co.cimbniaga.mobile.android",),
    brand=brand(r"\bOCTO\b|\bCIMB\s+Niaga\b", case_sensitive=True),
    rules=SHARED_RULES,
)
