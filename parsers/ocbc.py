"""OCBC mobile Indonesia (Bank OCBC NISP).

No incoming wording of the app itself has been seen in public (only a public finance app's
regex for it, "Anda menerima dana sebesar Rp…"), so it reads the shared sentence shapes only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="ocbc",
    # PrivSec-dev/banking-apps-compat-report README (Indonesia): "OCBC mobile Indonesia",
    # play.google.com/store/apps/details?id=com.ocbcnisp.onemobileapp; the same package in public
    # notification listeners' bank lists.
    packages=("com.ocbcnisp.onemobileapp",),
    brand=brand(r"\bOCBC\b", case_sensitive=True),
    rules=SHARED_RULES,
)
