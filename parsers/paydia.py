"""Paydia, an e-wallet whose merchants take QRIS (Paydia Bisnis).

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="paydia",
    # Play Store link "details?id=id.paydia.app" titled "Paydia Wallet" in a public portfolio of
    # a QA engineer who tested it (beside "Paydia Bisnis", paydia.id).
    packages=("id.paydia.app",),
    brand=brand(r"\bpaydia\b"),
    rules=SHARED_RULES,
)
