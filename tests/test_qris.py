"""Tests for parsers/qris.py: the static -> dynamic QRIS codec.

Public vectors live in tests/corpus/qris-vectors.json (each with its source). The CRC is
checked against an independent bitwise implementation, and the classic bugs of public
converters (verssache/qris-dinamis and its many ports) are reproduced by a port of that
algorithm so each regression test shows the input really triggers the bug.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parsers.qris import (
    QrisError,
    QrisPayload,
    crc16_ccitt_false,
    decode,
    describe,
    encode,
    make_dynamic,
    parse_tlv,
    validate_static,
)

CORPUS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "corpus" / "qris-vectors.json").read_text(encoding="utf-8")
)
STATIC_VECTORS = CORPUS["static"]
WARUNG = STATIC_VECTORS[0]["payload"]  # verssache/qris-dinamis
FEE_TAGS = {"54", "55", "56", "57"}
ACTION_WORDS = ("Scan", "Paste", "Register", "Use", "Ask", "Enter", "Shorten")


def crc_reference(data: bytes) -> str:
    """Bit-by-bit CRC-16/CCITT-FALSE, independent of the codec's binascii one."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def crc_is_valid(payload: str) -> bool:
    return payload[-8:-4] == "6304" and crc_reference(payload[:-4].encode()) == payload[-4:]


def naive_converter(static: str, amount: int) -> str:
    """Port of verssache/qris-dinamis qris.php, bugs included (copied by many converters)."""
    body = static[:-4].replace("010211", "010212")  # str_replace: every occurrence
    parts = body.split("5802ID")  # explode; PHP then uses parts [0] and [1] only
    fix = parts[0] + f"54{len(str(amount)):02d}{amount}" + "5802ID" + parts[1]
    crc = crc_reference(fix.encode()).lstrip("0") or "0"  # dechex() drops leading zeros
    if len(crc) == 3:  # ... and only a 3-digit result is padded
        crc = "0" + crc
    return fix + crc


# A value from the payload, quoted in a message (an apostrophe inside a word is not a quote).
QUOTED_VALUE = re.compile(r"(?<![A-Za-z])'[^']*'(?![A-Za-z])" + r'|"[^"]*"')


def assert_human(err: QrisError) -> None:
    msg = str(err)
    assert msg[:1].isupper() and msg.endswith("."), msg
    assert "\n" not in msg, msg
    # What the payload itself said may read like anything; our own words may not.
    ours = QUOTED_VALUE.sub("…", msg)
    assert "Traceback" not in ours and "Error" not in ours, msg
    assert "None" not in ours and "int(" not in ours and "index" not in ours, msg
    assert any(word in msg for word in ACTION_WORDS), f"no advice in: {msg}"


def refuse(func: Any, *args: Any, match: str) -> QrisError:
    with pytest.raises(QrisError, match=match) as info:
        func(*args)
    assert_human(info.value)
    return info.value


def static_from(**changes: str | None) -> str:
    """The Warung Sayur sticker with some top-level tags changed (None removes one)."""
    tags = [(t, v) for t, v in decode(WARUNG).tags if t != "63"]
    tags = [(t, changes.get(t, v)) for t, v in tags if changes.get(t, v) is not None]
    known = {t for t, _ in tags}
    extra = [(t, v) for t, v in changes.items() if t not in known and v is not None]
    return encode(sorted(tags + extra))


# --------------------------------------------------------------------------------------
# CRC
# --------------------------------------------------------------------------------------


def test_crc_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == "29B1"
    assert crc16_ccitt_false(CORPUS["crc_check"]["input"].encode()) == "29B1"


@pytest.mark.parametrize("vector", CORPUS["crc_vectors"], ids=lambda v: v["crc16_ccitt_false"])
def test_crc_public_vectors(vector: dict[str, str]) -> None:
    assert crc16_ccitt_false(vector["input"].encode()) == vector["crc16_ccitt_false"]


