"""Shared pieces of the notification parsers: the rupiah amount reader, the rule engine, the
outgoing/noise filter, the sender-name cleaner and `Family`, the data every family module
declares.

Every family module (dana.py, gopay.py, ...) declares one `Family`: its packages, the brand its
text names, and a list of `Rule`s that `Family.parse()` runs through `run()`. A rule is a
regular expression that recognises one *money received* sentence; its `amt` group marks the
payment amount and its optional `sender*` groups the payer. `run()` refuses anything that looks
outgoing or like noise, and refuses a notification that carries a second, different amount it
cannot explain (a balance or a fee is explained; anything else makes the payment ambiguous).
When unsure, the answer is None: a false positive ships goods for free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AMT",
    "SENDER",
    "SHARED_RULES",
    "Family",
    "Money",
    "Parsed",
    "Rule",
    "brand",
    "clean_sender",
    "find_amounts",
    "is_noise",
    "join_fields",
    "normalize",
    "parse_rupiah",
    "rule",
    "run",
]

# Regex flags for every pattern here: ASCII-only case folding, so that e.g. a Turkish dotted
# capital I never reads as the "I" of "IDR".
FLAGS = re.ASCII | re.IGNORECASE

# A notification longer than this is not one notification; refuse it rather than guess.
MAX_CHARS = 4000
MAX_DIGITS = 15


@dataclass(frozen=True, slots=True)
class Parsed:
    """One money-received notification: whole rupiah, the payer as written, the parser family."""

    amount: int  # whole rupiah, > 0
    sender_name: str | None
    parser: str  # module family name, e.g. "dana", "gopay", "generic"


# --------------------------------------------------------------------------------------------
# Rupiah amounts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Money:
    """An amount token as written in the text; value None when it is not a whole rupiah."""

    value: int | None
    start: int
    end: int
    raw: str


# "Rp", "Rp.", "IDR", then the digits with their separators. A separator is only part of the
# number when a digit follows it, so a sentence-ending "." or "," stays outside. ",-" is the
# Indonesian "no cents" mark (Rp1.000,-).
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>Rp\.?|IDR)[ \t]*(?P<num>[0-9](?:[0-9]|[.,](?=[0-9]))*)"
    r"(?P<dash>,-)?",
    FLAGS,
)
# Rp50rb, Rp25.000x; and "Rp 25 042" (thousands grouped by a space, which no app here
# writes): reading 25 of it would pay another bill.
_ALNUM_AFTER = re.compile(r"[A-Za-z0-9]|[ \u00a0\u202f][0-9]{3}(?![0-9])", re.ASCII)
# Indonesian: dots group thousands, a comma starts the cents.
_ID_GROUPED = re.compile(r"([1-9][0-9]{0,2}(?:\.[0-9]{3})+)(?:,([0-9]{1,2}))?", re.ASCII)
# English: commas group thousands, a dot starts the cents.
_EN_GROUPED = re.compile(r"([1-9][0-9]{0,2}(?:,[0-9]{3})+)(?:\.([0-9]{2}))?", re.ASCII)
# Ungrouped digits, optionally with two-digit cents after either separator.
_PLAIN = re.compile(r"(0|[1-9][0-9]*)(?:[.,]([0-9]{2}))?", re.ASCII)


def _number_value(num: str) -> int | None:
    """The whole-rupiah value of the digits of one amount, or None (cents, bad grouping)."""
    for grammar in (_ID_GROUPED, _EN_GROUPED, _PLAIN):
        m = grammar.fullmatch(num)
        if m is None:
            continue
        whole, cents = m.group(1), m.group(2)
        if cents is not None and int(cents) != 0:
            return None  # Rp25.042,50 is not a whole-rupiah amount
        digits = whole.replace(".", "").replace(",", "")
        if len(digits) > MAX_DIGITS:
            return None
        value = int(digits)
        return value if value > 0 else None
    return None


def find_amounts(text: str) -> list[Money]:
    """Every Rp/IDR amount written in text, in order. A token that is not a plain whole rupiah
    (non-zero cents, "Rp50rb", a minus sign in front) is kept with value None so that callers see
    it and can refuse the notification."""
    found: list[Money] = []
    for m in _TOKEN.finditer(text):
        end = m.end()
        value = _number_value(m.group("num"))
        if end < len(text) and _ALNUM_AFTER.match(text, end):
            value = None  # Rp50rb, Rp5jt, Rp25 042: not an amount we can trust
        start = m.start()
        if start > 0 and text[start - 1] in "-\u2212":
            value = None  # -Rp25.000 is money out
        found.append(Money(value, start, end, m.group(0)))
    return found


def parse_rupiah(text: str) -> int | None:
    """The whole-rupiah amount written in text, or None.

    Reads `Rp25.042`, `Rp 25.042`, `Rp25.042,00`, `Rp. 25.042`, `IDR 25.042`, `Rp25042`,
    `Rp1.000,-` and English `IDR 25,042.00` / `Rp25,042`. Non-zero cents (`Rp25.042,50`) are not a
    whole rupiah amount and give None; so does text without exactly one Rp/IDR amount.
    """
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return None
    amounts = find_amounts(text)
    if len(amounts) != 1:
        return None
    return amounts[0].value


# --------------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------------

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LINE_BREAKS = re.compile(r"\s*[\n\r\u2028\u2029\x0b\x0c\x1c-\x1e\x85]\s*")


def normalize(value: object, *, keep_lines: bool = False) -> str:
    """A field as one line of text: None and non-text become "", bytes are decoded, invisible
    characters dropped, every run of whitespace (newlines, NBSP...) becomes one space. With
    `keep_lines`, a run that holds a line break becomes one line break instead: where a line
    ends, a payer's name ends ("dari JOHN DOE" / "Saldo bertambah")."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    if len(value) > MAX_CHARS * 4:
        return value[: MAX_CHARS + 1]  # too long either way; run() refuses it
    value = _INVISIBLE.sub("", value)
    if not keep_lines:
        return " ".join(value.split())
    return "\n".join(" ".join(line.split()) for line in _LINE_BREAKS.split(value.strip()))


