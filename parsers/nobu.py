"""nobu Go, Nobu Bank's mobile banking app (QRIS and transfers for shops).

No incoming wording of the app has been seen in public, so it reads the shared sentence shapes
only. (A public bot's "Format Notifikasi dari Nobu Bank" is Bank Neo Commerce's app: see neo.)
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="nobu",
    # Play Store link "details?id=com.nobubank.now" labelled "nobu Go (Android)" in a public
    # portfolio of a developer who shipped it.
    packages=("com.nobubank.now",),
    brand=brand(r"\bnobu\s*(?:go|bank)\b"),
    rules=SHARED_RULES,
)