def test_crc_keeps_leading_zeros() -> None:
    # A constructed input whose CRC is below 0x1000, and one below 0x100 (public: 00D7).
    found = next(f"TOKO {i}" for i in range(100_000) if crc_reference(f"TOKO {i}".encode()) < "1")
    crc = crc16_ccitt_false(found.encode())
    assert len(crc) == 4 and crc[0] == "0" and crc == crc_reference(found.encode())
    duitnow = CORPUS["crc_vectors"][1]
    assert crc16_ccitt_false(duitnow["input"].encode()) == "00D7"
    assert crc16_ccitt_false(b"") == "FFFF"


@given(st.binary(max_size=300))
def test_crc_matches_bitwise_reference(data: bytes) -> None:
    assert crc16_ccitt_false(data) == crc_reference(data)


def test_crc_is_over_utf8_bytes() -> None:
    payload = static_from(**{"59": "Café Rémi"})
    assert payload[-4:] == crc_reference(payload[:-4].encode("utf-8"))
    assert payload[-4:] != crc_reference(payload[:-4].encode("latin-1"))
    assert ("59", "Café Rémi") in decode(payload).tags  # length 09 counts characters
    assert "5909Café Rémi" in payload


# --------------------------------------------------------------------------------------
# Public vectors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", STATIC_VECTORS, ids=lambda v: v["payload"][-4:])
def test_public_static_vectors(vector: dict[str, Any]) -> None:
    qris = validate_static(vector["payload"])
    assert not qris.is_dynamic and qris.amount is None and qris.merchant_name
    assert qris.tags[-1] == ("63", vector["payload"][-4:])
    assert vector["dynamic"], "every static vector carries at least one expected dynamic"
    for amount, expected in vector["dynamic"].items():
        assert make_dynamic(vector["payload"], int(amount)) == expected
        dynamic = decode(expected)
        assert dynamic.is_dynamic and dynamic.amount == int(amount)
        assert dynamic.merchant_name == qris.merchant_name and dynamic.nmid == qris.nmid
        assert crc_is_valid(expected)


@pytest.mark.parametrize("vector", CORPUS["public_dynamic"], ids=lambda v: v["payload"][-4:])
def test_public_dynamic_payloads_decode_but_are_not_static(vector: dict[str, Any]) -> None:
    qris = decode(vector["payload"])
    assert qris.is_dynamic and qris.amount == vector["amount"]
    assert {t: v for t, v in qris.tags if t in {"55", "56", "57"}} == vector["fee_tags"]
    refuse(validate_static, vector["payload"], match="already dynamic")


def test_public_dynamic_with_fee_differs_from_ours_only_by_the_fee() -> None:
    vector = CORPUS["public_dynamic"][0]  # GUREUM SHOP: Rp1.000 + 55=02, 56=500
    ours = decode(make_dynamic(vector["static_of"], 1000)).tags[:-1]
    theirs = decode(vector["payload"]).tags[:-1]
    assert ours == tuple((t, v) for t, v in theirs if t not in {"55", "56", "57"})


@pytest.mark.parametrize("vector", CORPUS["invalid"], ids=lambda v: v["reason"])
def test_public_invalid_payloads_are_refused(vector: dict[str, str]) -> None:
    words = {"checksum": "checksum", "structure": "damaged"}
    refuse(decode, vector["payload"], match=words[vector["reason"]])


def test_decoded_fields() -> None:
    qris = validate_static(WARUNG)
    assert isinstance(qris, QrisPayload)
    assert qris.merchant_name == "Warung Sayur Bu Sugeng"
    assert qris.merchant_city == "Kab. Demak"
    assert qris.nmid == "ID1020017611473"
    assert qris.get("53") == "360" and qris.get("99") is None
    assert [t for t, _ in qris.tags] == "00 01 26 51 52 53 58 59 60 61 63".split()
    with pytest.raises(AttributeError):
        qris.tags = ()  # type: ignore[misc]


