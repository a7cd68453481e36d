"""QRIS point-of-sale apps: Qasir, Moka POS, Pawoon POS, majoo and Olsera POS, whose cashier
screens take QRIS payments.

No incoming wording of these apps has been seen in public, so they read the shared sentence
shapes only.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family, brand

FAMILY = Family(
    name="pos",
    packages=(
        # Qasir: Play Store link "details?id=com.innovecto.etalastic" in a public POS market
        # survey, and public Appium page objects of the app ("com.innovecto.etalastic:id/…").
        "com.innovecto.etalastic",
        # Moka POS: Play Store link "details?id=com.mokapos.android" that public tests of
        # mokapos.com assert, and a public Appium suite installing the app by that package.
        "com.mokapos.android",
        # Pawoon POS: Play Store link "details?id=com.pawoon.pos" in a public portfolio; its
        # staging build is com.pawoon.pos.staging in public Appium page objects.
        "com.pawoon.pos",
        # majoo: Play Store link "details?id=com.klopos" in the same POS market survey.
        "com.klopos",
        # Olsera POS: Play Store link "details?id=com.olserapratama.pos" on the download pages of
        # public Olsera web front ends ('kata kunci "Olsera POS"').
        "com.olserapratama.pos",
    ),
    brand=brand(r"\bqasir\b|\bmoka\s*pos\b|\bpawoon\b|\bmajoo\b|\bolsera\b"),
    rules=SHARED_RULES,
)