def join_fields(title: str, message: str) -> str:
    """Title and message as the rules see them: two lines (rules may span the line break)."""
    if title and message:
        return f"{title}\n{message}"
    return title or message


# --------------------------------------------------------------------------------------------
# Noise: outgoing money, promos, OTPs, reminders, refunds, top-ups, failures
# --------------------------------------------------------------------------------------------

# "ke kamu", "to you", "ke ShopeePay-mu", "ke rekeningmu": the money comes to the shop.
# The shop's own wallet or account: "saldo OVO Anda", "akun DANA kamu", "GoPay kamu", "rekeningmu".
# A shop's own wallet also goes by its shop: "saldo tokomu", "akun bisnis Anda".
_YOUR_WALLET = (
    r"(?:dana|akun|saldo|dompet|rekening|ovo|gopay|shopeepay|linkaja)"
    r"(?:\s+(?:dana|ovo|gopay|shopeepay|linkaja|toko|usaha|bisnis))?\s*(?:-?mu|kamu|anda)\b"
)
_TO_YOU = r"(?:(?:kamu|anda|you|[A-Za-z]+-mu)\b|" + _YOUR_WALLET + ")"

_NOISE = re.compile(
    r"""
    \b(?:otp|kode\s+(?:verifikasi|otp|rahasia|keamanan|aktivasi|konfirmasi)|verification\s+code
      |one[\s-]?time\s+password|jangan\s+(?:berikan|bagikan|beritahukan)
      |promo\w*|cashback|referr?al|kompensasi|voucher|diskon|discount|kupon|coupon|hadiah|undian
      |giveaway|menangkan
      |dapatkan|poin|points?|koin|coins?|rewards?
      |refund\w*|pengembalian|dikembalikan|reversal|reversed|chargeback
      |top[\s-]?up|topup|isi\s+saldo|tambah\s+saldo
      |tarik\s+tunai|penarikan|menarik|ditarik|withdraw\w*|setor\s+tunai
      |membayar|pembayaran\s+(?:ke|kepada|untuk|di|tagihan)|bayar\s+(?:ke|di)|paid|payment\s+(?:to|at)
      |you(?:'ve|\s+have)?\s+(?:spent|sent|transferred|withdrew|topped|paid)|spent|purchase\w*
      |charged|pembelian|belanja
      |transfer\s+(?:ke|kepada|keluar)|kirim\s+(?:ke|uang\s+ke)|dikirim\s+ke
      |(?:kamu|anda)\s+(?:telah\s+|berhasil\s+|s?udah\s+)?(?:mengirim\w*|kirim|transfer|mentransfer
        |membayar|bayar|menarik|tarik|top)
      |(?:dana|uang|saldo|transaksi|trf|transfer)\s+keluar|didebit|didebet|debet|debit|pendebetan
      |terpotong|dipotong|terpakai|berhasil\s+bayar|dibayar\s+(?:ke|kepada)
      |potongan
      |tagihan|jatuh\s+tempo|pengingat|reminder|bill|billing|angsuran|cicilan|pinjaman
      |\w*pay\s?later|pencairan
      # a merchant platform paying out what it collected (already counted, payment by payment):
      # "Settlement dana Rp 85.000 telah masuk", not "Settlement dana otomatis masuk pukul 23.00"
      |settle(?:ment)?\s+(?:(?:dana|qris|harian)\s+)*(?:sebesar\s+)?(?:rp|idr)
      |gagal|failed|dibatalkan|batal|pembatalan|cancel\w*|ditolak|rejected|declined|kedaluwarsa
      |kadaluarsa
      |expired|pending|diproses|menunggu|waiting|hold
      |meminta|permintaan|request\w*|tagih|menagih
      |akan\s+menerima|(?:belum|tidak)\s+(?:menerima|diterima|masuk|berhasil|sukses)
      |moved|dipindahkan|memindahkan|pindah\s+dana|reksa\s*dana|investasi|bunga|interest|pulsa
      |terdebit|pengeluaran
      |(?:dari|from)\s+(?:kamu|anda|you)|diterima\s+oleh|received\s+by|pembayaran\s*(?:mu|kamu|anda)
      # "dari rekening Anda", "Dari: Rekening SeaBank Anda", "from your account": the reader paid
      |(?:dari|from)\s*:?\s*(?:(?:rekening|rek|akun|saldo|dompet|kantong)\s*\.?\s*(?:[A-Za-z]+\s+)?
        (?:-?mu|kamu|anda)|your\s+(?:account|balance|wallet|pocket))
      |rekening\s+tujuan|tujuan|penerima
    )\b
    # An amount sent somewhere: "Rp50.000 ke 98765", "IDR 10,000 to JOHN" (but "ke kamu" is in,
    # and so is "Dana masuk sebesar Rp50.123 ke rekening 1234567890": after "masuk", an account
    # written as a number is the shop's own).
    |(?<!masuk\s)(?<!masuk\ssebesar\s)(?<!masuk:\s)
     (?:Rp\.?|IDR)\s*[0-9][0-9.,]*\s+(?:ke|kepada|to)\s+(?!<YOU>)
    |masuk(?:\ssebesar|:)?\s(?:Rp\.?|IDR)\s*[0-9][0-9.,]*\s+(?:ke|kepada|to)\s+(?!<YOU>)
     (?!rek(?:ening)?\.?\s*[0-9*xX-]{4,})
    # A "Ke: NAME" line of a "key: value" layout names where the money went, unless it names the
    # reader's own account ("Ke: Rekening Anda").
    |(?:^|\n)[ \t]*(?:ke|kepada|to)[ \t]*:(?![ \t]*(?:<YOU>))
    """.replace("<YOU>", _TO_YOU),
    FLAGS | re.VERBOSE,
)


