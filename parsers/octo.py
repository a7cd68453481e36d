"""OCTO Mobile and OCTO Merchant by CIMB Niaga.

No incoming wording of either app has been seen in public, so they read the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="octo",
    # Play Store link "details?id=id.co.cimbniaga.mobile.android" in public portfolios of
    # developers who worked on OCTO; the same package in public bank-app package lists.
    packages=(
        "id.co.cimbniaga.mobile.android",
        # OCTO Merchant, CIMB Niaga's QRIS merchant app: Play Store link
        # "details?id=com.cimbedc" titled "OCTO Merchant" (App Store "octo-merchant") in public
        # design portfolios, and the package a public QRIS gateway's allow-list names "CIMB Niaga".
        "com.cimbedc",
    ),
    brand=brand(r"\bOCTO\b|\bCIMB\s+Niaga\b", case_sensitive=True),
    rules=SHARED_RULES,
)
