"""QRIS payload codec: read a shop's static QRIS, build the dynamic one for an invoice.

A QRIS is an EMVCo Merchant-Presented-Mode payload: a flat run of TLV data objects
(2-digit tag, 2-digit length counted in characters, value), starting with tag 00 and
ending with tag 63, the CRC-16/CCITT-FALSE of the UTF-8 bytes of everything before the
CRC value (``...6304``). A wrong payload means the customer cannot pay, or pays the
wrong amount, so this module walks the TLV structure and re-encodes tags; it never
searches or replaces substrings (a merchant id may well contain "6304", "5802ID" or
"010211"). Every refusal is a ``QrisError`` whose text a shop owner can act on.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "QrisError",
    "QrisPayload",
    "crc16_ccitt_false",
    "decode",
    "describe",
    "encode",
    "make_dynamic",
    "parse_tlv",
    "validate_static",
]

MAX_AMOUNT = 9_999_999_999_999  # tag 54 holds at most 13 characters
_FEE_AND_AMOUNT_TAGS = frozenset({"54", "55", "56", "57"})
_AMOUNT_RE = re.compile(r"([0-9]+)(?:\.([0-9]*))?")
_QRIS_GUID = "ID.CO.QRIS.WWW"
_RESCAN = "Scan the sticker again and copy the whole QRIS text."


class QrisError(ValueError):
    """A QRIS that cannot be used. ``str(err)`` is the message for the shop owner; ``code``
    names the problem and ``details`` hold its values, so a screen can word it in the shop
    owner's language (the dashboard does, in Indonesian)."""

    def __init__(self, message: str, code: str, **details: str) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


def _short(value: str) -> str:
    """A value quoted for an error message, cut so junk input cannot flood it."""
    return repr(value if len(value) <= 24 else value[:24] + "…")


def _is_digits(text: str) -> bool:
    # str.isdigit() alone accepts "²" and "٣"; EMV lengths and tags are ASCII digits.
    return text.isascii() and text.isdigit()


# --------------------------------------------------------------------------------------
# CRC and TLV structure
# --------------------------------------------------------------------------------------


def crc16_ccitt_false(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout) as 4 hex.

    ``binascii.crc_hqx`` is exactly this polynomial without reflection; seeding it with
    0xFFFF gives the CCITT-FALSE variant, in C. Always 4 digits: a CRC below 0x1000
    keeps its leading zero (a classic converter bug drops it).
    """
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def parse_tlv(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into (tag, value) pairs, checking structure only."""
    items: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while pos < end:
        if end - pos < 4:
            raise QrisError(
                f"This QRIS is damaged: it is cut off at character {pos + 1}. {_RESCAN}",
                "cut_off", position=str(pos + 1),
            )
        tag, length = text[pos : pos + 2], text[pos + 2 : pos + 4]
        if not _is_digits(tag):
            raise QrisError(
                f"This QRIS is damaged or is not a QRIS: {_short(tag)} at character "
                f"{pos + 1} is not a field number. {_RESCAN}",
                "bad_field_number", value=_short(tag), position=str(pos + 1),
            )
        if not _is_digits(length):
            raise QrisError(
                f"This QRIS is damaged or is not a QRIS: the length of field {tag} "
                f"({_short(length)}) is not a number. {_RESCAN}",
                "bad_field_length", field=tag, value=_short(length),
            )
        start, stop = pos + 4, pos + 4 + int(length)
        if stop > end:
            raise QrisError(
                f"This QRIS is damaged: field {tag} is cut off before its end. {_RESCAN}",
                "field_cut_off", field=tag,
            )
        items.append((tag, text[start:stop]))
        pos = stop
    return items


def encode(tags: Iterable[tuple[str, str]]) -> str:
    """Serialise ``tags`` in the given order (any tag 63 dropped) and append 6304 + CRC."""
    parts: list[str] = []
    for tag, value in tags:
        if tag == "63":
            continue
        if len(tag) != 2 or not _is_digits(tag):
            raise QrisError(
                f"Cannot build a QRIS: {_short(tag)} is not a field number. "
                "Use two digits, like 59.",
                "cannot_build",
            )
        if len(value) > 99:
            raise QrisError(
                f"Cannot build a QRIS: field {tag} is longer than 99 characters. Shorten it.",
                "cannot_build",
            )
        parts.append(f"{tag}{len(value):02d}{value}")
    parts.append("6304")
    body = "".join(parts)
    return body + crc16_ccitt_false(body.encode("utf-8"))


