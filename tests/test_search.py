"""The dashboard at a long history: its searches find what they found before through indexes
kept in step with the invoices, the overview sums paid totals kept in the transaction that
pays, history-sized reads run off the event loop, and an older database is upgraded (its
search index filled in batches) with the server saying what it does meanwhile."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_admin
from conftest import ROOT, STATIC_QRIS, Merchant, add_merchant, start_server
from starlette.testclient import TestClient

import webqris

admin = test_admin.admin  # the logged-in dashboard client, a fixture
DAY = 86_400_000


def create(client: TestClient, merchant: Merchant, amount: int, **fields: Any) -> dict:
    response = client.post("/api/payments/qris/create", json={"amount": amount, **fields},
                           headers=merchant.auth)
    assert response.status_code == 200, response.text
    return response.json()


def found(admin: TestClient, query: str) -> list[str]:
    response = admin.get(f"/admin/api/payments?{query}")
    assert response.status_code == 200, response.text
    return [row["invoice_id"] for row in response.json()["data"]]


def pay(admin: TestClient, merchant: Merchant, total: int, sender: str) -> None:
    response = admin.post("/api/webhook/payment",
                          headers={"Authorization": f"Bearer {merchant.callback_secret}"},
                          json={"app": "com.dana.id", "title": "DANA",
                                "message": f"Kamu berhasil menerima Rp{total:,} dari {sender}"
                                .replace(",", "."), "notif_id": f"n-{total}"})
    assert response.json()["success"] is True, response.text
    assert response.status_code == 200, response.text


def test_text_search_finds_part_of_an_id_order_customer_or_sender_case_aside(
        admin: TestClient, merchant: Merchant) -> None:
    siti = create(admin, merchant, 15000, merchant_order_id="ORD-2024-0042",
                  customer_name="Siti Aminah")
    budi = create(admin, merchant, 16000, merchant_order_id="WEB-77", customer_name="Budi")
    pay(admin, merchant, budi["total_amount"], "ANDI PRATAMA")
    assert found(admin, "q=ORD-2024") == [siti["invoice_id"]]      # an order id's start
    assert found(admin, "q=2024-004") == [siti["invoice_id"]]      # its middle
    assert found(admin, "q=siti amin") == [siti["invoice_id"]]     # a customer, any case
    assert found(admin, f"q={budi['invoice_id'][-5:].upper()}") == [budi["invoice_id"]]
    assert found(admin, "q=pratama") == [budi["invoice_id"]]       # the sender, once paid
    # Two characters still work ("we" could be in a random invoice id; "b-" cannot).
    assert found(admin, "q=B-") == [budi["invoice_id"]]
    assert sorted(found(admin, "q=i")) == sorted([siti["invoice_id"], budi["invoice_id"]])
    assert found(admin, "q=Siti Aminah Binti") == []
    assert found(admin, 'q="Siti') == []                           # FTS syntax is just text
    assert found(admin, "q=ORD%25") == []                          # % is a character
    assert found(admin, "q=2024_") == []                           # and so is _


def test_text_search_folds_case_in_any_alphabet(admin: TestClient, merchant: Merchant) -> None:
    """Names are not all ASCII (José, André): "JOSÉ" finds "José" and "ñúñ" finds "Ñúñez",
    through the search index, in the invoices it does not hold yet, and in a query too short
    for it, and other letters stay other letters."""
    jose = create(admin, merchant, 17000, customer_name="José Ñúñez")["invoice_id"]
    create(admin, merchant, 18000, customer_name="Jose Nunez")
    queries = {"q=JOSÉ": [jose], "q=%C3%B1%C3%BA%C3%B1": [jose], "q=%C3%91%C3%9A": [jose],
               "q=%C3%A9 %C3%91": [jose], "q=SÉ": [jose]}
    assert {query: found(admin, query) for query in queries} == queries  # not indexed yet
    time.sleep(webqris.INDEXING_INTERVAL_SECONDS + 0.1)
    create(admin, merchant, 19000)  # its commit puts the two before it into the index
    assert {query: found(admin, query) for query in queries} == queries
    assert found(admin, "q=ÑÚÑEZ X") == [] and len(found(admin, "q=NUNEZ")) == 1


def index_segments(conn: sqlite3.Connection) -> int:
    """How many segments the search index is in: each search reads every one of them."""
    return conn.execute("SELECT count(DISTINCT segid) FROM invoice_words_idx").fetchone()[0]


@pytest.fixture
def indexing_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that looks between two indexings needs them far enough apart for a few creates
    (the server indexes every tenth of a second)."""
    monkeypatch.setattr(webqris, "INDEXING_INTERVAL_SECONDS", 1.0)


@pytest.mark.usefixtures("indexing_once_a_second")
def test_text_search_finds_invoices_the_index_does_not_hold_yet(admin: TestClient,
                                                                merchant: Merchant,
                                                                db_path: Path) -> None:
    made = [create(admin, merchant, 40000 + n, customer_name=f"Pelanggan Baru {n}")
            for n in range(4)]
    conn = sqlite3.connect(db_path)
    through = int(conn.execute("SELECT value FROM settings"
                               " WHERE key = 'invoice_words_through'").fetchone()[0])
    newest = conn.execute("SELECT max(id) FROM invoices").fetchone()[0]
    conn.close()
    assert through < newest  # the index is filled every interval, not at every commit
    newest_first = [invoice["invoice_id"] for invoice in reversed(made)]
    assert found(admin, "q=pelanggan baru") == newest_first
    first = admin.get("/admin/api/payments?q=pelanggan baru&limit=3").json()
    assert [row["invoice_id"] for row in first["data"]] == newest_first[:3]
    assert found(admin, f"q=pelanggan baru&before={first['next_before']}") == newest_first[3:]