def test_amount_property_reads_decimals_only_when_whole() -> None:
    def with_54(value: str) -> QrisPayload:
        return decode(static_from(**{"01": "12", "54": value}))

    assert with_54("25042").amount == 25042
    assert with_54("39000.00").amount == 39000
    assert with_54("39000.").amount == 39000
    assert with_54("39000.50").amount is None
    assert with_54("1e5").amount is None
    assert with_54("٣").amount is None  # Arabic-Indic digit: int() would accept it


# --------------------------------------------------------------------------------------
# Building the dynamic payload
# --------------------------------------------------------------------------------------


def expected_dynamic_tags(tags: list[tuple[str, str]], amount: int) -> list[tuple[str, str]]:
    """The contract, written independently of the codec."""
    out = [(t, "12" if t == "01" else v) for t, v in tags if t not in FEE_TAGS | {"63"}]
    if "01" not in dict(out):
        out.insert(1, ("01", "12"))
    last_below = max(i for i, (t, _) in enumerate(out) if int(t) < 54)
    out.insert(last_below + 1, ("54", str(amount)))
    return out


def test_fee_tags_removed_and_existing_amount_replaced() -> None:
    static = static_from(**{"54": "5000", "55": "02", "56": "500", "57": "1.5"})
    qris = validate_static(static)
    assert qris.amount == 5000
    dynamic = decode(make_dynamic(static, 7000))
    tags = [t for t, _ in dynamic.tags]
    assert tags.count("54") == 1 and not {"55", "56", "57"} & set(tags)
    assert dynamic.amount == 7000
    assert tags == "00 01 26 51 52 53 54 58 59 60 61 63".split()


def test_tip_prompt_tag_removed() -> None:
    dynamic = decode(make_dynamic(static_from(**{"55": "01"}), 10_000))
    assert dynamic.get("55") is None and dynamic.amount == 10_000


def test_amount_goes_after_53_even_when_tags_are_out_of_order() -> None:
    # Public LinkAja dynamic (astrapay/spring-qris) has 53, 55, 54 after 62; make it static.
    public = decode(CORPUS["public_dynamic"][2]["payload"])
    static = encode((t, "11" if t == "01" else v) for t, v in public.tags if t not in FEE_TAGS)
    dynamic = decode(make_dynamic(static, 300_000))
    order = [t for t, _ in dynamic.tags]
    assert order == "00 01 26 51 52 58 59 60 61 62 53 54 63".split()
    naive_order = [t for t, _ in parse_tlv(naive_converter(static, 300_000))]
    assert naive_order.index("54") < naive_order.index("53")  # "before 5802ID" is wrong here


def test_missing_point_of_initiation_is_inserted() -> None:
    static = static_from(**{"01": None})
    assert validate_static(static).get("01") is None
    dynamic = decode(make_dynamic(static, 5))
    assert dynamic.tags[:2] == (("00", "01"), ("01", "12"))


def test_whitespace_is_stripped() -> None:
    expected = make_dynamic(WARUNG, 25042)
    assert make_dynamic(f"  \n\t{WARUNG}\r\n ", 25042) == expected
    assert decode(f" {WARUNG}\n").tags == decode(WARUNG).tags
    assert validate_static(f"\t{WARUNG}  ").tags == decode(WARUNG).tags


def test_lowercase_crc_accepted_but_output_is_uppercase() -> None:
    static = STATIC_VECTORS[1]["payload"]  # CRC 455C
    lower = static[:-4] + static[-4:].lower()
    assert validate_static(lower).tags[:-1] == validate_static(static).tags[:-1]
    dynamic = make_dynamic(lower, 1000)
    assert dynamic[-4:] == dynamic[-4:].upper() and crc_is_valid(dynamic)


@pytest.mark.parametrize("amount", [1, 9, 10, 25_042, 10_000_000, 9_999_999_999_999])
def test_amount_bounds_accepted(amount: int) -> None:
    payload = make_dynamic(WARUNG, amount)
    assert decode(payload).amount == amount
    assert f"54{len(str(amount)):02d}{amount}5802ID" in payload


