"""Notification parsers: every corpus notification, the rupiah reader, the registry, and
properties that hold for any input (never raise, no amount without Rp/IDR)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import parsers
from parsers import Family, Parsed, common, parse_notification, parse_rupiah

ROOT = Path(__file__).resolve().parent.parent
CORPUS_PATH = ROOT / "tests" / "corpus" / "notifications.json"
SHARED_CORPUS_PATH = ROOT.parent / "shared" / "corpus" / "notifications.json"


def load_corpus(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        entries: list[dict[str, Any]] = json.load(f)
    return entries


CORPUS = load_corpus(CORPUS_PATH)


def corpus_id(entry: dict[str, Any]) -> str:
    text = f"{entry['app']}|{entry['title']}|{entry['message']}"
    return text[:70]


# --------------------------------------------------------------------------------------------
# The corpus: every public example notification, with the expected reading
# --------------------------------------------------------------------------------------------


def test_corpus_entries_are_well_formed() -> None:
    assert len(CORPUS) >= 300
    negatives = sum(1 for entry in CORPUS if entry["expected_amount"] is None)
    assert 0.4 <= negatives / len(CORPUS) <= 0.6, "about half must be hard negatives"
    seen = set()
    for entry in CORPUS:
        assert {"app", "title", "message", "expected_amount", "expected_sender", "source"} <= set(
            entry
        )
        assert entry["source"], entry
        key = (entry["app"], entry["title"], entry["message"])
        assert key not in seen, f"duplicate corpus entry {key}"
        seen.add(key)
        if entry["expected_amount"] is None:
            assert entry["expected_sender"] is None, entry


@pytest.mark.parametrize("entry", CORPUS, ids=corpus_id)
def test_corpus_notification(entry: dict[str, Any]) -> None:
    found = parse_notification(entry["app"], entry["title"], entry["message"])
    if entry["expected_amount"] is None:
        assert found is None, f"false positive: {found}"
        return
    assert found is not None, "a payment was not recognised"
    assert found.amount == entry["expected_amount"]
    assert found.sender_name == entry["expected_sender"]
    family = parsers.REGISTRY.get((entry["app"] or "").lower())
    if family is not None:
        assert found.parser == family.name


def test_the_corpus_has_no_false_positive_and_reads_every_payment() -> None:
    false_positives = []
    missed = []
    for entry in CORPUS:
        found = parse_notification(entry["app"], entry["title"], entry["message"])
        if entry["expected_amount"] is None and found is not None:
            false_positives.append((entry["message"], found))
        elif entry["expected_amount"] is not None and (
            found is None or found.amount != entry["expected_amount"]
        ):
            missed.append(entry["message"])
    assert false_positives == []
    assert missed == []


@pytest.mark.skipif(not SHARED_CORPUS_PATH.exists(), reason="no ../shared corpus beside the repo")
def test_shared_corpus_is_all_in_the_repo_copy() -> None:
    shared = load_corpus(SHARED_CORPUS_PATH)
    missing = [entry for entry in shared if entry not in CORPUS]
    assert not missing, f"tests/corpus/notifications.json lacks shared entries: {missing}"


# --------------------------------------------------------------------------------------------
# parse_rupiah
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rp25.042", 25042),
        ("Rp 25.042", 25042),
        ("Rp25.042,00", 25042),
        ("Rp 25.042,00", 25042),  # the trap: not 2504200
        ("Rp. 25.042", 25042),
        ("IDR 25.042", 25042),
        ("Rp25042", 25042),
        ("IDR 25,042.00", 25042),
        ("Rp25,042", 25042),
        ("Rp1.000,-", 1000),
        ("RP 1.500.000", 1500000),
        ("Rp35899.00", 35899),
        ("Kamu menerima Rp25.042 dari Budi.", 25042),
        ("Rp25.042,50", None),  # cents: not a whole rupiah
        ("Rp 18.094,80", None),
        ("Rp1.5", None),
        ("Rp1.000.000.00", None),
        ("Rp0", None),
        ("Rp50rb", None),
        ("-Rp25.000", None),
        ("Rp25.000 dan Rp30.100", None),  # two amounts: which one?
        ("25.042", None),  # no currency
        ("", None),
        ("Rp", None),
    ],
)
def test_parse_rupiah(text: str, expected: int | None) -> None:
    assert parse_rupiah(text) == expected


def _id(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _en(n: int) -> str:
    return f"{n:,}"


FORMATS = (
    lambda n: f"Rp{_id(n)}",
    lambda n: f"Rp {_id(n)}",
    lambda n: f"Rp{_id(n)},00",
    lambda n: f"Rp {_id(n)},00",
    lambda n: f"Rp. {_id(n)}",
    lambda n: f"Rp.{_id(n)}",
    lambda n: f"IDR {_id(n)}",
    lambda n: f"Rp{n}",
    lambda n: f"IDR {_en(n)}.00",
    lambda n: f"Rp{_en(n)}",
    lambda n: f"Rp{_id(n)},-",
    lambda n: f"rp {_id(n)}",
)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=1, max_value=10**10), st.sampled_from(FORMATS))
def test_formatted_amount_round_trips(n: int, fmt: Any) -> None:
    written = fmt(n)
    assert parse_rupiah(written) == n, written
    assert parse_rupiah(f"Kamu menerima {written} dari Budi.") == n
    assert parse_rupiah(f"Sobat, {written}\n") == n


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**10), st.integers(min_value=1, max_value=99))
def test_non_zero_cents_are_refused(n: int, cents: int) -> None:
    assert parse_rupiah(f"Rp{_id(n)},{cents:02d}") is None
    assert parse_rupiah(f"IDR {_en(n)}.{cents:02d}") is None


def _no_currency(text: str) -> bool:
    lowered = text.lower()
    # "pemasukan": myBCA's diary writes its amount without Rp ("Pemasukan 1,500,000.00").
    return "rp" not in lowered and "idr" not in lowered and "pemasukan" not in lowered


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=80)), st.text(max_size=40))
def test_text_without_rp_or_idr_yields_no_amount(text: str, title: str | None, app: str) -> None:
    assume(_no_currency(text) and _no_currency(title or ""))
    assert parse_rupiah(text) is None
    assert common.find_amounts(text) == []
    assert parse_notification(app, title, text) is None
    assert parse_notification(None, title, text) is None


# --------------------------------------------------------------------------------------------
# parse_notification never raises, whatever comes in
# --------------------------------------------------------------------------------------------

FIELD = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.builds(
        lambda a, n, b: f"{a}Rp{n}{b}",
        st.text(max_size=40),
        st.integers(min_value=0, max_value=10**12),
        st.text(max_size=40),
    ),
)
APP = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(sorted(parsers.REGISTRY)),
    st.just("com.whatsapp"),
)


@settings(max_examples=400, deadline=None)
@given(APP, FIELD, FIELD)
def test_parse_notification_never_raises(app: Any, title: Any, message: Any) -> None:
    found = parse_notification(app, title, message)
    assert found is None or (
        isinstance(found, Parsed)
        and type(found.amount) is int
        and found.amount > 0
        and found.parser in {f.name for f in parsers.FAMILIES}
        and (found.sender_name is None or isinstance(found.sender_name, str))
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=300))
def test_every_family_parser_is_total(title: str, message: str) -> None:
    # Directly, without parse_notification's safety net.
    for family in parsers.FAMILIES:
        found = family.parse(title, message)
        assert found is None or (
            type(found.amount) is int and found.amount > 0 and found.parser == family.name
        )
        family.names(title)


@pytest.mark.parametrize(
    "fields",
    [
        (None, None, None),
        ("", "", ""),
        ("id.dana", None, None),
        ("id.dana", "\x00\x01\x02", "\ufffd\ud7ff"),
        ("id.dana", "😀💸", "Kamu menerima 💰 Rp😀 dari 🙂"),
        (b"id.dana", b"\xff\xfe", b"Kamu menerima Rp25.000 dari Budi"),
        (123, 4.5, ["Kamu menerima Rp25.000"]),
    ],
)
def test_odd_inputs_do_not_raise(fields: tuple[Any, Any, Any]) -> None:
    parse_notification(*fields)


def test_huge_input_is_refused_quickly() -> None:
    huge = "Kamu menerima Rp25.000 dari Budi " + "x" * 2_000_000
    digits = "Rp" + "1" * 1_000_000
    started = time.perf_counter()
    assert parse_notification("id.dana", "DANA", huge) is None
    assert parse_notification("id.dana", digits, digits) is None
    assert parse_rupiah(digits) is None
    assert time.perf_counter() - started < 2.0


def test_parsing_is_fast() -> None:
    started = time.perf_counter()
    for _ in range(200):
        for entry in CORPUS:
            parse_notification(entry["app"], entry["title"], entry["message"])
    per_call = (time.perf_counter() - started) / (200 * len(CORPUS))
    assert per_call < 0.002


# --------------------------------------------------------------------------------------------
# The registry: package names, text hints, untrusted apps
# --------------------------------------------------------------------------------------------


def test_every_family_module_declares_one_family_and_its_packages() -> None:
    # taught.py reads the templates a shop owner made, not an app family
    modules = sorted(
        path.stem
        for path in (ROOT / "parsers").glob("*.py")
        if path.stem not in {"__init__", "common", "qris", "taught"}
    )
    assert sorted(f.name for f in parsers.FAMILIES) == modules
    for family in parsers.FAMILIES:
        assert isinstance(family, Family)
        assert isinstance(family.packages, tuple)
        for package in family.packages:
            assert package == package.strip() and package
            assert parsers.REGISTRY[package.lower()] is family
            assert parsers.family_for(package) is family
            assert parsers.is_payment_app(package)
    assert sum(len(f.packages) for f in parsers.FAMILIES) == len(parsers.REGISTRY)
    assert parsers.FAMILIES[-1].name == "generic" and parsers.FAMILIES[-1].packages == ()


@pytest.mark.parametrize("app", ["id.dana", "com.dana.id", " id.dana ", "ID.DANA"])
def test_both_dana_package_names_reach_the_dana_parser(app: str) -> None:
    found = parse_notification(app, "DANA", "Kamu berhasil menerima Rp25.042 dari JOHN DOE")
    assert found == Parsed(25042, "JOHN DOE", "dana")


@pytest.mark.parametrize(
    ("title", "message", "parser"),
    [
        ("DANA", "Rp29.000 diterima DANA Bisnis.", "dana"),
        ("GoPay Usaha", "GoPay Usaha: Pembayaran sebesar Rp 199.000 berhasil diterima", "gopay"),
        ("Jago", "Kamu menerima kiriman Rp35.098 dari SHADIQ HAIRWIZ", "jago"),
        ("BRImo", "BRImo - Transfer masuk sebesar Rp 750000", "bri"),
        (None, "OVO QRIS Rp60.000 berhasil diterima.", "ovo"),
        (None, "Transaksi diterima! Jumlah Rp 2.500.000", "generic"),
        ("Neobank", "Transfer Masuk: Kamu menerima uang sebesar Rp 100.000 dari BUDI", "neo"),
        (
            "Transaksi InterActive QRIS",
            "Pembayaran QRIS sebesar Rp 1 Sample Sender - Sample Source telah diterima",
            "qris_merchant",
        ),
    ],
)
def test_unknown_package_is_routed_by_text(title: str | None, message: str, parser: str) -> None:
    for app in (None, "", "com.example.unknown"):
        found = parse_notification(app, title, message)
        assert found is not None and found.parser == parser


NON_PAYMENT_APPS = [
    ("com.google.android.gm", "mail"),
    ("com.microsoft.office.outlook", "mail"),
    ("com.google.android.apps.messaging", "sms"),
    ("com.samsung.android.messaging", "sms"),
    ("com.android.mms", "sms"),
    ("com.whatsapp", "messaging"),
    ("com.whatsapp.w4b", "messaging"),
    ("org.telegram.messenger", "messaging"),
    ("jp.naver.line.android", "messaging"),
    ("com.truecaller", "caller-id"),
    ("com.ss.android.ugc.trill", "social"),
    ("com.zhiliaoapp.musically", "social"),
    ("com.instagram.android", "social"),
    ("com.facebook.katana", "social"),
    ("com.tokopedia.tkpd", "marketplace"),
    ("com.lazada.android", "marketplace"),
    ("com.bukalapak.android", "marketplace"),
    ("com.shopee.id", "marketplace"),
]


@pytest.mark.parametrize(("app", "kind"), NON_PAYMENT_APPS)
def test_communication_and_marketplace_apps_are_never_payment_apps(app: str, kind: str) -> None:
    assert not parsers.is_payment_app(app)
    assert not parsers.is_payment_app(app.upper())
    assert parsers.non_payment_kind(app) == kind
    assert parsers.non_payment_kind(f" {app.upper()} ") == kind


@pytest.mark.parametrize(("app", "kind"), NON_PAYMENT_APPS)
def test_a_non_payment_apps_amount_is_still_read_for_the_owner(app: str, kind: str) -> None:
    # Trust is the caller's decision; the owner still sees what the text claims.
    found = parse_notification(app, "x", "Kamu berhasil menerima Rp25.042 dari JOHN DOE")
    assert found == Parsed(25042, "JOHN DOE", "generic")
    dana = parse_notification(app, "DANA", "Rp29.000 diterima DANA Bisnis.")
    assert dana == Parsed(29000, None, "dana")


@pytest.mark.parametrize("app", [None, "", "   ", "com.example.unknown", "id.dana.fake"])
def test_unknown_and_missing_packages_are_neither_payment_apps_nor_a_known_kind(
    app: str | None,
) -> None:
    assert not parsers.is_payment_app(app)
    assert parsers.non_payment_kind(app) is None


def test_every_payment_app_has_no_non_payment_kind() -> None:
    for package in parsers.REGISTRY:
        assert parsers.non_payment_kind(package) is None, package


# Apps whose own incoming wording has not been seen in public: each family lists its verified
# packages and reads the shared sentence shapes, nothing tuned to an imagined text.
SHARED_ONLY_APPS = [
    ("com.btpn.dc", "jenius", "Jenius"),
    ("id.co.cimbniaga.mobile.android", "octo", "OCTO Mobile"),
    ("com.cimbedc", "octo", "OCTO Merchant"),
    ("com.ocbcnisp.onemobileapp", "ocbc", "OCBC"),
    ("net.myinfosys.PermataMobileX", "permata", "PermataMobile X"),
    ("co.id.bankbsi.superapp", "bsi", "BYOND by BSI"),
    ("com.bsm.activity2", "bsi", "BSI Mobile"),
    ("com.alloapp.yump", "allo", "Allo Bank"),
    ("id.co.bankfama.android", "superbank", "Superbank"),
    ("com.krom.android", "krom", "Krom"),
    ("id.co.bankraya.apps", "raya", "Bank Raya"),
    ("id.flip", "flip", "Flip"),
    ("com.nobubank.now", "nobu", "nobu Go"),
    ("id.paydia.app", "paydia", "Paydia"),
    ("com.innovecto.etalastic", "pos", "Qasir"),
    ("com.mokapos.android", "pos", "Moka POS"),
    ("com.pawoon.pos", "pos", "Pawoon POS"),
    ("com.klopos", "pos", "majoo"),
    ("com.olserapratama.pos", "pos", "Olsera POS"),
]

# A plain incoming sentence in each shared shape, the payer it names, and its outgoing twin.
SHARED_SHAPES = [
    ("Kamu menerima Rp25.042 dari BUDI SANTOSO", "BUDI SANTOSO",
     "Kamu mengirim Rp25.042 ke BUDI SANTOSO"),
    ("Transfer masuk Rp25.042 dari BUDI SANTOSO", "BUDI SANTOSO",
     "Transfer keluar Rp25.042 ke BUDI SANTOSO"),
    ("Pembayaran QRIS Rp25.042 diterima", None, "Pembayaran QRIS Rp25.042 ke TOKO ABC berhasil"),
    ("BUDI SANTOSO telah mengirim Rp25.042 ke kamu", "BUDI SANTOSO",
     "Kamu telah mengirim Rp25.042 ke BUDI SANTOSO"),
    ("Dana Rp25.042 masuk ke rekening kamu", None, "Dana Rp25.042 keluar dari rekening kamu"),
    ("You've received Rp25.042 from BUDI SANTOSO", "BUDI SANTOSO",
     "You've sent Rp25.042 to BUDI SANTOSO"),
]


@pytest.mark.parametrize(("app", "name", "title"), SHARED_ONLY_APPS)
def test_apps_without_a_public_wording_are_payment_apps(app: str, name: str, title: str) -> None:
    assert parsers.is_payment_app(app) and parsers.is_payment_app(app.upper())
    assert parsers.non_payment_kind(app) is None
    family = parsers.family_for(app)
    assert family.name == name
    assert family.rules is common.SHARED_RULES and not family.title_rules and family.noise is None


@pytest.mark.parametrize(("app", "name", "title"), SHARED_ONLY_APPS)
@pytest.mark.parametrize(("incoming", "payer", "outgoing"), SHARED_SHAPES)
def test_apps_without_a_public_wording_read_incoming_and_refuse_outgoing(
    app: str, name: str, title: str, incoming: str, payer: str | None, outgoing: str
) -> None:
    assert parse_notification(app, title, incoming) == Parsed(25042, payer, name)
    assert parse_notification(app, title, outgoing) is None


@pytest.mark.parametrize(
    ("title", "parser"),
    [
        ("Jenius", "jenius"),
        ("OCTO Mobile", "octo"),
        ("OCBC mobile", "ocbc"),
        ("Permata ME", "permata"),
        ("BYOND by BSI", "bsi"),
        ("Allo Bank", "allo"),
        ("Superbank", "superbank"),
        ("Krom Bank", "krom"),
        ("Bank Raya", "raya"),
        ("Flip", "flip"),
        ("Nobu Bank", "nobu"),
        ("Paydia", "paydia"),
        ("Moka POS", "pos"),
        # Common words that only look like a brand route nowhere.
        ("Selamat Hari Raya", "generic"),
        ("Velg krom", "generic"),
        ("flip the card", "generic"),
    ],
)
def test_an_unknown_package_naming_a_new_brand_is_read_by_it(title: str, parser: str) -> None:
    found = parse_notification("com.example.unknown", title, "Kamu menerima Rp50.000 dari BUDI")
    assert found == Parsed(50000, "BUDI", parser)
    assert not parsers.is_payment_app("com.example.unknown")


@pytest.mark.parametrize(("app", "name", "title"), SHARED_ONLY_APPS)
def test_a_shop_using_a_new_payment_app_is_paid_by_default(
    client: Any, merchant: Any, app: str, name: str, title: str
) -> None:
    """Over the real app: the forwarded notification pays the invoice without the owner
    trusting the app by hand; its outgoing twin leaves the next invoice pending."""

    def create(amount: int) -> dict[str, Any]:
        answer = client.post("/api/payments/qris/create", json={"amount": amount},
                             headers=merchant.auth)
        assert answer.status_code == 200, answer.text
        invoice: dict[str, Any] = answer.json()
        return invoice

    def forward(message: str, notif_id: str) -> Any:
        return client.post(
            "/api/webhook/payment",
            json={"app": app, "title": title, "message": message, "notif_id": notif_id},
            headers={"Authorization": f"Bearer {merchant.callback_secret}"},
        )

    def status(invoice: dict[str, Any]) -> dict[str, Any]:
        answer = client.get(f"/api/payments/{invoice['invoice_id']}/status",
                            headers=merchant.auth)
        data: dict[str, Any] = answer.json()["data"]
        return data

    def rupiah(amount: int) -> str:
        return f"{amount:,}".replace(",", ".")

    invoice = create(25000)
    paid = forward(f"Kamu menerima Rp{rupiah(invoice['total_amount'])} dari BUDI SANTOSO", "in")
    assert paid.status_code == 200, paid.text
    assert status(invoice)["status"] == "paid"
    assert status(invoice)["payment_method"] == app

    unpaid = create(26000)
    sent = forward(f"Kamu mengirim Rp{rupiah(unpaid['total_amount'])} ke BUDI SANTOSO", "out")
    assert sent.json()["success"] is False, sent.text
    assert status(unpaid)["status"] == "pending"


# --------------------------------------------------------------------------------------------
# Traps beyond the corpus
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "title", "message", "expected"),
    [
        # The balance is explained; an unexplained second amount is not.
        ("id.co.bri.brimo", "BRImo", "Dana Rp50.000 masuk. Biaya admin Rp2.500", (50000, None)),
        ("id.co.bri.brimo", "BRImo", "Dana Rp50.000 masuk. Total Rp52.500", None),
        (
            "id.dana",
            "DANA",
            "Kamu menerima Rp50.000 dari Budi. Kamu menerima Rp60.000 dari Ani",
            None,
        ),
        # Two notifications of the same amount stacked: still that one amount.
        (
            "com.shopeepay.merchant.id",
            "Pembayaran sebesar Rp2.000 diterima",
            "Pembayaran sebesar Rp2.000 telah diterima pada transaksi 1.",
            (2000, None),
        ),
        # Names: initials and titles keep their dot; a masked number is no name.
        ("id.dana", "DANA", "Kamu menerima Rp50.000 dari M. Rizki berhasil", (50000, "M. Rizki")),
        ("ovo.id", "OVO", "Kamu menerima Rp 50.000 dari 0812****1234", (50000, None)),
        ("id.dana", "DANA", "Kamu menerima Rp 50.000 dari pelanggan", (50000, None)),
        # Not whole rupiah, not a number, or money out.
        ("id.dana", "Pembayaran Masuk", "Rp29.000,50 diterima DANA Bisnis.", None),
        ("id.dana", "DANA", "Kamu menerima Rp50rb dari Budi", None),
        ("id.dana", "DANA", "Kamu menerima Rp 25 042 dari Budi", None),
        ("id.dana", "DANA", "Kamu menerima Rp 25\u00a0042 dari Budi", None),
        ("id.dana", None, "Kode OTP kamu 123456. Jangan berikan ke siapapun. Rp1", None),
        ("id.dana", "DANA", "Kamu akan menerima cashback Rp5.000", None),
        ("id.dana", "DANA", "Budi meminta Rp50.000 kepadamu", None),
        ("com.gojek.gopay", "GoPay", "Pembayaran QRIS Rp 25.000 ke Warung Sate berhasil", None),
        ("com.bca", "BCA mobile", "m-Transfer: Rp 50.000 ke 123456789 BERHASIL", None),
        ("id.bmri.livin", "Livin'", "Transaksi gagal. Dana Rp50.000 masuk kembali", None),
        ("com.jago.digitalBanking", "Jago", "Kamu telah mengirim Rp25.347 ke pengguna lain", None),
        ("com.gojek.gopaymerchant", "Saldo bertambah", "Rp 1.127", None),
        # GoPay's everyday "udah" (already) is read as "sudah" is, in and out alike.
        ("com.gojek.gopay", "GoPay", "Cashback Rp5.000 sudah masuk ke GoPay kamu", None),
        ("com.gojek.gopay", "GoPay", "Kamu udah kirim Rp50.000 ke Budi", None),
        # Money back from a cancellation is a refund, in any words.
        ("com.gojek.gopay", "GoPay", "Rp50.000 udah masuk ke GoPay kamu dari pembatalan pesanan",
         None),
        ("id.dana", "DANA", "Dana Rp50.000 masuk ke rekening kamu atas pembatalan transaksi", None),
        # A payout, a loan, a reward: the shop's own money or the app's, not a customer's.
        ("com.gojek.gopay", "GoPay", "Pencairan dana Rp50.000 masuk ke rekening kamu", None),
        # A merchant platform's settlement pays out payments already counted one by one; a
        # receipt that only tells when settlement will come is still a payment.
        ("com.bca", "BCA", "Settlement dana Rp 85.000 telah masuk ke rekening Anda", None),
        ("com.bca", "BCA", "Settlement QRIS sebesar Rp 1.250.000 telah masuk ke rekening Anda",
         None),
        ("com.bca", "QRIS Merchant BCA", "Transaksi terima pembayaran QRIS dari pembeli sebesar"
         " Rp 85.000 telah masuk ke rekening usaha BCA 5220394812 Anda. Settlement dana otomatis"
         " masuk pada pukul 23.00 WIB.", (85000, None)),
        ("com.gojek.gopay", "GoPay", "Saldo Rp50.000 dari GoPay Later udah masuk ke GoPay kamu",
         None),
        ("com.gojek.gopay", "GoPay", "Rp10.000 dari Referral udah masuk ke GoPay kamu", None),
        ("com.gojek.gopay", "GoPay", "Rp15.000 udah masuk ke GoPay kamu sebagai kompensasi", None),
        ("com.gojek.gopay", "Transfer berhasil", "Rp50.000 udah masuk ke GoPay Budi.", None),
        ("com.gojek.gopay", "GoPay", "Rp50.000 dari Budi udah masuk ke GoPay-mu", (50000, "Budi")),
        # Money into the shop's own wallet, however it names it; into someone else's is out.
        ("ovo.id", "OVO", "Uang masuk Rp50.000 ke saldo OVO Anda", (50000, None)),
        ("id.dana", "DANA", "Dana masuk Rp50.000 ke akun DANA kamu", (50000, None)),
        ("ovo.id", "OVO", "Dana masuk Rp50.000 ke saldo OVO Budi", None),
        # "<NAME> mengirimkan dana sebesar Rp…" with nothing after the amount is money in; sent
        # by the reader, or anywhere else, it is not.
        ("ovo.id", "OVO", "Budi mengirimkan dana sebesar Rp50.000.", (50000, "Budi")),
        ("ovo.id", "OVO", "Anda telah mengirimkan dana sebesar Rp50.000", None),
        ("ovo.id", "OVO", "Budi mengirimkan dana sebesar Rp50.000 kepada Siti", None),
        ("ovo.id", "OVO", "Budi mengirimkan permintaan dana sebesar Rp50.000", None),
        ("ovo.id", "OVO", "Transfer berhasil. Budi mengirimkan dana sebesar Rp50.000 ke rekening"
         " BCA 1234", None),
        ("ovo.id", "OVO", "Kamu menerima transfer OVO Cash sebesar Rp 100.000 dari Budi.",
         (100000, "Budi")),
        # Money into a wallet, told by a bank or by another wallet's app: the owner topping up
        # their own wallet from that app (money out of it), never a customer's payment. The
        # wallet's own app still reads it.
        ("id.co.bri.brimo", "BRImo", "Dana Rp50.000 telah masuk ke DANA kamu", None),
        ("com.bca", "BCA mobile", "Saldo Rp50.000 udah masuk ke GoPay kamu", None),
        ("id.bmri.livin", "Livin'", "Uang masuk Rp50.000 ke saldo OVO Anda", None),
        ("com.gojek.gopay", "GoPay", "Dana Rp50.000 telah masuk ke akun DANA kamu", None),
        ("id.dana", "DANA", "Budi mengirimkan dana sebesar Rp50.000 ke ShopeePay-mu", None),
        ("id.dana", "DANA", "Dana Rp50.000 telah masuk ke DANA kamu", (50000, None)),
        ("com.shopeepay.id", "ShopeePay",
         "Budi mengirimkan dana sebesar Rp50.000 ke ShopeePay-mu", (50000, "Budi")),
        # Someone else received the shop's money: outgoing confirmations in incoming words.
        ("id.dana", "DANA", "BUDI telah menerima Rp50.000 dari kamu", None),
        ("ovo.id", "OVO", "JOHN received Rp50.000 from you", None),
        ("com.bca", "BCA", "Transfer berhasil. Dana Rp50.000 telah masuk ke rekening BUDI", None),
        ("id.dana", "DANA", "Pembayaran sebesar Rp50.000 telah diterima oleh TOKO ABC", None),
        ("id.dana", "DANA", "Rp50.000 berhasil diterima TOKO ABC", None),
        ("id.dana", "DANA", "Pembayaranmu Rp50.000 sudah diterima", None),
        (
            "com.jago.digitalBanking",
            "Jago",
            "Hore, kamu menerima Rp50.000 dari BUDI",
            (50000, "BUDI"),
        ),
        # myBCA writes its diary amount without Rp; only the full money format counts.
        ("com.bca", "Catatan Finansial", "Pemasukan 25,042.00", (25042, None)),
        ("com.bca", "Catatan Finansial", "Pemasukan 25.042,00 dari BUDI", (25042, "BUDI")),
        ("com.bca", "Catatan Finansial", "Pemasukan 25,042.50", None),
        ("com.bca", "Catatan Finansial", "Pemasukan 25042", None),
        ("com.bca", "Catatan Finansial", "Pemasukan 2026.10.11", None),
        ("com.bca", "Catatan Finansial", "Pemasukan 25,042.00 lalu 30,000.00", None),
        ("com.bca", "Catatan Finansial", "Pemasukan 25,042.00 Saldo 90,000.00", (25042, None)),
        ("com.bca", "Catatan Finansial", "Pemasukan Rp99.999 Pemasukan 1,500,000.00", None),
        ("com.bca", "Catatan Finansial", "Pemasukan 1,500,000.00\nPemasukan Rp99.999", None),
        ("com.bca", "Catatan Finansial", "Pemasukan Rp25.042 Saldo 90,000.00", (25042, None)),
        ("id.dana", "DANA", "Kamu menerima 25,042.00 dari BUDI", None),
        # A payer named after the account and "a.n."; a name after "a.n." alone.
        (
            "src.com.bni",
            "BNI",
            "Anda menerima transfer sebesar Rp 50.123 dari rek 987654321 a.n. JOHN DOE",
            (50123, "JOHN DOE"),
        ),
        ("id.dana", "DANA", "Kamu menerima Rp50.000 dari a.n. SITI", (50000, "SITI")),
        # The shop's own account after an incoming label is fine; anyone else's is not.
        (
            "id.co.bri.brimo",
            "BRImo",
            "Dana masuk sebesar Rp50.123 ke rekening 1234567890 dari JOHN DOE",
            (50123, "JOHN DOE"),
        ),
        ("id.co.bri.brimo", "BRImo", "Transfer Rp50.000 ke rekening 1234567890 berhasil", None),
        ("id.co.bri.brimo", "BRImo", "Dana masuk sebesar Rp50.123 ke rekening BUDI", None),
        # The balance after the payment, named with its wallet, is explained.
        (
            "id.dana",
            "DANA",
            "Kamu menerima Rp10.001 dari Budi. Saldo DANA kamu sekarang Rp25.037",
            (10001, "Budi"),
        ),
        ("id.dana", "DANA", "Kamu menerima Rp10.001 dari Budi. Lalu Rp25.037", None),
        # "menerima saldo sebesar Rp…" is the payment, not a balance: a second received amount
        # (in a payer's name, or in the title) beside it is a second payment, never the one.
        ("com.shopeepay.id", "ShopeePay", "Kamu menerima transfer saldo ShopeePay sebesar"
         " Rp 25.000 dari SITI. Pembayaran QRIS Rp99.999 berhasil diterima.", None),
        ("com.shopeepay.id", "ShopeePay", "Transfer masuk Rp99.999 Kamu menerima transfer saldo"
         " ShopeePay sebesar Rp 25.000 dari SITI", None),
        ("id.dana", "DANA", "Kamu menerima Rp99.999.\nKamu menerima Saldo DANA sebesar Rp 50.000"
         " dari BUDI SANTOSO.", None),
        ("com.telkom.mwallet", "menerima Rp99.999",
         "Kamu menerima saldo sebesar Rp 50.000 dari BUDI", None),
        # wondr's casual voice, both ways.
        ("id.bni.wondr", "wondr by BNI", "Kamu baru aja terima Rp600.000.", (600000, None)),
        ("id.bni.wondr", "wondr by BNI", "Kamu baru aja transaksi sebesar Rp600.000.", None),
        ("id.bni.wondr", "wondr by BNI", "Kamu baru aja bayar Rp600.000.", None),
        # Neo's QRIS credit goes to the shop's own savings, never to someone named.
        (
            "com.bnc.finance",
            "Kamu menerima 1 pembayaran",
            "Pembayaran QRIS diterima, Rp114 akan dikreditkan ke Tabungan Reguler kamu"
            " 5859****8988",
            (114, None),
        ),
        ("com.bnc.finance", "Neobank", "Rp114 akan dikreditkan ke rekening BUDI", None),
        # A payer's name ends with its line: the text's next line is not part of it.
        (
            "id.dana",
            "DANA",
            "Kamu berhasil menerima Rp25.901 dari JOHN DOE\nSaldo bertambah",
            (25901, "JOHN DOE"),
        ),
        ("id.dana", "DANA", "Kamu berhasil menerima\r\n  Rp25.901 dari\nBUDI", (25901, "BUDI")),
        # "Transfer diterima Rp…" (the amount after the verb) and a payer on its own "Dari:" line;
        # a transfer someone else received says by whom, and a cut-short amount is no escape.
        (None, "Dana masuk", "Transfer diterima Rp125.000", (125000, None)),
        (
            "id.bmri.livin",
            "Livin' by Mandiri",
            "Transaksi Berhasil\nTransfer Diterima Rp 180.000\nDari: AHMAD DHANI (1234567890)",
            (180000, "AHMAD DHANI"),
        ),
        ("com.bca", "BCA", "Transfer diterima Rp50.000 oleh TOKO ABC", None),
        ("com.bca", "BCA", "Transfer diterima Rp50.000\nby TOKO ABC", None),
        ("id.bmri.livin", "Livin'", "Transfer Diterima Rp 180.000\nTotal: Rp 182.500", None),
        # The payer after an account number written without "rek".
        (
            "com.bca",
            "BCA mobile",
            "Transfer masuk Rp320.000\ndari 9876543210 a.n RINA SUSANTI",
            (320000, "RINA SUSANTI"),
        ),
        # GoPay in English; money "in your <other wallet>" is a top-up there, from any other app.
        (
            "com.gojek.gopay",
            None,
            "Rp1.000 from user 0 has been received in your GoPay.",
            (1000, "user 0"),
        ),
        ("com.gojek.gopay", "GoPay", "Rp1.000 has been received in your GoPay.", (1000, None)),
        ("com.gojek.gopay", "GoPay", "Rp1.000 from BUDI has been received in your OVO.", None),
        ("com.gojek.gopay", "GoPay", "Cashback Rp5.000 has been received in your GoPay.", None),
        ("com.bca", "BCA", "You received Rp50.000 in your GoPay", None),
        ("ovo.id", "OVO", "You received Rp50.000 into your GoPay", None),
        # "key: value" lines: a "Transfer Masuk" header with its "Nominal:" and "Dari:" lines is
        # money in; a "Ke:" line naming anyone but the reader, or money "dari rekening Anda",
        # is money out whatever the header says.
        (
            "id.co.bri.brimo",
            "BRImo",
            "Transfer Masuk\nNominal: Rp50.000\nDari: BUDI",
            (50000, "BUDI"),
        ),
        (
            "com.bca",
            "BCA",
            "Transfer diterima: Rp50.000\nDari: BUDI SANTOSO\nKe: Rekening Anda",
            (50000, "BUDI SANTOSO"),
        ),
        ("id.co.bri.brimo", "BRImo", "Transfer Masuk\nRp50.000\nKe: BUDI SANTOSO", None),
        ("id.co.bri.brimo", "BRImo", "Transfer Masuk\nNominal: Rp50.000\nKepada: BUDI", None),
        ("id.bmri.livin", "Livin'", "Dana masuk\nRp50.000\ndari rekening Anda ke BUDI", None),
        (
            "id.co.bankbkemobile.digitalbank",
            "SeaBank",
            "Transfer Masuk\nRp 50.000\nDari: Rekening SeaBank Anda\nKe: BCA 123",
            None,
        ),
        ("com.bca", "BCA", "Payment received Rp50.000 from your account", None),
        # The payer named before the amount reads as after it; money that only will arrive, or
        # that arrived in someone else's account or wallet, does not.
        ("id.dana", "DANA", "Transfer dari BUDI sebesar Rp 50.000 telah masuk ke akun Anda",
         (50000, "BUDI")),
        ("id.dana", "DANA", "Transfer dari BUDI sebesar Rp 50.000 akan masuk ke akun Anda", None),
        ("id.dana", "DANA", "Transfer dari BUDI sebesar Rp 50.000 belum masuk ke akun Anda", None),
        ("id.dana", "DANA", "Transfer dari kamu sebesar Rp 50.000 telah masuk ke akun BUDI", None),
        ("id.dana", "DANA", "Transfer dari BUDI sebesar Rp 50.000 telah masuk ke akun DANA Siti",
         None),
        ("id.co.bri.brimo", "BRImo",
         "Transfer dari BUDI sebesar Rp 50.000 telah masuk ke DANA kamu", None),
        ("id.dana", "DANA", "Pembayaran dari BUDI sebesar Rp 50.000 gagal diterima", None),
        ("id.dana", "DANA Bisnis",
         "Pembayaran QRIS dari BUDI sebesar Rp 50.000 berhasil diterima ke saldo toko SITI", None),
        ("id.dana", "DANA Bisnis",
         "Pembayaran QRIS dari BUDI sebesar Rp 50.000 diterima oleh TOKO ABC", None),
        ("com.bca", "BCA", "SITI telah menerima transfer dari kamu sebesar Rp 50.000", None),
        ("com.bca", "BCA", "Anda telah menerima permintaan transfer dari BUDI sebesar Rp 50.000",
         None),
        ("id.co.bri.brimo", "BRImo", "Transfer masuk dari BUDI sebesar Rp 50.000 gagal", None),
        ("id.co.bri.brimo", "BRImo", "Transfer masuk dari rekening Anda sebesar Rp 50.000", None),
        # "key: value" after the sentence: the amount is what was received, a fee beside it is
        # explained, and only money the reader received counts.
        ("com.krom.android", "Krom", "Kamu telah menerima dana. Jumlah: Rp50.000. Biaya: Rp2.500",
         (50000, None)),
        ("com.krom.android", "Krom", "Kamu telah menerima tagihan. Jumlah: Rp50.000", None),
        ("com.krom.android", "Krom", "SITI telah menerima dana. Jumlah: Rp50.000", None),
        # An account number is not a payer's name, however it is labelled.
        ("id.co.bri.brimo", "BRImo", "Transfer Masuk Rp 50.000 dari NOREK 0012398481 Berhasil",
         (50000, None)),
        # "Penerimaan" (a receipt) and a leading "Masuk" read as money in only when done and
        # into the reader's own account.
        ("id.dana", "DANA", "Penerimaan dana Rp 50.120 ditunda", None),
        ("id.dana", "DANA", "Estimasi penerimaan Rp 50.000 besok", None),
        ("id.dana", "DANA", "Penerimaan Rp 50.000 oleh TOKO ABC berhasil", None),
        ("id.dana", "DANA", "Masuk Rp5.083 ke SITI", None),
        ("id.co.bri.brimo", "BRImo", "Mutasi Masuk Rp 50.000 ke rekening BUDI", None),
        ("id.dana", "DANA", "Mutasi Masuk DANA Bisnis Rp5.083,00 dari rekening Anda", None),
        # A time of day written the Indonesian way ("pukul 23.00 WIB") is not a second amount; an
        # account named by its number is the shop's own only when the text says it is.
        ("com.bca.msb", "Merchant BCA",
         "Pembayaran QRIS dari BUDI sebesar Rp 85.000 telah masuk ke rekening usaha BCA 5220394812 "
         "Anda. Dana diteruskan jam 23.00 WIB.", (85000, "BUDI")),
        ("com.bca.msb", "Merchant BCA",
         "Pembayaran QRIS dari BUDI sebesar Rp 85.000 telah masuk ke rekening usaha BCA 5220394812 "
         "SITI", None),
        ("com.bca.msb", "Merchant BCA",
         "Pembayaran QRIS dari BUDI sebesar Rp 85.000 telah masuk ke rekening teman 5220394812",
         None),
        ("id.bmri.livin", "Livin'", "Dana Rp 50.000 masuk ke rekening Anda pada 15/09/2026 10.24",
         (50000, None)),
        ("com.bca.mybca.omni.android", "myBCA", "Pemasukan Rp85.000 dari BUDI 15/09/2026 123.00",
         None),
        ("com.bca.mybca.omni.android", "myBCA", "Pemasukan Rp85.000 dari BUDI. Biaya 23.000,00",
         (85000, "BUDI")),
        ("com.bca.mybca.omni.android", "myBCA", "Pemasukan Rp85.000 dari BUDI. Pemasukan 23.000,00",
         None),
        # A grouped snapshot of different payments: which one is new?
        (
            "com.gojek.resto",
            "Pembayaran QRIS diterima!",
            "Rp1.100 berhasil diterima | Rp5.088 berhasil diterima",
            None,
        ),
    ],
)
def test_traps(
    app: str, title: str | None, message: str, expected: tuple[int, str | None] | None
) -> None:
    found = parse_notification(app, title, message)
    if expected is None:
        assert found is None, found
    else:
        assert found is not None
        assert (found.amount, found.sender_name) == expected


def test_family_modules_stay_small() -> None:
    for path in sorted((ROOT / "parsers").glob("*.py")):
        if path.name in {"common.py", "qris.py", "__init__.py"}:
            continue
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path.name