@pytest.mark.usefixtures("indexing_once_a_second")
def test_new_invoices_go_into_the_index_at_the_next_indexing(admin: TestClient,
                                                             merchant: Merchant,
                                                             db_path: Path) -> None:
    """The commit thread indexes what the loop wrote: an interval on, the next write takes
    the invoices before it into the index, and the search finds them there."""
    made = [create(admin, merchant, 41000 + n, customer_name=f"Tamu {n}") for n in range(3)]
    time.sleep(webqris.INDEXING_INTERVAL_SECONDS + 0.1)
    create(admin, merchant, 42000)
    conn = sqlite3.connect(db_path)
    through = int(conn.execute("SELECT value FROM settings"
                               " WHERE key = 'invoice_words_through'").fetchone()[0])
    ids = [conn.execute("SELECT id FROM invoices WHERE invoice_id = ?",
                        (invoice["invoice_id"],)).fetchone()[0] for invoice in made]
    indexed = conn.execute("SELECT rowid FROM invoice_words WHERE invoice_words MATCH 'tam'"
                           " ORDER BY rowid").fetchall()
    conn.close()
    assert through >= max(ids)
    assert [row[0] for row in indexed] == ids
    assert found(admin, "q=tamu") == [invoice["invoice_id"] for invoice in reversed(made)]


