"""Taught wordings (parsers/taught.py): a notification with its amount and payer marked by the
shop owner becomes a template that reads the same wording, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parsers import taught
from parsers.common import clean_sender, is_noise

TITLE = "DANA"
MESSAGE = "Cuan mendarat! 25.042 rupiah dari BUDI SANTOSO sudah nongkrong di dompet toko"


def span(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


def marked(title: str, message: str, amount: str,
           sender: str | None = None) -> dict:
    text = taught.shown_text(title, message)
    return taught.derive_template(title, message, span(text, amount),
                                  span(text, sender) if sender else None)


def test_a_taught_wording_reads_the_next_notification_with_another_amount_and_payer() -> None:
    template = marked(TITLE, MESSAGE, "25.042", "BUDI SANTOSO")
    found = taught.read_with_template(
        template, TITLE, "Cuan mendarat! 1.250.000 rupiah dari Siti Aminah sudah nongkrong di"
                         " dompet toko")
    assert found == taught.Parsed(1250000, "Siti Aminah", "taught")


def test_whitespace_case_and_digits_in_the_text_may_differ_but_nothing_else() -> None:
    template = marked("Mutasi", "Dana Rp 25.042 masuk pukul 10:15 ref 99812", "Rp 25.042")

    def read(message: str) -> taught.Parsed | None:
        return taught.read_with_template(template, "Mutasi", message)

    assert read("dana  Rp 7.000\tMASUK pukul 23:59 ref 1").amount == 7000
    assert read("Dana Rp7.000 masuk pukul 23:59 ref 1").amount == 7000
    assert read("Dana Rp 7.000 masuk pukul 23:59 ref 1 tambahan") is None
    assert read("Dana Rp 7.000 keluar pukul 23:59 ref 1") is None
    assert taught.read_with_template(template, "Lain", "Dana Rp 7.000 masuk pukul 1:1 ref 1") \
        is None


@pytest.mark.parametrize("written,value", [
    ("Rp25.042", 25042), ("25.042,00", 25042), ("IDR 25,042.00", 25042), ("Rp1.000,-", 1000),
    ("25042", 25042)])
def test_the_amount_placeholder_reads_rupiah_like_the_parsers(written: str, value: int) -> None:
    message = f"Ada saldo baru {written} untuk tokomu"
    assert taught.read_with_template(marked("", message, written), "", message).amount == value


@pytest.mark.parametrize("other", ["25.042,50", "25.042rb", "12-34", "1.2.3.4"])
def test_the_amount_placeholder_never_reads_what_is_not_a_whole_rupiah(other: str) -> None:
    template = marked("", "Ada saldo baru Rp25.042 untuk tokomu", "Rp25.042")
    assert taught.read_with_template(template, "", f"Ada saldo baru Rp{other} untuk tokomu") \
        is None


@pytest.mark.parametrize("message,amount,code", [
    ("Kamu mengirim Rp25.042 ke BUDI SANTOSO berhasil", "Rp25.042", "noise"),
    ("Kode OTP kamu 123456, saldo Rp25.042 aman", "Rp25.042", "noise"),
    ("Promo! Terima Saldo Gratis Rp200.000", "Rp200.000", "noise"),
    ("Rp 25.042", "Rp 25.042", "not_specific"),
    ("BUDI Rp 25.042", "Rp 25.042", "not_specific"),
    ("Ada saldo baru Rp25.042,50 untuk tokomu", "Rp25.042,50", "not_an_amount"),
    ("Ada saldo baru Rp25.042 untuk tokomu", "25.04", "not_an_amount"),
    ("Ada saldo baru Rp25.042 untuk tokomu", "5.042", "not_an_amount"),
    ("Ada saldo baru Rp25.042 untuk tokomu", "saldo", "not_an_amount"),
    ("Ada saldo baru -Rp25.042 untuk tokomu", "Rp25.042", "noise"),
])
def test_deriving_refuses_with_a_reason(message: str, amount: str, code: str) -> None:
    with pytest.raises(taught.TemplateRefused) as refused:
        marked("", message, amount)
    assert refused.value.code == code
    assert refused.value.message


def test_the_amount_is_never_cut_out_of_longer_digits() -> None:
    template = marked("", "Dana masuk ref 123 Rp 25.000 ok", "Rp 25.000")
    assert taught.read_with_template(template, "", "Dana masuk ref 9 Rp 7.000 ok").amount == 7000
    # The marked currency is part of the wording; digits glued to a reference are no amount.
    for glued in ("ref 12325.000 ok", "ref 123 25.000 ok", "ref 123 Rp 25.0001 ok",
                  "ref 123Rp 25.000 ok"):
        assert taught.read_with_template(template, "", "Dana masuk " + glued) is None, glued


def test_a_template_never_reads_an_outgoing_text_even_when_its_words_fit() -> None:
    template = marked("", "Saldo Rp25.042 dari BUDI diterima toko", "Rp25.042", "BUDI")
    assert taught.read_with_template(template, "", "Saldo Rp5.000 dari BUDI diterima toko") \
        is not None
    # The name slot takes any words, but the whole text still passes the noise filter.
    assert taught.read_with_template(
        template, "", "Saldo Rp5.000 dari kamu mengirim ke SITI diterima toko") is None


def test_the_marked_name_must_be_a_name_and_must_not_overlap_the_amount() -> None:
    message = "Ada saldo baru Rp25.042 dari DANA untuk tokomu"
    text = taught.shown_text("", message)
    with pytest.raises(taught.TemplateRefused) as refused:
        taught.derive_template("", message, span(text, "Rp25.042"), span(text, "DANA"))
    assert refused.value.code == "bad_sender"
    with pytest.raises(taught.TemplateRefused) as refused:
        taught.derive_template("", message, span(text, "Rp25.042"), span(text, "25.042 dari"))
    assert refused.value.code == "overlap"


def test_the_amount_may_be_in_the_title_and_the_name_in_the_message() -> None:
    template = marked("Saldo masuk Rp10.000", "Dari ANI lewat QRIS toko", "Rp10.000", "ANI")
    found = taught.read_with_template(template, "Saldo masuk Rp99.000", "Dari Joko lewat QRIS toko")
    assert (found.amount, found.sender_name) == (99000, "Joko")


def test_template_example_shows_the_wording_with_marks() -> None:
    template = marked(TITLE, MESSAGE, "25.042", "BUDI SANTOSO")
    assert taught.template_example(template) == (
        "DANA Cuan mendarat! [amount] rupiah dari [name] sudah nongkrong di dompet toko")


# --- properties ---------------------------------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9)
NAME = st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPRSTUVWXYZ", min_size=2, max_size=8),
                min_size=1, max_size=3).map(" ".join)


def written(amount: int, style: int) -> str:
    dotted = f"{amount:,}".replace(",", ".")
    return [f"Rp{dotted}", f"Rp {dotted}", f"{dotted},00", f"IDR {amount:,}.00", f"Rp{amount}"][
        style]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(WORD, min_size=2, max_size=6), after=st.lists(WORD, max_size=6),
       amount=st.integers(1, 10**10), style=st.integers(0, 4), name=st.none() | NAME,
       name_first=st.booleans())
def test_deriving_then_reading_the_same_text_gives_back_the_marks(
        before: list[str], after: list[str], amount: int, style: int, name: str | None,
        name_first: bool) -> None:
    money = written(amount, style)
    words = " ".join(before)
    if name is None:
        message = f"{words} {money} {' '.join(after)}".strip()
    elif name_first:
        message = f"{words} {name} kirim {money} {' '.join(after)}".strip()
    else:
        message = f"{words} {money} dari {name} {' '.join(after)}".strip()
    assume(not is_noise(message))
    assume(name is None or clean_sender(name) == name)
    try:
        template = marked("", message, money, name)
    except taught.TemplateRefused as refused:
        assert refused.code == "not_specific"
        return
    found = taught.read_with_template(template, "", message)
    assert found is not None
    assert (found.amount, found.sender_name) == (amount, name)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=5),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(template=JSONISH | st.fixed_dictionaries({"version": st.just(1), "parts": JSONISH}),
       title=st.none() | st.text(max_size=80), message=st.none() | st.text(max_size=200))
def test_reading_never_raises_on_any_template_or_text(template: object, title: str | None,
                                                      message: str | None) -> None:
    found = taught.read_with_template(template, title, message)
    assert found is None or found.amount > 0
    taught.template_example(template)


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=60), message=st.text(max_size=200),
       amount_span=st.tuples(st.integers(-5, 300), st.integers(-5, 300)) | JSONISH,
       sender_span=st.none() | st.tuples(st.integers(-5, 300), st.integers(-5, 300)))
def test_deriving_either_makes_a_template_that_reads_or_refuses_with_a_reason(
        title: str, message: str, amount_span: object, sender_span: object) -> None:
    try:
        template = taught.derive_template(title, message, amount_span, sender_span)
    except taught.TemplateRefused as refused:
        assert refused.code and refused.message
        return
    assert taught.read_with_template(template, title, message) is not None
