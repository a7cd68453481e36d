"""Jenius (Bank SMBC Indonesia, formerly BTPN).

No incoming wording of the app itself has been seen in public (only a payment forwarder's
simulator and a third-party test use its package), so it reads the shared sentence shapes only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="jenius",
    # Play Store links "details?id=com.btpn.dc" in public app-link tables and portfolios; the
    # same package is Jenius in public notification listeners' bank lists.
    packages=("com.btpn.dc",),
    brand=brand(r"\bjenius\b"),
    rules=SHARED_RULES,
)