def is_noise(text: str) -> bool:
    """True when text reads as money out, a promo, an OTP, a reminder, a refund or a failure."""
    return _NOISE.search(text) is not None


# Money into a wallet named as the reader's: "masuk ke GoPay kamu", "ke saldo OVO Anda", "ke
# akun DANA kamu", "ke ShopeePay-mu". Only that wallet's own app announces money arriving in it
# as income; a bank or another wallet saying so tells of money leaving it (the owner topping up
# their own wallet), never of a customer's payment.
_INTO_A_WALLET = re.compile(
    r"\bke\s+(?:(?:saldo|akun|dompet)\s+)?(?P<wallet>dana|ovo|gopay|shopee\s?pay|linkaja)"
    r"\s*(?:-?mu|kamu|anda)\b",
    FLAGS,
)
# The same in an app set to English: "has been received in your GoPay", "added to your OVO".
_INTO_A_WALLET_EN = re.compile(
    r"\b(?:in|into|to)\s+your\s+(?:(?:balance|account|wallet)\s+)?"
    r"(?P<wallet>dana|ovo|gopay|shopee\s?pay|linkaja)\b",
    FLAGS,
)


def into_another_wallet(text: str, own_wallet: str | None) -> bool:
    """True when text says money went into a wallet other than `own_wallet` (the wallet whose
    app posted it; None for a bank, a merchant app or an unknown app)."""
    return any("".join(m["wallet"].lower().split()) != own_wallet
               for pattern in (_INTO_A_WALLET, _INTO_A_WALLET_EN)
               for m in pattern.finditer(text))


# A second amount that is explained: the balance after the payment, or a fee.
_SECONDARY_LABEL = re.compile(
    r"(?:saldo|balance|sisa|biaya|fee|admin|mdr)"
    # "Saldo DANA kamu sekarang Rp…": the wallet's name and up to three words about "now"
    r"(?:\s+(?:akhir|anda|kamu|mu|tersedia|saat|ini|terkini|rekening|efektif|sekarang|total"
    r"|dana|ovo|gopay|shopeepay|linkaja|sebesar)){0,4}"
    r"\s*[:=]?\s*$",
    FLAGS,
)


# "Kamu menerima transfer saldo ShopeePay sebesar Rp…": the label names money received.
_RECEIVED_BEFORE_LABEL = re.compile(r"\b(?:menerima|terima|received)\s+(?:[A-Za-z]+\s+){0,3}$",
                                    FLAGS)


def _is_secondary(text: str, money: Money) -> bool:
    label = _SECONDARY_LABEL.search(text, max(0, money.start - 40), money.start)
    return label is not None and _RECEIVED_BEFORE_LABEL.search(
        text, max(0, label.start() - 60), label.start()) is None


# --------------------------------------------------------------------------------------------
# Sender names
# --------------------------------------------------------------------------------------------

# Words that say the "sender" is a wallet, a bank, the receiving account or nobody in particular.
_NOT_A_PERSON = frozenset(
    """
    gopay go-pay gojek gobiz ovo dana shopeepay shopee linkaja bca bri bni mandiri bank jago
    seabank blu bluaccount qris cimb niaga permata bsi btn jenius livin brimo wondr flip doku
    isaku astrapay paypal tbk wallet e-wallet ewallet dompet rekening rek akun akunmu pelanggan
    customer pembeli pembayaran transfer saldo kamu anda pengirim merchant bisnis virtual account
    norek
    """.split()
)
_STARTS_WITH_STOPWORD = re.compile(
    r"(?:ke|di|pada|untuk|sebesar|senilai|via|dengan|melalui|rp|idr)\b", FLAGS
)
_TRAILING_PUNCT = ".,;:!?-_'\" "
_INITIAL_AT_END = re.compile(r"(?:^|\s)[A-Za-z]\.$", re.ASCII)
_WORDS = re.compile(r"[^\W_]+(?:-[^\W_]+)?")


