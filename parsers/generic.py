"""The careful fallback for text that names no family (any package, or none).

It accepts only sentences that say plainly that money came in — QRIS merchant apps'
"Pembayaran QRIS sebesar Rp… <payer> - <source> telah diterima", "Transaksi diterima! Jumlah
Rp…", "Transfer Masuk" / "Rp… akan dikreditkan ke rekening Anda", "Kamu menerima Rp… dari …" —
and the shared noise filter and one-amount rule still apply. It lists no package: whether a
notification may pay is decided by its package (parsers.is_payment_app), never by this reader.
"""

from __future__ import annotations

from .common import SHARED_RULES, Family

FAMILY = Family(name="generic", packages=(), brand=None, rules=SHARED_RULES)