@pytest.mark.parametrize(
    "amount",
    [0, -1, -25_042, 10**13, True, False, 1.0, 2.5, "25042", None, float("nan")],
    ids=repr,
)
def test_bad_amounts_refused(amount: Any) -> None:
    refuse(make_dynamic, WARUNG, amount, match="amount")


def test_validate_static_is_cached_and_immutable() -> None:
    first = validate_static(WARUNG)
    assert validate_static(WARUNG) is first
    assert validate_static.cache_info().maxsize == 256
    assert isinstance(first.tags, tuple) and all(isinstance(p, tuple) for p in first.tags)


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        (WARUNG[:60], "cut off"),
        (WARUNG[:-2], "cut off"),
        ("000201010211590AWarung", "not a number"),
        ("0002010102115910Warung", "cut off"),
        ("00020101١١116304ABCD", "not a number"),  # Unicode digits are not lengths
        ("0002010X0211", "not a field number"),
        ("https://example.com/pay?id=5802ID6304", "not a QRIS"),
        (WARUNG[:-8], "checksum at its end"),
        (WARUNG[:-8] + "6303ABC", "checksum at its end"),
        (WARUNG.replace("Bu Sugeng", "Bu Sugenk"), "checksum does not match"),
        (WARUNG[:-4] + "58C8", "checksum does not match"),
        (WARUNG[:-4] + "ZZZZ", "checksum does not match"),
        (
            encode([("01", "11"), ("00", "01"), ("53", "360"), ("58", "ID"), ("59", "X")]),
            "starts with 000201",
        ),
        (
            encode([("00", "02"), ("01", "11"), ("53", "360"), ("58", "ID"), ("59", "X")]),
            "starts with 000201",
        ),
        (
            encode([("00", "01"), ("59", "A"), ("59", "B"), ("53", "360"), ("58", "ID")]),
            "appears twice",
        ),
        ("00020101021163040000" + "5802ID", "checksum at its end"),
        ("0002010102\ud800" + "6304ABCD", "cut off|not a number|cannot be part"),
    ],
    ids=lambda x: x[:30] if isinstance(x, str) else x,
)
def test_broken_payloads_refused(payload: str, match: str) -> None:
    refuse(decode, payload, match=match)
    refuse(validate_static, payload, match=match)
    refuse(make_dynamic, payload, 1000, match=match)


def test_non_text_refused() -> None:
    refuse(decode, None, match="must be text")
    refuse(decode, WARUNG.encode(), match="must be text")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"01": "12"}, "already dynamic"),
        ({"01": "13"}, "unknown type"),
        ({"53": "840"}, "rupiah"),
        ({"53": None}, "rupiah"),
        ({"58": "MY"}, "not from Indonesia"),
        ({"58": None}, "not from Indonesia"),
        ({"59": None}, "no merchant name"),
        ({"59": "   "}, "no merchant name"),
    ],
    ids=str,
)
def test_static_rules_refused(changes: dict[str, str | None], match: str) -> None:
    payload = static_from(**changes)
    decode(payload)  # structurally fine, CRC fine: decode accepts it
    refuse(validate_static, payload, match=match)
    refuse(make_dynamic, payload, 25_042, match=match)


def test_encode_refuses_what_it_cannot_write() -> None:
    refuse(encode, [("00", "01"), ("5", "x")], match="field number")
    refuse(encode, [("00", "01"), ("62", "x" * 100)], match="longer than 99")
    assert encode([("00", "01"), ("63", "FFFF")]) == encode([("00", "01")])


# --------------------------------------------------------------------------------------
# Bugs of public converters, as regressions
# --------------------------------------------------------------------------------------


def test_regression_crc_not_zero_padded() -> None:
    # An amount whose dynamic CRC is below 0x100: verssache pads only a 3-digit CRC.
    amount = next(a for a in range(1, 200_000) if make_dynamic(WARUNG, a)[-4:-2] == "00")
    ours = make_dynamic(WARUNG, amount)
    assert ours[-8:-4] == "6304" and crc_is_valid(ours) and decode(ours).amount == amount
    naive = naive_converter(WARUNG, amount)
    assert naive == ours[:-4] + ours[-2:]  # "00xx" came out as "xx"
    refuse(decode, naive, match="cut off|checksum")