def clean_sender(raw: str | None) -> str | None:
    """The payer's name as written (case kept), or None when it names a wallet, a bank, the
    receiving account or is not a name at all. "Sender - Source" keeps the sender; a trailing
    "." is kept only after an initial ("Budi S."); a bank's masking stars stay ("***PET **AK")."""
    if not raw:
        return None
    name = " ".join(raw.split(" - ", 1)[0].split())
    if name.endswith(".") and _INITIAL_AT_END.search(name):
        name = name.rstrip(",;:!?-_'\" ")
    else:
        name = name.rstrip(_TRAILING_PUNCT)
    name = name.lstrip(".,;:!?-_'\" ")
    if not name or len(name) > 60 or not any(ch.isalpha() for ch in name):
        return None
    if _STARTS_WITH_STOPWORD.match(name):
        return None
    if any(word.lower() in _NOT_A_PERSON for word in _WORDS.findall(name)):
        return None
    return name


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------

# The payment amount inside a rule. The amount's value is read by find_amounts(), not here.
AMT = r"(?P<amt>(?:Rp\.?|IDR)[ \t]*[0-9][0-9.,]*(?:,-)?)"

# Where a payer's name stops: a joining word, a clause mark, a sentence end, the end of a field.
_SENDER_STOP = (
    r"(?=\s+(?:berhasil|telah|s?udah|via|ke|kepada|pada|sebesar|senilai|untuk|melalui|dengan|di"
    r"|masuk|diterima|tgl|tanggal|jam|pukul|ref|no|buka|cek|sukses|on|at|to|with|has|is|was)\b"
    r"|\s+-\s|\s*[,!?;:|(]"
    # a full stop ends the name, except after an initial or a title ("Budi S.", "PT.")
    r"|(?<!\b[A-Za-z])(?<!\bPT)(?<!\bCV)(?<!\bHj)(?<!\bIr)(?<!\bDr)(?<!\bMr)(?<!\bNy)(?<!\bTn)"
    r"(?<!\bDrs)(?<!\bMuh)(?<!\bMoh)(?<!\bSdr)(?<!\bMrs)\.(?=\s|$)"
    r"|\s*\n|\s*$)"
)


def sender(group: str = "sender") -> str:
    """A payer-name group (lazy, one line, at most 80 characters) ending at a natural stop."""
    return rf"(?P<{group}>[^\n|]{{1,80}}?){_SENDER_STOP}"


SENDER = sender()


# An amount written without Rp/IDR, as myBCA's "Catatan Finansial" does ("Pemasukan
# 1,500,000.00"). Only the full money format counts: grouped thousands and two-digit cents, so
# that an account number, a date or a reference can never be read as one.
BARE_AMT = (
    r"(?<![0-9.,])(?P<amt>[1-9][0-9]{0,2}(?:,[0-9]{3})*\.[0-9]{2}"
    r"|[1-9][0-9]{0,2}(?:\.[0-9]{3})*,[0-9]{2})(?![0-9]|[.,][0-9])"
)
_BARE_TOKEN = re.compile(BARE_AMT, re.ASCII)
_BARE_EN = re.compile(r"([1-9][0-9]{0,2}(?:,[0-9]{3})*)\.([0-9]{2})", re.ASCII)
_BARE_ID = re.compile(r"([1-9][0-9]{0,2}(?:\.[0-9]{3})*),([0-9]{2})", re.ASCII)


# "pukul 23.00 WIB", "jam 09.30", "15/09/2026 10.24": a time written the Indonesian way looks like
# money without Rp.
_CLOCK_BEFORE = re.compile(
    r"(?:\b(?:pukul|pkl|jam)\.?|\b[0-9]{1,2}[/-][0-9]{1,2}(?:[/-][0-9]{2,4})?,?)\s*$", FLAGS
)
_CLOCK_AFTER = re.compile(r"\s*(?:WIB|WITA|WIT)\b", FLAGS)


_CLOCK = re.compile(r"(?:[01]?[0-9]|2[0-3])[.:][0-5][0-9]", re.ASCII)


def _is_clock_time(text: str, start: int, end: int) -> bool:
    """True when the bare number at text[start:end] is a time of day, not an amount."""
    return _CLOCK.fullmatch(text, start, end) is not None and (
        _CLOCK_BEFORE.search(text, max(0, start - 16), start) is not None
        or _CLOCK_AFTER.match(text, end) is not None)


def bare_value(written: str) -> int | None:
    """The whole-rupiah value of a BARE_AMT match, or None (non-zero cents)."""
    m = _BARE_EN.fullmatch(written) or _BARE_ID.fullmatch(written)
    if m is None or int(m.group(2)) != 0:
        return None
    digits = m.group(1).replace(",", "").replace(".", "")
    return int(digits) if len(digits) <= MAX_DIGITS else None


@dataclass(frozen=True, slots=True)
class Rule:
    """One money-received sentence. `amt` marks the amount; groups named sender* the payer.
    A `bare` rule's amount carries no Rp/IDR (see BARE_AMT)."""

    pattern: re.Pattern[str]
    take_sender: bool = True
    bare: bool = False


def rule(pattern: str, *, take_sender: bool = True) -> Rule:
    """Compile a rule; `<AMT>` and `<SENDER>` in the pattern stand for the shared groups, and
    `<BARE>` for an amount without Rp/IDR (the rule is then a bare one)."""
    bare = "<BARE>" in pattern
    compiled = pattern.replace("<AMT>", AMT).replace("<BARE>", BARE_AMT)
    return Rule(re.compile(compiled.replace("<SENDER>", SENDER), FLAGS), take_sender, bare)


