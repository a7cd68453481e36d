"""Flip (transfers and e-wallet).

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="flip",
    # Play Store link "details?id=id.flip" in a public app list, and public Appium scripts that
    # drive the installed app ("appPackage": "id.flip", "appActivity": "id.flip.MainActivity").
    packages=("id.flip",),
    brand=brand(r"\bFlip\b", case_sensitive=True),
    rules=SHARED_RULES,
)
