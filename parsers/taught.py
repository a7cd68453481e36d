"""Wordings taught by a shop owner: a notification the parsers could not read, with its amount
(and maybe the payer's name) marked by hand, becomes a template that reads the same wording from
then on.

    template = derive_template("Dana Masuk", "Rp 25.042 dari BUDI ke rek 1234", (11, 20), (26, 30))
    read_with_template(template, "Dana Masuk", "Rp 50.000 dari SITI ke rek 1234")
    -> Parsed(amount=50000, sender_name="SITI", parser="taught")

A template is the whole notification as literal text with two placeholders: the amount (read by
the same rupiah rules as every parser: `Rp25.042`, `25.042,00`, `IDR 25,042.00`; never bare
digits that are not a whole rupiah) and the payer. Whitespace is tolerant, letter case too, and
every run of digits in the literal text stands for any digits, so the time, the date or a
reference number of the next notification may differ. Everything else must read the same: a
template matches the whole text or nothing.

The shared noise filter still applies when reading and when deriving: a template never reads
"Kamu mengirim ...", an OTP or a promo. A template is plain JSON (stored per merchant and app);
it is compiled here, never taken as a regular expression from storage. Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from .common import (
    FLAGS,
    MAX_CHARS,
    Parsed,
    clean_sender,
    is_noise,
    join_fields,
    normalize,
    parse_rupiah,
)

__all__ = [
    "NAME",
    "Parsed",
    "TemplateRefused",
    "derive_template",
    "read_with_template",
    "shown_text",
    "template_example",
]

NAME = "taught"
VERSION = 1
# Letters of literal text (outside the amount, the name and the currency mark) a template needs
# to be specific: "Masuk Rp…" has five; "Rp…" alone, or a name and an amount, have none.
MIN_LITERAL_LETTERS = 5
MAX_SENDER_CHARS = 80

# The amount as the rupiah reader knows it: an optional currency mark, digits whose separators
# are followed by a digit (a sentence's closing "." stays outside), an optional ",-".
_AMOUNT = r"(?:(?:Rp\.?|IDR)[ \t]*)?[0-9](?:[0-9]|[.,](?=[0-9]))*(?:,-)?"
_AMOUNT_ONLY = re.compile(_AMOUNT, FLAGS)
# In a template, the amount is a whole number: never the tail or the head of longer digits
# (a reference "12325.000" must not read as Rp25.000 after a literal "123" took its start).
_AMOUNT_SLOT = rf"(?<![0-9])(?<![0-9][.,])(?P<amount>{_AMOUNT})(?![0-9]|[.,][0-9])"
_CURRENCY = re.compile(r"^(?:Rp\.?|IDR)", FLAGS)
_DIGITS = re.compile(r"[0-9]+")
_LETTER_WORDS = re.compile(r"[A-Za-z]+")


class TemplateRefused(ValueError):
    """Why a marked notification cannot become a template; `code` names the reason for UIs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def shown_text(title: object, message: object) -> str:
    """The notification as the inbox shows it, which marked spans count in (code points): the
    title, a line break, the message. Either alone when the other is empty."""
    return join_fields(_as_text(title), _as_text(message))


def _as_text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _amount_value(token: str) -> int | None:
    """A marked or matched amount's whole-rupiah value, by the parsers' rules."""
    token = token.strip()
    if not _CURRENCY.match(token):
        token = "Rp" + token
    return parse_rupiah(token)


def _span(text: str, span: object, what: str) -> tuple[int, int]:
    if (not isinstance(span, (tuple, list)) or len(span) != 2
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in span)):
        raise TemplateRefused("bad_span", f"Mark the {what} as a start and an end position")
    start, end = span
    if not 0 <= start < end <= len(text):
        raise TemplateRefused("bad_span", f"The marked {what} is outside the notification's text")
    # Whitespace at the edges of a selection is not part of what was meant.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        raise TemplateRefused("bad_span", f"The marked {what} is empty")
    return start, end