def _received_starts(text: str, attempts: list[tuple[Rule, int]]) -> set[int]:
    """Where in text any of the rules reads an amount as money received."""
    return {m.start("amt") for r, end in attempts for m in r.pattern.finditer(text, 0, end)}


def run(
    family: str,
    title: object,
    message: object,
    rules: tuple[Rule, ...],
    noise: re.Pattern[str] | None = None,
    title_rules: tuple[Rule, ...] = (),
    wallet: str | None = None,
) -> Parsed | None:
    """Apply title_rules to the title alone, then rules to title+message; the first that matches
    decides.

    None when the text is noise (outgoing, promo, OTP...), when it tells of money into a wallet
    other than `wallet` (the family's own), when the matched amount is not a whole rupiah, or
    when another unexplained amount appears (which one was paid?)."""
    title_text = normalize(title)
    text = join_fields(title_text, normalize(message, keep_lines=True))
    if not text or len(text) > MAX_CHARS:
        return None
    if is_noise(text) or (noise is not None and noise.search(text)):
        return None
    if into_another_wallet(text, wallet):
        return None
    amounts = find_amounts(text)
    # The title opens the joined text, so a match inside the title has the same offsets in both.
    attempts = [(r, len(title_text)) for r in title_rules] + [(r, len(text)) for r in rules]
    received_at: set[int] | None = None  # where some rule reads an amount as money received
    for r, end in attempts:
        m = r.pattern.search(text, 0, end)
        if m is None:
            continue
        start = m.start("amt")
        if r.bare:
            paid: Money | None = Money(bare_value(m["amt"]), start, m.end("amt"), m["amt"])
        else:
            paid = next((a for a in amounts if a.start == start), None)
        if paid is None or paid.value is None:
            return None
        # Numbers in the full money format without Rp count as amounts too ("Saldo
        # 2,000,000.00"), whichever rule matched: "Pemasukan 1,500,000.00" beside a
        # "Pemasukan Rp99.999" is a second payment, not nothing.
        amounts = amounts + [
            Money(bare_value(b["amt"]), b.start("amt"), b.end("amt"), b["amt"])
            for b in _BARE_TOKEN.finditer(text)
            if b.start("amt") != paid.start
            and not any(a.start <= b.start("amt") < a.end for a in amounts)
            and not _is_clock_time(text, b.start("amt"), b.end("amt"))
        ]
        for other in amounts:
            if other is paid or other.value == paid.value:
                continue
            if other.value is not None and _is_secondary(text, other):
                # "Kamu menerima saldo sebesar Rp50.000" is a payment, not a balance, though
                # "saldo" names it: an amount a rule reads as received is never explained
                # away, or a second sentence ("Pembayaran Rp99.999 diterima" in a payer's
                # name) would pay the bill of its amount instead.
                if received_at is None:
                    received_at = _received_starts(text, attempts)
                if other.start not in received_at:
                    continue
            return None  # two different amounts: which one was paid?
        name = None
        if r.take_sender:
            for key, value in m.groupdict().items():
                if key.startswith("sender") and value:
                    name = clean_sender(value)
                    break
        return Parsed(paid.value, name, family)
    return None


# --------------------------------------------------------------------------------------------
# Families: what each module declares
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Family:
    """One app family as data: the packages it reads, the brand its text names, its rules.

    `brand` is searched in the title, then the text, to route a notification whose package is
    unknown or missing; None claims no text (the generic reader). `title_rules` read the title
    alone (an amount that only the title carries); `noise` refuses wordings only this family has;
    `wallet` says its apps are the e-wallet its name names (as `into_another_wallet` spells it),
    not a bank or a merchant app.
    """

    name: str
    packages: tuple[str, ...]
    brand: re.Pattern[str] | None
    rules: tuple[Rule, ...]
    title_rules: tuple[Rule, ...] = ()
    noise: re.Pattern[str] | None = None
    wallet: bool = False

    def names(self, text: str) -> bool:
        """True when text names this family's brand."""
        return self.brand is not None and self.brand.search(text or "") is not None

    def parse(self, title: object, message: object) -> Parsed | None:
        """The payment this family's notification reports as received, or None."""
        return run(self.name, title, message, self.rules, self.noise, self.title_rules,
                   self.name if self.wallet else None)


def brand(pattern: str, *, case_sensitive: bool = False) -> re.Pattern[str]:
    """A brand hint. Brands written in capitals ("DANA", "OVO") are matched case-sensitively so
    that the common words they spell ("dana masuk") do not route a text to them."""
    return re.compile(pattern, re.ASCII if case_sensitive else FLAGS)


# --------------------------------------------------------------------------------------------
# Rules shared by several families (each family lists the ones its app really writes)
# --------------------------------------------------------------------------------------------