# --------------------------------------------------------------------------------------
# The parsed payload
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QrisPayload:
    """A decoded QRIS: top-level (tag, value) pairs in payload order, including 63."""

    tags: tuple[tuple[str, str], ...]

    def get(self, tag: str) -> str | None:
        for key, value in self.tags:
            if key == tag:
                return value
        return None

    @property
    def merchant_name(self) -> str | None:
        return self.get("59")

    @property
    def merchant_city(self) -> str | None:
        return self.get("60")

    @property
    def is_dynamic(self) -> bool:
        return self.get("01") == "12"

    @property
    def amount(self) -> int | None:
        """Tag 54 as whole rupiah ("25042" or "25042.00"); None if absent or not whole."""
        value = self.get("54")
        match = _AMOUNT_RE.fullmatch(value) if value is not None else None
        if match is None or (match[2] and match[2].strip("0")):
            return None
        return int(match[1])

    @property
    def nmid(self) -> str | None:
        """Subtag 02 (the National Merchant ID) of the ID.CO.QRIS.WWW template."""
        for tag, value in self.tags:
            if "26" <= tag <= "51":
                sub = dict(_try_parse(value) or ())
                if sub.get("00") == _QRIS_GUID:
                    return sub.get("02")
        return None


def _try_parse(value: str) -> list[tuple[str, str]] | None:
    try:
        return parse_tlv(value)
    except QrisError:
        return None


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def decode(payload: str) -> QrisPayload:
    """Parse and check structure and CRC. Dynamic payloads are accepted here."""
    if not isinstance(payload, str):
        raise QrisError("A QRIS must be text. Paste the text read from your QRIS sticker.",
                        "not_text")
    text = payload.strip()
    if not text:
        raise QrisError("The QRIS is empty. Paste the text read from your QRIS sticker.",
                        "empty")
    items = parse_tlv(text)
    if items[0] != ("00", "01"):
        raise QrisError(
            "This is not a QRIS: a QRIS text starts with 000201. Scan your QRIS sticker "
            "with a QR reader and paste the text it shows.",
            "not_qris",
        )
    last_tag, crc = items[-1]
    if last_tag != "63" or len(crc) != 4:
        raise QrisError(
            "This QRIS is incomplete: the checksum at its end (6304 and 4 characters) "
            f"is missing. {_RESCAN}",
            "no_checksum",
        )
    seen: set[str] = set()
    for tag, _ in items:
        if tag in seen:
            raise QrisError(f"This QRIS is damaged: field {tag} appears twice. {_RESCAN}",
                            "field_twice", field=tag)
        seen.add(tag)
    try:
        data = text[:-4].encode("utf-8")
    except UnicodeEncodeError:
        raise QrisError(
            f"This QRIS contains characters that cannot be part of a QRIS. {_RESCAN}",
            "bad_characters",
        ) from None
    expected = crc16_ccitt_false(data)
    if crc.upper() != expected:
        raise QrisError(
            f"This QRIS is damaged: its checksum does not match ({_short(crc)} written, "
            f"{expected} computed). {_RESCAN}",
            "checksum_mismatch", written=_short(crc), computed=expected,
        )
    return QrisPayload(tuple(items))


@lru_cache(maxsize=256)
def validate_static(payload: str) -> QrisPayload:
    """Decode a shop's static QRIS and refuse one that cannot be made dynamic."""
    qris = decode(payload)
    point = qris.get("01")
    if point == "12":
        raise QrisError(
            "This QRIS is already dynamic (made for one payment with a fixed amount). "
            "Register the static QRIS printed on your shop's sticker instead.",
            "already_dynamic",
        )
    if point not in (None, "11"):
        raise QrisError(
            f"This QRIS has an unknown type (field 01 is {_short(point)}, a static QRIS "
            "has 11). Register the static QRIS printed on your shop's sticker.",
            "unknown_type", value=_short(point),
        )
    currency, country = qris.get("53"), qris.get("58")
    if currency != "360":
        raise QrisError(
            f"This QRIS is not for Indonesian rupiah (currency {_short(currency or '')}, "
            "expected 360). Use the QRIS sticker of your Indonesian shop.",
            "not_rupiah", value=_short(currency or ""),
        )
    if country != "ID":
        raise QrisError(
            f"This QRIS is not from Indonesia (country {_short(country or '')}, expected "
            "ID). Use the QRIS sticker of your Indonesian shop.",
            "not_indonesia", value=_short(country or ""),
        )
    name = qris.merchant_name
    if name is None or not name.strip():
        raise QrisError(
            "This QRIS has no merchant name, so customers cannot see who they pay. "
            "Ask your bank or QRIS provider for a complete static QRIS.",
            "no_merchant_name",
        )
    return qris