def derive_template(title: object, message: object, amount_span: object,
                    sender_span: object = None) -> dict[str, Any]:
    """A template from a notification with its amount (and maybe its payer) marked: spans are
    (start, end) positions in `shown_text(title, message)`. Raises TemplateRefused with a
    reason a shop owner understands when the text or the marks cannot make a safe template."""
    text = shown_text(title, message)
    if not text.strip():
        raise TemplateRefused("empty", "The notification has no text to learn from")
    if len(text) > MAX_CHARS:
        raise TemplateRefused("too_long", "The notification is too long to learn from")
    if is_noise(normalize(_as_text(title)) + "\n" + normalize(_as_text(message))):
        raise TemplateRefused(
            "noise", "This text reads as money going out, a promo, a code, a bill or a failed"
                     " payment: WebQRIS never reads such a text as a payment")
    a_start, a_end = _span(text, amount_span, "amount")
    marked = text[a_start:a_end]
    if _AMOUNT_ONLY.fullmatch(marked) is None or _cut_number(text, a_start, a_end):
        raise TemplateRefused("not_an_amount",
                              f"{marked[:40]!r} is not a whole amount: mark all of its digits")
    if text[a_start - 1:a_start] in ("-", "\u2212"):
        raise TemplateRefused("noise", "A minus sign before the amount means money going out")
    amount = _amount_value(marked)
    if amount is None:
        raise TemplateRefused("not_an_amount",
                              f"{marked[:40]!r} is not a whole rupiah amount (cents, or not a"
                              " number)")
    # A currency mark the owner marked with the number belongs to the wording: the next
    # notification must carry it too.
    currency = _CURRENCY.match(marked)
    if currency is not None:
        a_start += currency.end()
        while text[a_start] in " \t":
            a_start += 1
    slots = [(a_start, a_end, "amount")]
    sender_name = None
    if sender_span is not None:
        s_start, s_end = _span(text, sender_span, "name")
        if s_start < a_end and a_start < s_end:
            raise TemplateRefused("overlap", "The name and the amount overlap")
        if s_end - s_start > MAX_SENDER_CHARS or "\n" in text[s_start:s_end]:
            raise TemplateRefused("bad_sender", "Mark only the payer's name (one line)")
        sender_name = clean_sender(normalize(text[s_start:s_end]))
        if sender_name is None:
            raise TemplateRefused("bad_sender",
                                  f"{text[s_start:s_end][:40]!r} does not read as a payer's name")
        slots.append((s_start, s_end, "sender"))
    slots.sort()
    parts: list[dict[str, str]] = []
    position = 0
    for start, end, slot in slots:
        if text[position:start]:
            parts.append({"text": text[position:start]})
        parts.append({"slot": slot})
        position = end
    if text[position:]:
        parts.append({"text": text[position:]})
    template = {"version": VERSION, "parts": [_normalized_part(p) for p in parts]}
    letters = sum(len(word) for part in template["parts"] if "text" in part
                  for word in _LETTER_WORDS.findall(part["text"])
                  if word.lower() not in ("rp", "idr"))
    if letters < MIN_LITERAL_LETTERS:
        raise TemplateRefused("not_specific",
                              "Too little text besides the amount and the name: such a template"
                              " would read almost anything")
    found = read_with_template(template, title, message)
    if found is None or found.amount != amount or found.sender_name != sender_name:
        raise TemplateRefused("does_not_read",
                              "This marking does not read back the same amount and name")
    return template


def _cut_number(text: str, start: int, end: int) -> bool:
    """True when the marked span starts or ends inside a longer number or word."""
    before, after = text[start - 1:start], text[end:end + 1]
    return (before.isalnum() or after.isalnum()
            or (before in (".", ",") and text[start - 2:start - 1].isdigit())
            or (after in (".", ",") and text[end + 1:end + 2].isdigit()))


def _normalized_part(part: dict[str, str]) -> dict[str, str]:
    if "text" not in part:
        return part
    # An edge that had whitespace keeps one space, so the wording reads well (template_example).
    raw = part["text"]
    inner = normalize(raw)
    lead = " " if raw[:1].isspace() and inner else ""
    tail = " " if raw[-1:].isspace() and inner else ""
    return {"text": lead + inner + tail if inner else " "}


def _literal_pattern(text: str) -> str:
    """Literal text as a pattern: any whitespace for whitespace, any digits for digits."""
    out = []
    for token in re.split(r"(\s+|[0-9]+)", text):
        if not token:
            continue
        if token.isspace():
            out.append(r"\s+")
        elif _DIGITS.fullmatch(token):
            out.append("[0-9]+")
        else:
            out.append(re.escape(token))
    return "".join(out)


def _compile(template: object) -> re.Pattern[str] | None:
    """The template's pattern, or None for anything that is not a well-formed template."""
    if not isinstance(template, dict) or template.get("version") != VERSION:
        return None
    parts = template.get("parts")
    if not isinstance(parts, list) or not 1 <= len(parts) <= 5:
        return None
    try:
        key = json.dumps(parts, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return _compile_parts(key)


@functools.lru_cache(maxsize=1024)
def _compile_parts(key: str) -> re.Pattern[str] | None:
    pieces: list[str] = []
    slots: list[str] = []
    for part in json.loads(key):
        if not isinstance(part, dict) or len(part) != 1:
            return None
        if "slot" in part and part["slot"] in ("amount", "sender") and part["slot"] not in slots:
            slots.append(part["slot"])
            pieces.append(_AMOUNT_SLOT if part["slot"] == "amount"
                          else rf"(?P<sender>[^\n]{{1,{MAX_SENDER_CHARS}}}?)")
        elif isinstance(part.get("text"), str) and 0 < len(part["text"]) <= MAX_CHARS:
            # Whitespace next to a placeholder may be there or not ("Rp 5.000" / "Rp5.000").
            pieces.append(r"\s*" + _literal_pattern(part["text"].strip()) + r"\s*")
        else:
            return None
    if "amount" not in slots:
        return None
    return re.compile("".join(pieces), FLAGS)


def read_with_template(template: object, title: object, message: object) -> Parsed | None:
    """The payment a notification reports, read with a taught template, or None. Never raises:
    a malformed template, a text that does not match it whole, or a text the noise filter
    refuses all give None."""
    try:
        pattern = _compile(template)
        if pattern is None:
            return None
        title_text, message_text = normalize(title), normalize(message)
        text = join_fields(title_text, message_text)
        if not text or len(text) > MAX_CHARS or is_noise(text):
            return None
        m = pattern.fullmatch(text)
        if m is None:
            return None
        amount = _amount_value(m.group("amount"))
        if amount is None or text[m.start("amount") - 1:m.start("amount")] in ("-", "\u2212"):
            return None
        sender = m.groupdict().get("sender")
        return Parsed(amount, clean_sender(sender) if sender else None, NAME)
    except Exception:  # a template bug must never become a 500 or a false payment
        return None


def template_example(template: object) -> str | None:
    """The template as a person reads it: its literal text with [amount] and [name] marks."""
    if _compile(template) is None:
        return None
    assert isinstance(template, dict)
    words = {"amount": "[amount]", "sender": "[name]"}
    return "".join(words[p["slot"]] if "slot" in p else p["text"]
                   for p in template["parts"]).strip()