_VIA = r"(?:\s+via\s+[A-Za-z][\w-]*)?"
# Where a received-sentence may go on after "diterima": an end, a time, a payer, a reference,
# or into the shop's own account ("diterima ke saldo tokomu"). "Rp50.000 diterima TOKO ABC"
# (someone else received it) does not qualify.
_RECEIVED_TAIL = (
    r"(?=\s*[.!,;:]|\s*\n|\s*$|\s+(?:pada|dari|di|melalui|via|sebesar|id|ref|tgl|tanggal"
    r"|dana\s+bisnis)\b|\s+ke\s+" + _YOUR_WALLET + ")"
)
# Where "masuk" may go on: an end, a time, or into the shop's own account ("ke rekening usaha BCA
# 5220394812 Anda": the account's number, then whose it is).
_IN_TAIL = (
    r"(?=\s*[.!,;:]|\s*\n|\s*$|\s+(?:pada|dari|melalui|via|tgl|tanggal)\b"
    r"|\s+ke\s+(?:rek(?:ening)?\b\.?\s*(?:[0-9*xX]|(?:kamu|anda|mu)\b)"
    r"|rek(?:ening)?\b\.?(?:\s+[A-Za-z]+){1,3}\s+[0-9*xX-]{4,}\s+(?:kamu|anda)\b"
    r"|" + _YOUR_WALLET + r"|bluAccount|kantong\s+utama|saldo\s+aktif))"
)
# Where a "you received" sentence starts: the shop is the subject, or nobody is named.
_YOU_START = (
    r"(?:^|\n|[.!:,]\s*)(?:(?:kamu|anda)\s+)?(?:(?:berhasil|telah|s?udah|baru\s+(?:saja|aja))\s+)?"
)
# "Already": "sudah", "telah", and GoPay's everyday "udah" ("Rp1 dari X udah masuk ke GoPay kamu.")
_DONE = r"(?:(?:telah|s?udah|berhasil|sukses)\s+)?"
# "dari NAME", "dari pengirim NAME", "Dari: NAME" (a "key: value" line), "dari rek 987654321
# a.n. NAME" and "dari 9876543210 a.n NAME": the payer after the account.
_FROM = (
    r"(?:dari|from)(?:\s*:)?\s+(?:pengirim\s+)?"
    r"(?:rek(?:ening)?\.?\s*[0-9*xX-]{4,}\s+|[0-9*xX-]{4,}\s+(?=a\.\s?n\b|an\.\s))?"
    r"(?:a\.\s?n\.?\s+|an\.\s+)?"
)
# "ke rek 1234567890", "ke rekening ****2430": the shop's own account, written as a number.
_TO_OWN_ACCOUNT = r"(?:\s+ke\s+rek(?:ening)?\.?\s*[0-9*xX-]{4,})?"

# The payer named before "sebesar Rp…": "Anda telah menerima transfer dari NAME sebesar Rp…",
# "Transfer masuk dari NAME sebesar Rp… berhasil."
_PAYER_FIRST = r"(?:dari\s+" + sender("sender0") + r"\s+(?=(?:sebesar|senilai|sejumlah)\b))?"