# --------------------------------------------------------------------------------------
# Static -> dynamic
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _dynamic_parts(static_payload: str) -> tuple[str, str]:
    """The dynamic payload around tag 54: (tags before it, tags after it without 63)."""
    kept: list[tuple[str, str]] = []
    for tag, value in validate_static(static_payload).tags:
        if tag == "01":
            value = "12"
        if tag not in _FEE_AND_AMOUNT_TAGS and tag != "63":
            kept.append((tag, value))
    if all(tag != "01" for tag, _ in kept):  # EMV makes 01 optional: add it after 00
        kept.insert(1, ("01", "12"))
    # 54 goes after the last tag numbered below it, i.e. after 53 (which is mandatory).
    cut = max(i for i, (tag, _) in enumerate(kept) if tag < "54") + 1

    def serialise(items: list[tuple[str, str]]) -> str:
        return "".join(f"{tag}{len(value):02d}{value}" for tag, value in items)

    return serialise(kept[:cut]), serialise(kept[cut:])


def make_dynamic(static_payload: str, amount: int) -> str:
    """The dynamic QRIS for ``amount`` whole rupiah (1 to 13 digits)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise QrisError(
            "The amount must be a whole number of rupiah. Enter it without dots or "
            "decimals, like 25042.",
            "amount_not_whole",
        )
    if amount <= 0:
        raise QrisError("The amount must be more than 0 rupiah. Enter the price to pay.",
                        "amount_not_positive")
    if amount > MAX_AMOUNT:
        raise QrisError(
            "The amount is too large for a QRIS (at most 13 digits). Enter a smaller amount.",
            "amount_too_large",
        )
    head, tail = _dynamic_parts(static_payload)
    digits = str(amount)
    body = f"{head}54{len(digits):02d}{digits}{tail}6304"
    return body + crc16_ccitt_false(body.encode("utf-8"))


# --------------------------------------------------------------------------------------
# Human-readable view (`webqris qris decode`)
# --------------------------------------------------------------------------------------

_TAG_NAMES = {
    "00": "Payload Format Indicator",
    "01": "Point of Initiation Method",
    "52": "Merchant Category Code",
    "53": "Transaction Currency",
    "54": "Transaction Amount",
    "55": "Tip or Convenience Indicator",
    "56": "Value of Convenience Fee Fixed",
    "57": "Value of Convenience Fee Percentage",
    "58": "Country Code",
    "59": "Merchant Name",
    "60": "Merchant City",
    "61": "Postal Code",
    "62": "Additional Data Field Template",
    "63": "CRC",
    "64": "Merchant Information - Language Template",
}
_ACCOUNT_SUBTAGS = {
    "00": "Globally Unique Identifier",
    "01": "Merchant PAN",
    "02": "Merchant ID",
    "03": "Merchant Criteria",
}
_ADDITIONAL_SUBTAGS = {
    "01": "Bill Number",
    "02": "Mobile Number",
    "03": "Store Label",
    "04": "Loyalty Number",
    "05": "Reference Label",
    "06": "Customer Label",
    "07": "Terminal Label",
    "08": "Purpose of Transaction",
    "09": "Additional Consumer Data Request",
    "10": "Merchant Tax ID",
    "11": "Merchant Channel",
}
_LANGUAGE_SUBTAGS = {
    "00": "Language Preference",
    "01": "Merchant Name - Alternate Language",
    "02": "Merchant City - Alternate Language",
}


def _tag_name(tag: str) -> str:
    if tag in _TAG_NAMES:
        return _TAG_NAMES[tag]
    if "02" <= tag <= "25":
        return "Merchant Account Information (card networks)"
    if "26" <= tag <= "51":
        return "Merchant Account Information"
    if "65" <= tag <= "79":
        return "Reserved for EMVCo"
    return "Unreserved Template"


def _subtag_names(tag: str) -> dict[str, str] | None:
    if "26" <= tag <= "51":
        return _ACCOUNT_SUBTAGS
    if tag == "62":
        return _ADDITIONAL_SUBTAGS
    if tag == "64":
        return _LANGUAGE_SUBTAGS
    return None


def describe(payload: str) -> dict[str, Any]:
    """A JSON-ready view of ``payload``; {"valid": False, "error": msg} when unusable."""
    try:
        qris = decode(payload)
    except QrisError as err:
        return {"valid": False, "error": str(err)}
    rows: list[dict[str, Any]] = []
    for tag, value in qris.tags:
        row: dict[str, Any] = {"tag": tag, "value": value, "name": _tag_name(tag)}
        names = _subtag_names(tag)
        if names is not None:
            sub = _try_parse(value)
            row["subtags"] = (
                None
                if sub is None
                else [{"tag": t, "value": v, "name": names.get(t, "")} for t, v in sub]
            )
        rows.append(row)
    return {
        "valid": True,
        "dynamic": qris.is_dynamic,
        "merchant_name": qris.merchant_name,
        "merchant_city": qris.merchant_city,
        "amount": qris.amount,
        "nmid": qris.nmid,
        "tags": rows,
    }