def test_regression_replace_all_010211() -> None:
    # A merchant PAN containing "010211": only tag 01 may change.
    account = "0011ID.DANA.WWW011893600915010211148102090225914810303UMI"
    static = static_from(**{"26": account})
    dynamic = decode(make_dynamic(static, 25_042))
    assert dynamic.get("26") == account and dynamic.get("01") == "12"
    naive = decode(naive_converter(static, 25_042))  # well-formed, but pays someone else
    assert naive.get("26") == account.replace("010211", "010212") != account


def test_regression_amount_before_first_5802ID() -> None:
    # A value containing "5802ID" before tag 58: 54 must go after 53, not inside that value.
    account = "0011ID.DANA.WWW01185802ID0225914810303UMI"
    static = static_from(**{"26": account})
    dynamic = decode(make_dynamic(static, 25_042))
    assert dynamic.get("26") == account
    assert [t for t, _ in dynamic.tags].index("54") == [t for t, _ in dynamic.tags].index("53") + 1
    naive = naive_converter(static, 25_042)  # inserts 54 inside tag 26, drops 59 onwards
    assert "5802ID5922Warung" not in naive
    with pytest.raises(QrisError):
        decode(naive)


@pytest.mark.parametrize("trap", ["6304", "6304ABCD", "5802ID", "010211", "63041234 5802ID"])
def test_values_with_marker_strings(trap: str) -> None:
    static = static_from(**{"59": f"TOKO {trap}", "62": f"0708{trap[:8]:<8}"})
    qris = validate_static(static)
    assert qris.merchant_name == f"TOKO {trap}"
    dynamic = decode(make_dynamic(static, 12_345))
    assert dynamic.merchant_name == f"TOKO {trap}" and dynamic.get("62") == qris.get("62")
    assert dynamic.amount == 12_345


# --------------------------------------------------------------------------------------
# describe()
# --------------------------------------------------------------------------------------


def test_describe() -> None:
    info = describe(STATIC_VECTORS[0]["dynamic"]["25042"])
    assert info["valid"] is True and info["dynamic"] is True and info["amount"] == 25_042
    assert info["merchant_name"] == "Warung Sayur Bu Sugeng" and info["nmid"] == "ID1020017611473"
    rows = {row["tag"]: row for row in info["tags"]}
    assert rows["00"]["name"] == "Payload Format Indicator"
    assert rows["54"]["name"] == "Transaction Amount"
    assert rows["51"]["subtags"][1] == {
        "tag": "02",
        "value": "ID1020017611473",
        "name": "Merchant ID",
    }
    assert "subtags" not in rows["59"]
    assert json.loads(json.dumps(info)) == info
    with_62 = describe(STATIC_VECTORS[1]["payload"])
    assert with_62["tags"][-2]["subtags"] == [
        {"tag": "07", "value": "A01", "name": "Terminal Label"}
    ]
    bad = describe("hello")
    assert bad["valid"] is False and "QRIS" in bad["error"]


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

TEXT = st.characters(codec="utf-8", exclude_characters="\x00")
TRAPS = st.sampled_from(["6304", "5802ID", "010211", "010212", "540510000", "5502025603500"])


def values(min_size: int = 1) -> st.SearchStrategy[str]:
    pieces = st.lists(st.one_of(TRAPS, st.text(TEXT, min_size=1, max_size=12)), max_size=8)
    return pieces.map("".join).map(lambda s: s[:99]).filter(lambda s: len(s) >= min_size)