@pytest.mark.usefixtures("indexing_once_a_second")
def test_amounts_and_totals_go_into_their_table_half_an_interval_after_the_words(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    """The commit thread puts new invoices' amounts and totals into invoice_numbers in a
    statement of its own, half an indexing interval after the words: the writer is held
    twice briefly rather than once for both. Seen from outside: after the words move on,
    the numbers lag for a while, then hold every invoice."""
    conn = sqlite3.connect(db_path)

    def through(key: str) -> int:
        return int(conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()[0])

    made: list[dict] = []
    lagged = False
    until = time.monotonic() + 2.5 * webqris.INDEXING_INTERVAL_SECONDS
    while time.monotonic() < until:
        made.append(create(admin, merchant, 43000 + len(made)))
        lagged |= through("invoice_words_through") > through("invoice_numbers_through")
        time.sleep(0.05)
    assert lagged
    time.sleep(webqris.INDEXING_INTERVAL_SECONDS + 0.1)
    create(admin, merchant, 44000)  # the words take in every invoice made above
    time.sleep(webqris.INDEXING_INTERVAL_SECONDS / 2 + 0.1)
    create(admin, merchant, 45000)  # and now the numbers
    ids = [conn.execute("SELECT id FROM invoices WHERE invoice_id = ?",
                        (invoice["invoice_id"],)).fetchone()[0] for invoice in made]
    assert through("invoice_numbers_through") >= max(ids)
    numbers = conn.execute("SELECT number, id FROM invoice_numbers WHERE id BETWEEN ? AND ?"
                           " ORDER BY id, number", (min(ids), max(ids))).fetchall()
    conn.close()
    assert numbers == [(number, row_id) for invoice, row_id in zip(made, ids)
                       for number in (invoice["amount"], invoice["total_amount"])]
    assert found(admin, f"q={made[1]['amount']}") == [made[1]["invoice_id"]]


def test_the_search_index_merges_in_bounded_steps(tmp_path: Path) -> None:
    """Each indexing adds a segment to the search index; FTS5 left to itself merged a level
    whenever it held four, rewriting ever bigger segments in one statement on the commit
    thread, which every create of its batch waited for. Now each indexing merges a bounded
    step: no commit writes much more than its own invoices and that step, however long the
    history, while the segments stay few and every invoice is found."""
    conn = webqris.connect(str(tmp_path / "webqris.db"))
    webqris.migrate(conn)
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the WAL holds what each commit wrote
    merchant_id = webqris.insert_merchant(conn, "Toko Ramai", STATIC_QRIS, None,
                                          webqris.issue_merchant_secrets())
    payload = webqris.qris.make_dynamic(STATIC_QRIS, 25001)
    pages_written = []
    for batch in range(600):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO invoices (invoice_id, merchant_id, merchant_order_id, customer_name,"
            " amount, unique_code, total_amount, qris_payload, status, created_at, expires_at,"
            " closed_at) VALUES (?, ?, ?, ?, 25000, 1, 25001, ?, 'expired', 0, 0, 0)",
            [(f"INV-{batch}-{os.urandom(3).hex()}", merchant_id, f"ORD-{batch}-{n}",
              f"Pelanggan {os.urandom(2).hex()}", payload) for n in range(8)])
        webqris.index_invoice_words(conn)
        conn.execute("COMMIT")
        pages_written.append(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # A commit of 8 invoices writes their rows, their indexes' pages and its own segment;
    # each page a merge step writes frees one it replaces.
    own = sorted(pages_written)[len(pages_written) // 2]
    assert max(pages_written) <= own + 3 * webqris.MERGE_PAGES_PER_INDEXING, \
        (own, sorted(pages_written)[-10:])
    # FTS5's own merging, unbounded, is off (it is kept in the index: a migration sets it)
    assert conn.execute("SELECT v FROM invoice_words_config WHERE k = 'automerge'"
                        ).fetchone()[0] == 0
    segments = index_segments(conn)
    assert segments <= 10
    ordered = conn.execute("SELECT count(*) FROM invoice_words"
                           " WHERE invoice_words MATCH 'ORD'").fetchone()[0]
    assert ordered == 600 * 8
    conn.close()


def test_digits_find_amounts_and_totals_exactly_newest_first_across_pages(
        admin: TestClient, merchant: Merchant) -> None:
    same_price = [create(admin, merchant, 25000) for _ in range(5)]
    other = create(admin, merchant, 125000)
    newest_first = [invoice["invoice_id"] for invoice in reversed(same_price)]
    assert found(admin, "q=25.000") == newest_first
    assert found(admin, f"q={same_price[2]['total_amount']}") == [same_price[2]["invoice_id"]]
    assert found(admin, "q=Rp125.000") == [other["invoice_id"]]
    first = admin.get("/admin/api/payments?q=25000&limit=2").json()
    assert [row["invoice_id"] for row in first["data"]] == newest_first[:2]
    rest = found(admin, f"q=25000&before={first['next_before']}")
    assert rest == newest_first[2:]


def test_date_filter_is_exact_at_its_edges(admin: TestClient, merchant: Merchant,
                                           db_path: Path) -> None:
    made = [create(admin, merchant, 10000 + n * 1000) for n in range(4)]
    conn = sqlite3.connect(db_path)
    # Four days apart, as if made on four days (the server numbers them in that order too).
    base = webqris.now_ms() - 10 * DAY
    for n, invoice in enumerate(made):
        conn.execute("UPDATE invoices SET created_at = ? WHERE invoice_id = ?",
                     (base + n * DAY, invoice["invoice_id"]))
    conn.commit()
    conn.close()
    ids = [invoice["invoice_id"] for invoice in made]
    assert found(admin, f"from={base + DAY}&to={base + 3 * DAY}") == [ids[2], ids[1]]
    assert found(admin, f"from={base + DAY + 1}") == [ids[3], ids[2]]
    assert found(admin, f"to={base + 1}") == [ids[0]]
    assert found(admin, f"from={base + DAY}&to={base + 3 * DAY}&q={ids[1][-6:]}") == [ids[1]]


def test_status_filters_find_a_rare_status_in_a_long_history(
        admin: TestClient, merchant: Merchant) -> None:
    kept = create(admin, merchant, 30000)
    cancelled = create(admin, merchant, 31000)
    admin.post(f"/api/payments/{cancelled['invoice_id']}/cancel", headers=merchant.auth)
    assert found(admin, "status=cancelled") == [cancelled["invoice_id"]]
    assert found(admin, "status=pending") == [kept["invoice_id"]]
    assert found(admin, "status=cancelled&q=31000") == [cancelled["invoice_id"]]
    assert found(admin, "status=paid") == []


def test_a_whole_order_id_among_look_alikes_is_found_with_every_invoice_containing_it(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    # A shop whose 3,000 order ids all look alike (ORD-00000001...), in the search index.
    conn = sqlite3.connect(db_path, isolation_level=None)
    payload = webqris.qris.make_dynamic(STATIC_QRIS, 25001)
    at = webqris.now_ms() - DAY
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO invoices (invoice_id, merchant_id, merchant_order_id, amount, unique_code,"
        " total_amount, qris_payload, status, created_at, expires_at, closed_at)"
        " VALUES (?, ?, ?, 25000, 1, 25001, ?, 'expired', ?, ?, ?)",
        [(f"INV-{n}-alike{n % 10}", merchant.id, f"ORD-{n:08d}", payload, at + n,
          at + n + 900_000, at + n + 900_000) for n in range(1, 3001)])
    webqris.index_invoice_words(conn)
    conn.execute("COMMIT")
    # Its common trigrams ("ORD", "-00", "000") are left out of the index query.
    words = webqris._words_match(conn, "ORD-00001234")
    conn.close()
    assert '"ORD"' not in words and '"-00"' not in words and '"000"' not in words, words
    # Whatever holds the order id, and not only as a whole order id, is found, newest first.
    retur = create(admin, merchant, 26000, merchant_order_id="RETUR-ORD-00001234-2")
    named = create(admin, merchant, 27000, customer_name="Pemesan ord-00001234")
    whole = found(admin, "q=ORD-00001234")
    assert whole[:2] == [named["invoice_id"], retur["invoice_id"]]
    assert whole[2:] == ["INV-1234-alike4"]
    assert found(admin, "q=ORD-0000123&limit=200") == [
        named["invoice_id"], retur["invoice_id"],
        *(f"INV-{n}-alike{n % 10}" for n in range(1239, 1229, -1))]
    assert found(admin, "q=ORD-00001234-3") == []


def add_history(db_path: Path, merchant: Merchant, count: int,
                special: dict[int, dict[str, Any]]) -> list[str]:
    """`count` older invoices of a merchant, a minute apart, in the search index, as a long
    history would be; `special` gives some of them (by their number, from 1) other fields.
    Returns their invoice ids, oldest first."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    payload = webqris.qris.make_dynamic(STATIC_QRIS, 25001)
    start = webqris.now_ms() - (count + 60) * 60_000
    rows = []
    for n in range(1, count + 1):
        fields = {"customer_name": "Pelanggan", "amount": 25000, "status": "paid",
                  **special.get(n, {})}
        at = start + n * 60_000
        rows.append((f"INV-{at // 1000}-h{n:05d}", merchant.id, f"WEB-{n}",
                     fields["customer_name"], fields["amount"], fields["amount"] + 1, payload,
                     fields["status"], at, at + 900_000, at + 60_000))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO invoices (invoice_id, merchant_id, merchant_order_id, customer_name,"
        " amount, unique_code, total_amount, qris_payload, status, created_at, expires_at,"
        " closed_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)", rows)
    webqris.index_invoice_words(conn)
    webqris.index_invoice_numbers(conn)
    conn.execute("COMMIT")
    conn.close()
    return [row[0] for row in rows]


def test_a_search_out_of_time_says_how_far_back_it_looked_and_goes_on_from_there(
        app_factory: Any, merchant: Merchant, db_path: Path) -> None:
    """A search that matches only old invoices answers before it has read the whole history,
    with what it found, how far back it looked, and a next page that goes on from there;
    page after page it finds exactly what one long read finds, newest first, none twice."""
    history = add_history(db_path, merchant, 30_000, {
        n: {"customer_name": "Rahmawati", "amount": 31337, "status": "cancelled"}
        for n in (4, 40, 400, 4_000, 21_000)})
    wanted = [history[n - 1] for n in (21_000, 4_000, 400, 40, 4)]
    test_admin.set_password(db_path)
    hurried = app_factory(admin={"search_ms": 0})  # each answer reads one stretch of the history
    assert hurried.post("/admin/api/login",
                        json={"password": test_admin.PASSWORD}).status_code == 200
    patient = app_factory(admin={"search_ms": 10_000})
    assert patient.post("/admin/api/login",
                        json={"password": test_admin.PASSWORD}).status_code == 200
    for query in ("q=rahmawati", "q=awat", "q=31337", "status=cancelled", "q=Rahmawati&limit=2"):
        answers, before = [], ""
        while True:
            answer = hurried.get(f"/admin/api/payments?{query}&before={before}")
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
            before = answers[-1]["next_before"]
            if before is None:
                break
        assert [row["invoice_id"] for a in answers for row in a["data"]] == wanted, query
        assert len(answers) > 3, query  # it did stop on the way
        # An answer that stopped says how far back it searched (a full page need not); that
        # moves back in time, and nothing found later is newer than it.
        since = [a["searched_since"] for a in answers if a["searched_since"]]
        assert since == sorted(since, reverse=True) and len(since) >= 3, query
        for at, a in enumerate(answers):
            if a["searched_since"]:
                later = [row["created_at"] for b in answers[at + 1:] for row in b["data"]]
                assert all(created < a["searched_since"] for created in later), query
            else:  # a full page, or the end
                assert len(a["data"]) == 2 or a["next_before"] is None, query
        # Given the time, the same search reads the 30,000 invoices in one answer.
        whole = patient.get(f"/admin/api/payments?{query}&limit=50").json()
        assert [row["invoice_id"] for row in whole["data"]] == wanted[:50], query
        assert whole["searched_since"] is None and whole["next_before"] is None, query


def test_a_search_finds_the_same_page_after_page_whatever_time_it_is_given(
        merchant: Merchant, db_path: Path) -> None:
    """However a search's time runs out (between stretches of the history, or in the middle
    of one, which is then read again by the next page), its pages together are what one
    long read finds."""
    # Older invoices cost more to look through (long names): a stretch sized by the time
    # the newer ones took runs past the time left, and is interrupted.
    special: dict[int, dict[str, Any]] = {
        n: {"customer_name": "Pelanggan " + "x" * 400} for n in range(1, 20_000)}
    special |= {n: {"customer_name": "Rahmawati"} for n in range(5, 30_000, 4_997)}
    history = add_history(db_path, merchant, 30_000, special)
    wanted = [invoice_id for n, invoice_id in enumerate(history, 1) if n % 4_997 == 5][::-1]
    store = webqris.Store(str(db_path))
    store.open()
    try:
        for seconds in (None, 0, 0.0005, 0.001, 0.002, 0.004, 0.008):
            for query in ("rahmawati", "ahma", "ra"):
                pages, before = [], None
                while True:
                    page = store.read(
                        webqris.search_invoices, status=None, merchant_id=None, query=query,
                        created_from=None, created_to=None, limit=8, before_row_id=before,
                        at_ms=webqris.now_ms(), seconds=seconds)
                    pages.append([row["invoice_id"] for row in page.rows])
                    if len(page.rows) == 8:
                        before = page.rows[-1]["id"]
                    elif page.searched_to is not None:
                        before = page.searched_to
                    else:
                        break
                assert [found for page in pages for found in page] == wanted, (seconds, query)
    finally:
        store.close()


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def test_a_search_cut_short_again_and_again_always_answers(merchant: Merchant,
                                                           db_path: Path) -> None:
    """A search interrupted mid-stretch answers where it stopped, however many times that
    happens on one connection. (The interruption's handler was still set while the answer
    looked up where the search stopped, and SQLite counts a cached statement's steps across
    its runs: now and then a search cut short answered 500 during a search storm.)"""
    special = {n: {"customer_name": "Pelanggan " + "x" * 400} for n in range(1, 20_000)}
    add_history(db_path, merchant, 30_000, special)
    store = webqris.Store(str(db_path))
    store.open()
    def search(seconds: float) -> webqris.FoundInvoices:
        return store.read(
            webqris.search_invoices, status=None, merchant_id=None, query="zq",
            created_from=None, created_to=None, limit=8, before_row_id=None,
            at_ms=webqris.now_ms(), seconds=seconds)

    try:
        # Time enough for the first stretch (the newer, cheap invoices) and then some: the
        # next stretch, sized by it, reaches the costly ones and is cut short in the middle.
        first = min(timed(lambda: search(0)) for _ in range(5))
        stopped = 0
        for _ in range(400):
            page = search(1.5 * first)
            assert page.rows == []
            if page.searched_to is not None:
                stopped += 1
                assert page.searched_since_ms is not None
        assert stopped >= 300
    finally:
        store.close()


def test_text_searches_share_one_sample_of_the_history_for_a_while(
        merchant: Merchant, db_path: Path, monkeypatch: Any) -> None:
    """The invoices sampled to tell a query's rare trigrams from its common ones are read once
    and kept: a dashboard searching again and again no longer reads 500 invoices for each
    search (a third of the read threads' CPU in a search storm). The sample only orders the
    trigrams, so what a search finds never depends on it; a history a tenth longer, or a
    minute, takes a new one."""
    add_history(db_path, merchant, 3000,
                {n: {"customer_name": "Budi Santoso"} for n in range(1, 3001, 100)})
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    statements: list[str] = []
    conn.set_trace_callback(statements.append)

    def search(query: str) -> int:
        return len(webqris.search_invoices(
            conn, status=None, merchant_id=None, query=query, created_from=None,
            created_to=None, limit=1000, before_row_id=None, at_ms=webqris.now_ms()).rows)

    def samples() -> int:
        return sum(" FROM invoices WHERE id IN (" in statement for statement in statements)

    try:
        assert (search("Budi Santoso"), samples()) == (30, 1)
        assert (search("Santoso"), search("budi"), samples()) == (30, 30, 1)
        # Newer invoices than the sample are found all the same.
        add_history(db_path, merchant, 200, {n: {"customer_name": "Dewi Lestari"}
                                             for n in range(1, 201)})
        assert (search("Dewi Lestari"), samples()) == (200, 1)
        # A tenth more history is sampled again.
        add_history(db_path, merchant, 300, {n: {"customer_name": "Citra Kirana"}
                                             for n in range(1, 301)})
        assert (search("Citra Kirana"), search("Citra"), samples()) == (300, 300, 2)
        # And so is one older than TRIGRAM_SAMPLE_SECONDS.
        monkeypatch.setattr(webqris, "TRIGRAM_SAMPLE_SECONDS", 0.0)
        assert (search("Kirana"), samples()) == (300, 3)
    finally:
        conn.close()


def test_overview_sums_each_local_day_from_running_totals(admin: TestClient,
                                                          merchant: Merchant) -> None:
    today = [create(admin, merchant, amount) for amount in (20000, 30000)]
    for invoice in today:
        assert admin.post(f"/admin/api/payments/{invoice['invoice_id']}/confirm").status_code \
            == 200
    overview = admin.get("/admin/api/overview?tz_offset=420").json()
    paid = sum(invoice["total_amount"] for invoice in today)
    assert (overview["today"]["count"], overview["today"]["sum"]) == (2, paid)
    # Whatever the browser's time zone, both payments fall within the two weeks shown.
    for offset in (-300, 0, 345, 420, 540):
        days = admin.get(f"/admin/api/overview?tz_offset={offset}").json()["days"]
        assert sum(day["count"] for day in days) == 2 and sum(day["sum"] for day in days) == paid


def test_a_slow_history_read_does_not_hold_up_the_loop(db_path: Path,
                                                       merchant: Merchant) -> None:
    async def scenario() -> tuple[bool, float, int]:
        store = webqris.Store(str(db_path))
        store.open()
        store.start()
        try:
            def slow_read(conn: sqlite3.Connection) -> int:
                time.sleep(0.5)  # a search on a cold disk, say
                return conn.execute("SELECT count(*) FROM merchants").fetchone()[0]

            started = time.monotonic()
            slow = asyncio.ensure_future(store.read_off_loop(slow_read))
            await asyncio.sleep(0)
            # Meanwhile the loop reads and writes as usual.
            store.read(webqris.get_merchant, merchant.id)
            await store.write(webqris.put_setting, "probe", "1")
            still_reading = not slow.done()
            count = await slow
            return still_reading, time.monotonic() - started, count
        finally:
            await store.stop()
            store.close()

    still_reading, slow_done, count = asyncio.run(scenario())
    assert count == 1 and slow_done >= 0.5
    assert still_reading  # the loop wrote and read while the slow read ran


def test_history_reads_run_at_a_lower_cpu_priority_than_payments(db_path: Path,
                                                                 merchant: Merchant) -> None:
    """On a two-core machine the dashboard's searches yield the CPU to the loop, which
    answers payments: the read pool's threads run niced, the loop's thread does not. (Niced,
    not in Linux's idle class, which any other busy process on the machine starves.) And in
    the shortest turns Linux gives, so a loop that wakes for a payment takes the core
    without waiting out a search's time slice. And on every core but one, which the loop
    then finds free of searches."""
    def time_slice(native_id: int) -> int | None:
        """The thread's slice in ns, where the kernel shows it (6.12 and later)."""
        sched = Path(f"/proc/self/task/{native_id}/sched")
        found = re.search(r"^se\.slice\s*:\s*(\d+)", sched.read_text(), re.M) \
            if sched.exists() else None
        return int(found.group(1)) if found else None

    Priority = tuple[int, int, int | None, set[int]]

    async def scenario() -> tuple[Priority, Priority]:
        store = webqris.Store(str(db_path))
        store.open()
        store.start()
        try:
            def own_priority(conn: sqlite3.Connection | None = None) -> Priority:
                native_id = threading.get_native_id()
                return (os.getpriority(os.PRIO_PROCESS, native_id),
                        os.sched_getscheduler(native_id), time_slice(native_id),
                        os.sched_getaffinity(0))

            return await store.read_off_loop(own_priority), own_priority()
        finally:
            await store.stop()
            store.close()

    (pool, policy, pool_slice, pool_cores), (loop, _, loop_slice, loop_cores) = \
        asyncio.run(scenario())
    assert pool == min(19, loop + webqris.READ_POOL_NICENESS)
    assert policy == os.SCHED_OTHER
    all_cores = os.sched_getaffinity(0)
    assert loop_cores == all_cores
    assert pool_cores == (all_cores - {max(all_cores)} if len(all_cores) > 1 else all_cores)
    if loop_slice is not None:  # a kernel that shows (and so honours) each thread's slice
        assert pool_slice == webqris.READ_POOL_SLICE_NS < loop_slice


class CountedConnection(sqlite3.Connection):
    """A read-only connection that counts its SQLite virtual-machine steps, in hundreds: how
    much a read reads, whatever the machine's speed. It goes on counting whatever progress
    handler the code under test sets or removes (a search's walk sets one for its deadline
    and removes it after each stretch of history), and runs theirs every hundred steps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hundreds = 0
        self._theirs: Callable[[], int] | None = None
        super().set_progress_handler(self._step, 100)

    def set_progress_handler(self, handler: Callable[[], int] | None, n: int) -> None:
        self._theirs = handler

    def _step(self) -> int:
        self.hundreds += 1
        return self._theirs() if self._theirs is not None else 0


def counted(db_path: Path) -> CountedConnection:
    conn = sqlite3.connect(db_path, factory=CountedConnection, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA query_only=1")
    return conn


def test_cancelled_invoices_are_listed_whole_without_reading_a_year_of_paid_ones(
        merchant: Merchant, db_path: Path) -> None:
    """A few cancelled bills among a long history: the list finds every one, the oldest too,
    without walking the history (which ran out of time at a million invoices, and answered
    "searched back to today")."""
    ids = add_history(db_path, merchant, 20_000, {2: {"status": "cancelled"},
                                                  15_000: {"status": "cancelled"}})
    conn = counted(db_path)
    found = webqris.search_invoices(conn, status="cancelled", merchant_id=None, query=None,
                                    created_from=None, created_to=None, limit=51,
                                    before_row_id=None, at_ms=webqris.now_ms(), seconds=None)
    assert [row["invoice_id"] for row in found.rows] == [ids[14_999], ids[1]]
    # About 500 steps; walking the 20,000 took 100,500.
    assert conn.hundreds * 100 < 10_000, conn.hundreds
    conn.close()


def test_amounts_totals_and_dates_are_found_in_a_long_history_without_walking_it(
        merchant: Merchant, db_path: Path) -> None:
    """An amount or a total that only old invoices have, and a day long ago, are found
    through invoice_numbers and the row ids (no index on them is written by a create), the
    invoices not yet in the index too, in a few hundred SQLite steps whatever the history."""
    ids = add_history(db_path, merchant, 20_000, {
        n: {"amount": 77_000 + n} for n in (3, 9_000, 19_999)})
    newest = create_unindexed(db_path, merchant, amount=77_003)
    conn = counted(db_path)

    def search(**filters: Any) -> list[str]:
        conn.hundreds = 0
        found = webqris.search_invoices(
            conn, status=None, merchant_id=None, created_from=filters.pop("created_from", None),
            created_to=filters.pop("created_to", None), limit=51, before_row_id=None,
            at_ms=webqris.now_ms(), seconds=None, query=filters.pop("query", None))
        return [row["invoice_id"] for row in found.rows]

    assert search(query="77.003") == [newest, ids[2]]  # the amount, new and old
    assert search(query="77004") == [ids[2]]  # the old one's total
    assert search(query="Rp96.999") == [ids[19_998]]
    assert search(query="86001") == [ids[8_999]]
    # Each of these reads under 1,000 steps; read directly, the 20,000 took 223,000.
    assert conn.hundreds * 100 < 2_000, conn.hundreds
    created = conn.execute("SELECT created_at FROM invoices WHERE invoice_id = ?",
                           (ids[99],)).fetchone()[0]
    assert search(created_from=created, created_to=created + 1) == [ids[99]]
    assert search(created_from=created - 1, created_to=created + 2 * 60_000) \
        == [ids[100], ids[99]]
    assert search(created_to=created + 1)[:2] == [ids[99], ids[98]]
    assert search(created_from=webqris.now_ms() + 3 * 3_600_000) == []
    assert search(created_from=created, created_to=created + 3 * 60_000, query="25.000") \
        == [ids[101], ids[100], ids[99]]  # invoices of the history are a minute apart
    # Through the row ids: 2,300 steps. Asking SQLite for min(id) and max(id) at once
    # made it read every row: 280,000.
    assert conn.hundreds * 100 < 5_000, conn.hundreds
    conn.close()


def create_unindexed(db_path: Path, merchant: Merchant, amount: int) -> str:
    """An invoice made now through the app's own create, not yet in the search index nor in
    invoice_numbers."""
    store = webqris.Store(str(db_path))
    store.open()
    try:
        payments = webqris.load_config(None, {}).payments
        row, _ = store.write_now(webqris.create_invoice, webqris.InvoiceRequest(
            merchant_id=merchant.id, static_qris=STATIC_QRIS, amount=amount,
            merchant_order_id=None, customer_name=None, expires_in=900, redirect_url=None,
            idempotency_key=None), payments)
        store._writer.execute("UPDATE settings SET value = value - 1 WHERE key IN"
                              " ('invoice_words_through', 'invoice_numbers_through')")
    finally:
        store.close()
    return row["invoice_id"]


def test_thousands_of_pending_invoices_are_listed_without_reading_them_all_each_time(
        merchant: Merchant, db_path: Path) -> None:
    """A busy shop can have thousands of invoices waiting at once (its API's half hour):
    the list of pending ones reads the newest of them, not every one at each step."""
    add_history(db_path, merchant, 5_000, {})
    now = webqris.now_ms()
    payload = webqris.qris.make_dynamic(STATIC_QRIS, 25001)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO invoices (invoice_id, merchant_id, amount, unique_code, total_amount,"
        " qris_payload, status, created_at, expires_at)"
        " VALUES (?, ?, 25000, ?, ?, ?, ?, ?, ?)",
        [(f"INV-P-{n:05d}", merchant.id, n, 25000 + n, payload,
          "paid" if n % 3 == 0 else "pending", now - 5000 + n, now + 3_600_000)
         for n in range(1, 4_501)])
    conn.execute("COMMIT")
    conn.close()
    waiting = [f"INV-P-{n:05d}" for n in range(4_500, 0, -1) if n % 3]
    conn = counted(db_path)
    before = None
    for page in range(3):
        conn.hundreds = 0
        found = webqris.search_invoices(conn, status="pending", merchant_id=None, query=None,
                                        created_from=None, created_to=None, limit=51,
                                        before_row_id=before, at_ms=now, seconds=None)
        assert [row["invoice_id"] for row in found.rows[:50]] == \
            waiting[page * 50:(page + 1) * 50]
        before = found.rows[49]["id"]
        # Reading all 3,000 pending ones at each stretch took 41,000 steps; now about
        # 10,000, 8,500 of them counting up to FEW_PENDING waiting ones to choose the way.
        assert conn.hundreds * 100 < 15_000, (page, conn.hundreds)
    conn.close()


def test_the_inbox_and_the_rarer_lists_read_the_few_not_a_year_of_history(
        app_factory: Any, merchant: Merchant, db_path: Path) -> None:
    """A healthy shop has a few notifications that wait for the owner (or were not read, or
    were duplicates) and a few webhooks not delivered, among a year of matched notifications
    and delivered webhooks: each such list is found through the few alone, for every shop
    and for one or two (the scope of a shop's manager), however far back the few are."""
    other = add_merchant(db_path, name="Toko Lain")
    conn = sqlite3.connect(db_path, isolation_level=None)
    start = webqris.now_ms() - 400 * 86_400_000
    conn.execute("BEGIN")
    note = ("INSERT INTO notifications (merchant_id, source, app, title, message, outcome,"
            " received_at) VALUES (?, 'forwarder', 'id.dana', 'DANA', ?, ?, ?)")
    webhook = ("INSERT INTO webhook_deliveries (webhook_id, merchant_id, event, url, body,"
               " state, next_attempt_at, created_at) VALUES (?, ?, 'payment.paid',"
               " 'https://toko.example/hook', x'7b7d', ?, ?, ?)")
    # The few, since last year; then 20,000 of the many for each of two shops.
    conn.execute(note, (merchant.id, "Rp0 diterima", "unparsed", start))
    conn.execute(webhook, ("wh-failed", merchant.id, "failed", start, start))
    conn.execute(webhook, ("wh-pending", merchant.id, "pending", start, start))
    conn.executemany(note, [(shop, f"Rp{n} diterima", "matched", start + n * 1000)
                            for n in range(1, 20_001) for shop in (merchant.id, other.id)])
    conn.executemany(webhook, [(f"wh-{shop}-{n}", shop, "delivered", start + n, start + n)
                               for n in range(1, 20_001) for shop in (merchant.id, other.id)])
    conn.execute("COMMIT")
    conn.close()
    conn = counted(db_path)
    lists: dict[str, tuple[Callable[..., list[sqlite3.Row]], dict[str, Any], str, Any]] = {
        "inbox": (webqris.list_notifications, {"outcome": "needs_attention"}, "message",
                  "Rp0 diterima"),
        "unread": (webqris.list_notifications, {"outcome": "unparsed"}, "message",
                   "Rp0 diterima"),
        "duplicates": (webqris.list_notifications, {"outcome": "duplicate"}, "message", None),
        "failed webhooks": (webqris.list_deliveries, {"state": "failed", "invoice_row_id": None},
                            "webhook_id", "wh-failed"),
        "pending webhooks": (webqris.list_deliveries,
                             {"state": "pending", "invoice_row_id": None}, "webhook_id",
                             "wh-pending")}
    for name, (read, filters, field, expected) in lists.items():
        for scope in (None, [merchant.id], [merchant.id, other.id]):
            conn.hundreds = 0
            rows = read(conn, **filters, merchant_id=None, limit=51, before_id=None,
                        merchant_ids=scope)
            assert [row[field] for row in rows] == ([expected] if expected else []), name
            # Walking the 40,000 of the many took 120,000 steps.
            assert conn.hundreds * 100 < 1_000, (name, scope, conn.hundreds)
    # The many are still listed newest first, a page at a time.
    matched = webqris.list_notifications(conn, outcome="matched", merchant_id=merchant.id,
                                         limit=3, before_id=None)
    assert [row["message"] for row in matched] == ["Rp20000 diterima", "Rp19999 diterima",
                                                   "Rp19998 diterima"]
    conn.close()
    test_admin.set_password(db_path)
    admin = app_factory()
    admin.post("/admin/api/login", json={"password": test_admin.PASSWORD})
    inbox = admin.get("/admin/api/notifications?outcome=needs_attention").json()["data"]
    assert [row["message"] for row in inbox] == ["Rp0 diterima"]
    failed = admin.get("/admin/api/webhooks?state=failed").json()["data"]
    assert [row["webhook_id"] for row in failed] == ["wh-failed"]


def test_every_dashboard_page_of_history_is_made_into_json_beside_the_loop(
        app_factory: Any, merchant: Merchant, db_path: Path) -> None:
    """Making fifty invoices (or a cashier's 200 bills of the day) into JSON takes the loop
    milliseconds, which every payment arriving meanwhile would wait for: each page that
    grows with history is read and made into JSON on the read pool's threads. (Watched
    through a profile hook on the threads the app starts; nothing of the app is replaced.)"""
    made_on: list[str] = []
    render = webqris.JSONResponse.render.__code__

    def watch(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is render:
            made_on.append(threading.current_thread().name)

    threading.setprofile(watch)  # before the app's threads start, so each one is watched
    try:
        test_admin.set_password(db_path)
        admin = app_factory()
        login = admin.post("/admin/api/login", json={"password": test_admin.PASSWORD})
        admin.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        for amount in (20000, 30000):
            create(admin, merchant, amount)
        pages = ["/admin/api/payments", "/admin/api/payments?q=Bench",
                 "/admin/api/notifications", "/admin/api/overview?tz_offset=420",
                 f"/admin/api/kasir?merchant_id={merchant.id}", "/admin/api/webhooks",
                 "/admin/api/audit", "/admin/api/alerts"]
        where = {}
        for page in pages:
            made_on.clear()
            answer = admin.get(page)
            assert answer.status_code == 200, (page, answer.text)
            where[page] = set(made_on)
    finally:
        threading.setprofile(None)
    # Every page was made into JSON, and only on the read pool's threads.
    assert all(names and all(name.startswith("webqris-read") for name in names)
               for names in where.values()), where
    assert len(admin.get(f"/admin/api/kasir?merchant_id={merchant.id}").json()["today"]) == 2


def migrated_before(db_path: Path, first_unapplied: str) -> sqlite3.Connection:
    """A new database as the release before the first migration whose SQL names
    `first_unapplied` left it."""
    before = next(n for n, sql in enumerate(webqris.MIGRATIONS) if first_unapplied in sql)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " applied_at INTEGER NOT NULL)")
    for version, sql in enumerate(webqris.MIGRATIONS[:before], start=1):
        conn.executescript(f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES ({version}, 0);"
                           "\nCOMMIT;")
    return conn


def old_database(db_path: Path, invoices: int) -> int:
    """A database as the release before the search indexes left it, with `invoices` invoices
    of one merchant (a fifth of them paid); returns that merchant's id."""
    conn = migrated_before(db_path, "invoice_words")
    conn.execute("INSERT INTO merchants (name, api_token_hash, callback_secret_hash,"
                 " webhook_secret, created_at, updated_at) VALUES ('Toko Lama', ?, ?, 'w', 0, 0)",
                 (webqris.hash_secret("wqk_old"), webqris.hash_secret("wqc_old")))
    payload = webqris.qris.make_dynamic(STATIC_QRIS, 25001)
    at = webqris.now_ms() - 2 * DAY
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO invoices (invoice_id, merchant_id, merchant_order_id, customer_name,"
        " amount, unique_code, total_amount, qris_payload, status, sender_name, created_at,"
        " expires_at, paid_at, closed_at) VALUES (?, 1, ?, ?, 25000, 1, 25001, ?, ?, ?, ?, ?,"
        " ?, ?)",
        [(f"INV-{n}-old{n:03d}", f"OLD-{n:06d}", f"Pelanggan {n}", payload,
          "paid" if n % 5 == 0 else "expired", "SENDER LAMA" if n % 5 == 0 else None,
          at + n, at + n + 900_000, at + n + 1 if n % 5 == 0 else None, at + n + 900_000)
         for n in range(1, invoices + 1)])
    conn.execute("COMMIT")
    conn.close()
    return 1


def test_upgrading_a_big_database_says_what_it_does_and_finds_old_invoices(
        tmp_path: Path) -> None:
    db_path = tmp_path / "webqris.db"
    old_database(db_path, 50_000)
    # A search stops at admin.search_ms and says how far back it read: on a busy machine the
    # old invoices would be past that, and what is tested here is that they are found at all.
    server = start_server(db_path, deadline=90, env={"WEBQRIS_ADMIN_SEARCH_MS": "20000"})
    try:
        log = server.log_path.read_text()
        # Before answering, the server said what it was doing, and how long it took.
        ready = log.index("Uvicorn running")
        for said in (r"copying database \S+ \(\d+ MB\)", r"migration \d+ of \d+: done in",
                     r"search index: 50000 invoices filled in [\d.]+ s"):
            assert (match := re.search(said, log)) and match.start() < ready, (said, log)
        password = re.search(r"Admin password \(shown once[^)]*\): (\S+)", log).group(1)
        with httpx.Client(base_url=server.base_url) as admin:
            assert admin.post("/admin/api/login", json={"password": password}).status_code == 200
            assert found(admin, "q=Pelanggan 12345") == ["INV-12345-old12345"]
            assert found(admin, "q=OLD-049999") == ["INV-49999-old49999"]
            assert len(found(admin, "q=sender lama&limit=100")) == 100
            overview = admin.get("/admin/api/overview?tz_offset=0").json()
            assert sum(day["count"] for day in overview["days"]) == 10_000
            assert sum(day["sum"] for day in overview["days"]) == 10_000 * 25001
    finally:
        server.stop()


def test_an_interrupted_fill_of_the_search_index_resumes(tmp_path: Path) -> None:
    db_path = tmp_path / "webqris.db"
    old_database(db_path, 100)
    # A start that dies (kill -9) as it commits its second batch of 30 invoices.
    dies = subprocess.run([sys.executable, "-c", f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
import webqris
conn = webqris.connect({str(db_path)!r})
batches = []
def on_statement(sql):
    if sql.startswith("SELECT count(*) FROM invoices WHERE id > ") and " AND id <= " in sql:
        batches.append(sql)
    elif len(batches) == 2 and sql.startswith("COMMIT"):
        os._exit(9)
webqris.fill_invoice_words.__defaults__ = (30,)
conn.set_trace_callback(on_statement)
webqris.migrate(conn)
"""], capture_output=True, text=True, timeout=60)
    assert dies.returncode == 9, dies.stderr
    conn = webqris.connect(str(db_path))
    through = conn.execute("SELECT value FROM settings"
                           " WHERE key = 'invoice_words_through'").fetchone()
    assert int(through[0]) == 30  # one batch in, the next one undone
    webqris.migrate(conn)  # the next start resumes
    indexed = conn.execute("SELECT rowid FROM invoice_words WHERE invoice_words MATCH 'old'"
                           " ORDER BY rowid").fetchall()
    assert [row[0] for row in indexed] == list(range(1, 101))
    conn.close()


def test_filling_the_index_of_an_older_database_merges_as_it_goes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FTS5's own merging is off (migration 20), so the fill merges after each batch: the
    index it leaves has few segments for every search to read, as FTS5 left it before."""
    db_path = tmp_path / "webqris.db"
    old_database(db_path, 6_000)
    monkeypatch.setattr(webqris.fill_invoice_words, "__defaults__", (200,))
    conn = webqris.connect(str(db_path))
    webqris.migrate(conn)
    segments = index_segments(conn)
    indexed = conn.execute("SELECT count(*) FROM invoice_words WHERE invoice_words MATCH 'old'"
                           ).fetchone()[0]
    conn.close()
    assert indexed == 6_000
    assert segments <= 10, segments  # 30 batches, each a segment: 17 left unmerged


def test_an_upgrade_finds_the_amounts_and_totals_of_invoices_already_in_the_index(
        tmp_path: Path) -> None:
    """A database of the release before invoice_numbers, its invoices already in the search
    index: after the upgrade their amounts and totals are found as before, and so are those of
    the invoices made after it."""
    db_path = tmp_path / "webqris.db"
    conn = migrated_before(db_path, "invoice_numbers")
    merchant_id = webqris.insert_merchant(conn, "Toko Lama", STATIC_QRIS, None,
                                          webqris.issue_merchant_secrets())
    payload = webqris.qris.make_dynamic(STATIC_QRIS, 25001)
    at = webqris.now_ms() - 2 * DAY
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO invoices (invoice_id, merchant_id, amount, unique_code, total_amount,"
        " qris_payload, status, created_at, expires_at, closed_at)"
        " VALUES (?, ?, ?, 7, ?, ?, 'expired', ?, ?, ?)",
        [(f"INV-{n}-old{n:04d}", merchant_id, 10_000 * (n % 3 + 1) + n, 10_000 * (n % 3 + 1)
          + n + 7, payload, at + n, at + n + 900_000, at + n + 900_000)
         for n in range(1, 3_001)])
    webqris.index_invoice_words(conn)
    conn.execute("COMMIT")
    conn.close()
    store = webqris.Store(str(db_path))
    store.open()  # migrates
    try:
        payments = webqris.load_config(None, {}).payments
        made, _ = store.write_now(webqris.create_invoice, webqris.InvoiceRequest(
            merchant_id=merchant_id, static_qris=STATIC_QRIS, amount=12_345,
            merchant_order_id=None, customer_name=None, expires_in=900, redirect_url=None,
            idempotency_key=None), payments)
    finally:
        store.close()
    conn = webqris.connect(str(db_path), read_only=True)

    def search(query: str) -> list[str]:
        return [row["invoice_id"] for row in webqris.search_invoices(
            conn, status=None, merchant_id=None, query=query, created_from=None,
            created_to=None, limit=51, before_row_id=None, at_ms=webqris.now_ms(),
            seconds=None).rows]

    assert search("30.002") == ["INV-2-old0002"]  # an amount
    assert search("Rp10.010") == ["INV-3-old0003"]  # a total
    assert search("22.345") == ["INV-2338-old2338"]  # a total, 22,338 + 7
    assert search("12345") == [made["invoice_id"]]  # new, not in the index yet
    assert search(str(made["total_amount"]))[0] == made["invoice_id"]
    conn.close()


def test_an_invoice_changed_or_deleted_by_hand_is_found_by_its_numbers_as_it_now_is(
        merchant: Merchant, db_path: Path) -> None:
    """An owner who corrects an old invoice's amount in the database, or deletes one, finds
    it by the numbers it has now, not by the ones it had."""
    ids = add_history(db_path, merchant, 100, {10: {"amount": 61_000}, 20: {"amount": 62_000}})
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("UPDATE invoices SET amount = 63000, total_amount = 63001"
                 " WHERE invoice_id = ?", (ids[9],))
    conn.execute("DELETE FROM invoices WHERE invoice_id = ?", (ids[19],))
    conn.close()
    conn = counted(db_path)

    def search(query: str) -> list[str]:
        return [row["invoice_id"] for row in webqris.search_invoices(
            conn, status=None, merchant_id=None, query=query, created_from=None,
            created_to=None, limit=51, before_row_id=None, at_ms=webqris.now_ms(),
            seconds=None).rows]

    assert search("61000") == search("61001") == []
    assert search("63000") == search("63.001") == [ids[9]]
    assert search("62000") == search("62001") == []
    conn.close()
