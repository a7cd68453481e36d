"""PermataMobile X (Bank Permata; the app is listed as "Permata ME").

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="permata",
    # PrivSec-dev/banking-apps-compat-report README (Indonesia): "Permata ME",
    # play.google.com/store/apps/details?id=net.myinfosys.PermataMobileX; also public portfolios'
    # Play Store links and review scrapers.
    packages=("net.myinfosys.PermataMobileX",),
    brand=brand(r"\bpermata\s*(?:bank|mobile|me)\b|\bpermatamobile"),
    rules=SHARED_RULES,
)