@st.composite
def static_tag_lists(draw: st.DrawFn) -> list[tuple[str, str]]:
    tags = [("00", "01")]
    if draw(st.booleans()):
        tags.append(("01", "11"))
    for number in sorted(draw(st.sets(st.integers(2, 51), max_size=4))):
        tags.append((f"{number:02d}", draw(values())))
    tags.append(("52", draw(st.from_regex(r"[0-9]{4}", fullmatch=True))))
    tags.append(("53", "360"))
    for fee in sorted(draw(st.sets(st.sampled_from(sorted(FEE_TAGS))))):
        tags.append((fee, draw(st.from_regex(r"[0-9]{1,6}", fullmatch=True))))
    tags.append(("58", "ID"))
    tags.append(("59", draw(values().filter(str.strip))))
    for number in sorted(draw(st.sets(st.sampled_from([60, 61, 62, 64, 80, 99]), max_size=4))):
        tags.append((f"{number:02d}", draw(values())))
    return tags


AMOUNTS = st.integers(1, 9_999_999_999_999)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(static_tag_lists(), AMOUNTS)
def test_round_trip_static_to_dynamic(tags: list[tuple[str, str]], amount: int) -> None:
    static = encode(tags)
    assert decode(static).tags[:-1] == tuple(tags)
    dynamic = make_dynamic(static, amount)
    assert crc_is_valid(dynamic)
    parsed = decode(dynamic)
    assert parsed.is_dynamic and parsed.amount == amount
    assert list(parsed.tags[:-1]) == expected_dynamic_tags(tags, amount)


@settings(max_examples=200)
@given(static_tag_lists(), st.randoms(use_true_random=False), AMOUNTS)
def test_tag_order_is_kept_when_shuffled(
    tags: list[tuple[str, str]], rnd: Any, amount: int
) -> None:
    middle = tags[1:]
    rnd.shuffle(middle)
    shuffled = [tags[0], *middle]
    dynamic = decode(make_dynamic(encode(shuffled), amount))
    assert list(dynamic.tags[:-1]) == expected_dynamic_tags(shuffled, amount)


@given(
    st.lists(st.tuples(st.integers(1, 62).map("{:02d}".format), values(0)), max_size=12).map(
        lambda pairs: list(dict(pairs).items())
    )
)
def test_decode_encode_round_trip(pairs: list[tuple[str, str]]) -> None:
    tags = [("00", "01"), *[(t, v) for t, v in pairs if t != "00"]]
    payload = encode(tags)
    assert decode(payload).tags == (*tags, ("63", payload[-4:]))
    assert parse_tlv(payload)[:-1] == tags


# --------------------------------------------------------------------------------------
# Fuzz: nothing but QrisError escapes
# --------------------------------------------------------------------------------------


def only_qris_errors(payload: Any) -> None:
    for func in (decode, validate_static, describe):
        try:
            func(payload)
        except QrisError as err:
            assert_human(err)
        else:
            if func is decode:
                assert crc_is_valid(payload.strip())
    try:
        make_dynamic(payload, 1)
    except QrisError as err:
        assert_human(err)


@settings(max_examples=500)
@given(st.text())
def test_fuzz_any_text(text: str) -> None:
    only_qris_errors(text)


@settings(max_examples=500)
@given(
    st.sampled_from([v["payload"] for v in STATIC_VECTORS]),
    st.integers(0, 400),
    st.integers(0, 6),
    st.text(max_size=6),
)
def test_fuzz_mutated_stickers(payload: str, at: int, cut: int, insert: str) -> None:
    at %= len(payload) + 1
    only_qris_errors(payload[:at] + insert + payload[at + cut :])


@settings(max_examples=500)
@given(st.lists(st.tuples(st.text("0123456789", min_size=2, max_size=2), st.text(max_size=12))))
@example(pairs=[("01", "Error")])  # found by a longer run: the message quotes the value
@example(pairs=[("01", "None'x")])
def test_fuzz_tlv_shaped_with_valid_crc(pairs: list[tuple[str, str]]) -> None:
    body = "".join(f"{t}{len(v):02d}{v}" for t, v in pairs)
    body = "000201" + body + "6304"
    try:
        payload = body + crc_reference(body.encode())
    except UnicodeEncodeError:
        payload = body + "0000"
    only_qris_errors(payload)