# "Kamu (berhasil) menerima (saldo/kiriman/transfer masuk) (sebesar) Rp… (via X) (dari Y)", and
# the amount as the sentence's "key: value" ("Kamu telah menerima dana. Jumlah: Rp…", Krom)
RECEIVE = rule(
    _YOU_START + r"(?:menerima|terima)\s+"
    r"(?:(?:saldo|uang|dana|kiriman|transfer(?:an)?|pembayaran)"
    r"(?:\s+(?:masuk|qris|saldo|shopeepay|gopay|ovo(?:\s+cash)?|dana|linkaja)){0,2}"
    r"(?:\s*[.:]\s*(?=(?:jumlah|nominal)\b)|\s+))?"
    + _PAYER_FIRST +
    r"(?:(?:sebesar|senilai|sejumlah)\s+|(?:jumlah|nominal)\s*:?\s*)?<AMT>" + _VIA
    + r"(?:\s+" + _FROM + r"<SENDER>)?"
)
# The payer named before the amount: "Transfer dari NAME sebesar Rp… telah masuk ke akun Anda",
# "Pembayaran QRIS dari NAME sebesar Rp… berhasil diterima ke saldo tokomu."
PAYER_BEFORE_AMOUNT = rule(
    r"\b(?:transfer(?:an)?|kiriman|uang|dana|pembayaran(?:\s+qris)?)\s+dari\s+<SENDER>\s+"
    r"(?:sebesar|senilai)\s+<AMT>\s+" + _DONE
    + r"(?:masuk\b" + _IN_TAIL + r"|diterima\b" + _RECEIVED_TAIL + r")"
)
# English: "You've received Rp200.000 from NAME", "Payment received IDR 10,000"
RECEIVED_EN = rule(
    r"(?:^|\n|[.!:,]\s*)(?:you(?:'ve|\s+have)?\s+|(?:payment|transfer|money)\s+)?received\s*:?\s+"
    r"(?:a\s+(?:payment|transfer)\s+of\s+)?<AMT>(?:\s+from\s+<SENDER>)?"
)
# "Pembayaran (QRIS) (sebesar) Rp… (dari X) (telah|berhasil) diterima (dari Y)"
PAYMENT_RECEIVED = rule(
    r"\bpembayaran(?:\s+qris)?(?:\s+(?:statis|dinamis))?\s+(?:(?:sebesar|senilai)\s+)?<AMT>"
    r"(?:\s+dari\s+"
    + sender("sender")
    + r")?\s+"
    + _DONE
    + r"diterima\b"
    + _RECEIVED_TAIL
    + r"(?:[^\n]*?\bdari\s+"
    + sender("sender2")
    + r")?"
)
# "Transfer diterima Rp125.000", "Transfer Diterima Rp 180.000" / "Dari: NAME (1234567890)" — the
# amount after the verb; a transfer received by someone else says by whom and is refused.
TRANSFER_RECEIVED_THEN_AMOUNT = rule(
    r"\btransfer(?:an)?\s+diterima\b\s*[:!.]?\s*"
    r"(?:(?:sebesar|senilai|jumlah|nominal)\s*:?\s*)?<AMT>(?![0-9.,]|\s+(?:oleh|by)\b)"
    r"(?:\s+" + _FROM + r"<SENDER>)?"
)
# "Pembayaran (QRIS statis) diterima(:|!) (sebesar) Rp… (dari X)" — the amount after the verb.
PAYMENT_RECEIVED_THEN_AMOUNT = rule(
    r"\bpembayaran\s+(?:qris\s+)?(?:(?:statis|dinamis)\s+)?diterima\b\s*[:!.]?\s*"
    r"(?:(?:sebesar|senilai|jumlah|nominal)\s*:?\s*)?<AMT>"
    # the text may say "received" again before the payer: "Rp50.000 diterima dari Budi"
    r"(?:\s+(?:" + _DONE + r"diterima\s+)?" + _FROM + r"<SENDER>)?"
)
# A line that starts with the amount: "Rp10 diterima DANA Bisnis.", "Rp1.000 berhasil diterima."
AMOUNT_RECEIVED = rule(
    r"(?:^|\n|:\s)<AMT>\s+(?:(?:dari|from)\s+"
    + sender("sender")
    + r"\s+)?"
    + _DONE
    + r"diterima\b"
    + _RECEIVED_TAIL
    + r"(?:\s+dari\s+"
    + sender("sender2")
    + r")?"
)
# "OVO QRIS Rp60.000 berhasil diterima.", "QRIS Rp250.000 diterima dari Siti R."
QRIS_AMOUNT_RECEIVED = rule(
    r"\bQRIS\s+(?:(?:sebesar|senilai)\s+)?<AMT>\s+(?:dari\s+<SENDER>\s+)?"
    + _DONE
    + r"diterima\b"
    + _RECEIVED_TAIL
    + r"(?:\s+dari\s+"
    + sender("sender2")
    + r")?"
)
# "Transfer Rp 750.000 berhasil diterima", "Transfer sebesar Rp… dari X diterima"
TRANSFER_RECEIVED = rule(
    r"\btransfer(?:an)?\s+(?:(?:sebesar|senilai)\s+)?<AMT>\s+(?:dari\s+"
    + sender("sender")
    + r"\s+)?"
    + _DONE
    + r"diterima\b"
    + _RECEIVED_TAIL
    + r"(?:\s+dari\s+"
    + sender("sender2")
    + r")?"
)
# "Transfer masuk sebesar Rp…", "Transfer Masuk: Rp… dari X", "Dana masuk Rp… dari X", "QRIS masuk!
# Rp… dari X", and as "key: value" lines: "Transfer Masuk" / "Nominal: Rp…" / "Dari: X"
# A bank's "Mutasi Masuk" (a credit to the account) names the wallet it came into: "Mutasi Masuk
# DANA Bisnis Rp…".
LABEL_IN_THEN_AMOUNT = rule(
    r"\b(?:dana|uang|saldo|transfer(?:an)?|kiriman|pembayaran(?:\s+qris)?|qris|mutasi)\s+masuk\b"
    r"(?:\s+(?:dana(?:\s+bisnis)?|gopay|ovo|shopee\s?pay|linkaja))?\s*[:!.-]?\s*"
    + _PAYER_FIRST +
    r"(?:(?:sebesar|senilai)\s+|(?:nominal|jumlah)\s*:?\s*)?<AMT>" + _TO_OWN_ACCOUNT
    + r"(?:\s+" + _FROM + r"<SENDER>)?"
)
# "Masuk" first, as a label: "DANA: Masuk Rp5.083 dari Budi", "DANA Bisnis: Masuk pembayaran QRIS
# Rp…" (money sent on elsewhere says where: "Masuk Rp… ke SITI" is noise).
IN_THEN_AMOUNT = rule(
    r"(?:^|\n|[.!:]\s*)masuk\s+(?:(?:pembayaran|dana|uang|transfer(?:an)?|kiriman|saldo)"
    r"(?:\s+qris)?\s+)?(?:(?:sebesar|senilai)\s+)?<AMT>" + _TO_OWN_ACCOUNT
    + r"(?:\s+" + _FROM + r"<SENDER>)?"
)
# "Penerimaan DANA Bisnis Rp50.120 berhasil", "Penerimaan GoPay: Rp… berhasil diterima dari X":
# a receipt, done ("berhasil", "sukses", "diterima") or stated plainly; one still on its way
# ("Penerimaan dana Rp… ditunda") is not.
RECEIPT = rule(
    r"\bpenerimaan(?:\s+(?:dana|uang|pembayaran|transfer|qris|saldo|bisnis|gopay|ovo|shopeepay"
    r"|linkaja)){0,3}\s*:?\s*(?:(?:sebesar|senilai)\s+)?<AMT>"
    r"(?=\s*[.!]?\s*(?:\n|$)|\s+(?:(?:telah|berhasil|sukses)\s+)?(?:berhasil|sukses|diterima|dari)\b)"
    r"(?:[^\n]*?\bdari\s+<SENDER>)?"
)
# "Dana Rp… masuk ke rek.", "Rp… dari X telah masuk ke rek", "Saldo DANA Rp… Berhasil Masuk",
# "Uang sebesar Rp… dari X telah masuk ke Saldo Aktif" (Jenius's main account)
AMOUNT_IN = rule(
    r"(?:\b(?:dana|uang|saldo(?:\s+[A-Za-z]+)?|transfer|kiriman)\s+(?:sebesar\s+)?|^|\n|:\s)<AMT>"
    r"\s+(?:(?:dari|from)\s+<SENDER>\s+)?" + _DONE + r"masuk\b" + _IN_TAIL
)
# The payer in the title, the amount in the text: "Uang masuk dari JOHN DOE" / "Rp 25.042,00
# sudah masuk ke rekening Anda" (PayHook's default test notification).
PAYER_TITLE_AMOUNT_IN = rule(
    r"^(?:uang|dana|transfer|kiriman)\s+masuk\s+dari\s+<SENDER>\n<AMT>\s+" + _DONE + r"masuk\b"
    + _IN_TAIL
)
# BCA's financial diary: "Pemasukan Rp1.500.000,00 dari JOHN DOE pada …"
INCOME = rule(r"\bpemasukan\s+(?:(?:sebesar|senilai)\s+)?<AMT>(?:\s+" + _FROM + r"<SENDER>)?")
# "Rp10347 akan dikreditkan ke rekening Anda", "Rp114 akan dikreditkan ke Tabungan Reguler kamu
# 5859********8988": credited to the shop's own account (named as yours), never to someone else.
CREDITED = rule(
    r"<AMT>\s+(?:(?:akan|telah|sudah)\s+)?dikreditkan\s+ke\s+(?:rekening|tabungan)\b"
    r"(?:\s+[A-Za-z]+){0,2}?\s*(?:anda|kamu|mu)\b",
    take_sender=False,
)
# "Transaksi diterima! Jumlah Rp 2.500.000"
TRANSACTION_RECEIVED = rule(
    r"\btransaksi\s+(?:qris\s+)?diterima\b\s*[!.:]?\s*(?:(?:jumlah|nominal|sebesar)\s*:?\s*)?<AMT>",
    take_sender=False,
)
# "<NAME> telah mengirim Rp… ke kamu", "<NAME> mengirimkan dana sebesar Rp… ke ShopeePay-mu";
# with no destination, the sentence ends at the amount (or says how): "Anita Syahni telah
# mengirimkan dana sebesar Rp150.000" (BSI's business app), OVO's "<NAME> mengirimkan dana
# sebesar Rp…". Money sent anywhere else says where ("Rp… ke SITI": noise).
SENT_TO_YOU = rule(
    r"(?:^|\n|[.!]\s)(?P<sender>[^\n|.!?]{1,60}?)\s+(?:(?:telah|s?udah|baru\s+saja)\s+)?"
    r"mengirim(?:kan)?\s+(?:(?:uang|dana|saldo)\s+)?(?:(?:sebesar|senilai)\s+)?<AMT>"
    r"(?:\s+ke\s+" + _TO_YOU + r"|(?=\s*[.!]?\s*(?:\n|$)|[.!]\s|\s+(?:melalui|via)\b))"
)
# English: "<NAME> has sent Rp… to you", "<NAME> sent you Rp…"
SENT_TO_YOU_EN = rule(
    r"(?:^|\n|[.!]\s)(?P<sender>[^\n|.!?]{1,60}?)\s+(?:has\s+|just\s+)?sent\s+<AMT>\s+to\s+you\b"
)
SENT_YOU_EN = rule(
    r"(?:^|\n|[.!]\s)(?P<sender>[^\n|.!?]{1,60}?)\s+(?:has\s+|just\s+)?sent\s+you\s+<AMT>"
)
# QRIS merchant apps: "Pembayaran QRIS sebesar Rp. 10.000 Sample Sender - Sample Source telah
# diterima" (the payer, then the payer's bank or wallet).
QRIS_PAYER_SOURCE_RECEIVED = rule(
    r"\bpembayaran\s+qris\s+(?:sebesar\s+)?<AMT>\s+(?P<sender>[^\n|]{1,60}?)\s+-\s+"
    r"[^\n|]{1,60}?\s+(?:(?:telah|s?udah|berhasil)\s+)?diterima\b"
)

# Every sentence shape above, most specific first: what the generic reader reads, and all that a
# family whose app's own incoming wording has not been seen in public may read. Each shape says
# plainly that money came in, and run()'s noise filter and one-amount check still apply, so no
# rule here is tuned to one app's (possibly imagined) text.
SHARED_RULES: tuple[Rule, ...] = (
    QRIS_PAYER_SOURCE_RECEIVED,
    PAYMENT_RECEIVED,
    PAYMENT_RECEIVED_THEN_AMOUNT,
    QRIS_AMOUNT_RECEIVED,
    RECEIVE,
    PAYER_BEFORE_AMOUNT,
    TRANSFER_RECEIVED,
    TRANSFER_RECEIVED_THEN_AMOUNT,
    RECEIVED_EN,
    SENT_TO_YOU,
    SENT_TO_YOU_EN,
    SENT_YOU_EN,
    TRANSACTION_RECEIVED,
    LABEL_IN_THEN_AMOUNT,
    IN_THEN_AMOUNT,
    RECEIPT,
    AMOUNT_RECEIVED,
    CREDITED,
    PAYER_TITLE_AMOUNT_IN,
    AMOUNT_IN,
)
