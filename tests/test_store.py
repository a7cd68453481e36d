"""The store: pragmas, migrations, the one writer, concurrency, expiry and durability."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import ANOTHER_STATIC_QRIS, STATIC_QRIS, Merchant, add_merchant
from starlette.testclient import TestClient

import parsers
import webqris


def test_pragmas_and_migrations(db_path: Path) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    try:
        conn = store._writer
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, len(webqris.MIGRATIONS) + 1))
    finally:
        store.close()
    again = webqris.Store(str(db_path))
    again.open()  # re-opening applies nothing twice
    again.close()


def test_pending_total_is_unique_in_the_database(db_path: Path, merchant: Merchant) -> None:
    conn = webqris.connect(str(db_path))
    row = dict(invoice_id="INV-1-aaaaaa", merchant_id=merchant.id, amount=1000, unique_code=5,
               total_amount=1005, qris_payload="x", created_at=1, expires_at=10**13)
    webqris.insert_invoice(conn, row)
    with pytest.raises(sqlite3.IntegrityError):
        webqris.insert_invoice(conn, {**row, "invoice_id": "INV-1-bbbbbb"})
    conn.close()


def test_one_failing_write_does_not_undo_its_batch(db_path: Path) -> None:
    store = webqris.Store(str(db_path))
    store.open()

    def fail(conn: sqlite3.Connection) -> None:
        webqris.put_setting(conn, "half-done", "x")
        raise ValueError("boom")

    async def main() -> list[object]:
        store.start()
        try:
            return await asyncio.gather(
                *(store.write(webqris.put_setting, f"k{i}", str(i)) for i in range(20)),
                store.write(fail), return_exceptions=True)
        finally:
            await store.stop()

    try:
        results = asyncio.run(main())
        assert isinstance(results[-1], ValueError)
        assert all(result is None for result in results[:-1])
        assert store.read(webqris.get_setting, "half-done") is None
        assert [store.read(webqris.get_setting, f"k{i}") for i in range(20)] == \
            [str(i) for i in range(20)]
    finally:
        store.close()


def test_writes_fail_clearly_if_the_writer_is_torn_down(db_path: Path) -> None:
    """If the loop cancels the writer (a shutdown that skipped stop()), the writes it held get
    StoreUnavailable (a 503) instead of waiting forever."""
    store = webqris.Store(str(db_path))
    store.open()

    async def main() -> list[object]:
        store.start()
        writes = [asyncio.create_task(store.write(webqris.put_setting, f"k{i}", "v"))
                  for i in range(3)]
        await asyncio.sleep(0)  # the first batch is committing, the rest may be queued
        writes.append(asyncio.create_task(store.write(webqris.put_setting, "late", "v")))
        await asyncio.sleep(0)
        store._flusher.cancel()
        return await asyncio.wait_for(asyncio.gather(*writes, return_exceptions=True), 5)

    try:
        results = asyncio.run(main())
        assert results, results
        assert all(isinstance(r, webqris.StoreUnavailable) or r is None for r in results)
        assert isinstance(results[-1], webqris.StoreUnavailable)
    finally:
        store.close()


def test_old_idempotency_keys_are_purged_in_bounded_batches(db_path: Path,
                                                            merchant: Merchant) -> None:
    conn = webqris.connect(str(db_path))
    for n in range(5):
        webqris.put_idempotent_response(conn, merchant.id, f"old-{n}", "hash", "INV-1-aaaaaa")
    cutoff = webqris.now_ms()
    time.sleep(0.002)
    webqris.put_idempotent_response(conn, merchant.id, "fresh", "hash", "INV-1-bbbbbb")
    assert [webqris.purge_idempotency_keys(conn, cutoff, limit=3) for _ in range(3)] == [3, 2, 0]
    assert [r[0] for r in conn.execute("SELECT key FROM idempotency_keys")] == ["fresh"]
    conn.close()


def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(
        db_path: Path) -> None:
    store = webqris.Store(str(db_path), busy_timeout_ms=5000)
    store.open()
    other = sqlite3.connect(str(db_path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as `webqris merchant add` does while the server runs

    async def main() -> None:
        store.start()
        try:
            write = asyncio.create_task(store.write(webqris.put_setting, "k", "v"))
            for _ in range(10):  # the loop keeps serving while the write waits for the lock
                started = time.perf_counter()
                await asyncio.sleep(0.01)
                assert time.perf_counter() - started < 0.5
            assert not write.done()
            other.execute("COMMIT")
            await asyncio.wait_for(write, 5)
        finally:
            await store.stop()

    try:
        asyncio.run(main())
        assert store.read(webqris.get_setting, "k") == "v"
    finally:
        other.close()
        store.close()


def test_a_lock_held_past_the_busy_timeout_is_a_clear_unavailable(db_path: Path) -> None:
    store = webqris.Store(str(db_path), busy_timeout_ms=100)
    store.open()
    other = sqlite3.connect(str(db_path), isolation_level=None)

    async def main() -> None:
        store.start()
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(webqris.StoreUnavailable, match="locked"):
                await store.write(webqris.put_setting, "k", "lost")
            other.execute("ROLLBACK")
            await store.write(webqris.put_setting, "k", "kept")  # and it recovers by itself
        finally:
            await store.stop()

    try:
        asyncio.run(main())
        assert store.read(webqris.get_setting, "k") == "kept"
    finally:
        other.close()
        store.close()


async def _create_many(base_url: str, token: str, amount: int, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 limits=httpx.Limits(max_connections=count)) as client:
        return await asyncio.gather(*(
            client.post("/api/payments/qris/create", json={"amount": amount},
                        headers={"Authorization": f"Bearer {token}"}) for _ in range(count)))


def test_concurrent_creates_get_distinct_totals(db_path: Path, merchant: Merchant,
                                                server_factory) -> None:
    server = server_factory(db_path)
    responses = asyncio.run(_create_many(server.base_url, merchant.api_token, 25000, 100))
    assert [r.status_code for r in responses] == [200] * 100
    totals = {r.json()["total_amount"] for r in responses}
    assert len(totals) == 100


def test_exhausted_code_range_under_concurrency(db_path: Path, merchant: Merchant,
                                                server_factory) -> None:
    server = server_factory(db_path, env={"WEBQRIS_PAYMENTS_UNIQUE_CODE_MAX": "40"})
    responses = asyncio.run(_create_many(server.base_url, merchant.api_token, 50000, 60))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 40 + [503] * 20
    totals = {r.json()["total_amount"] for r in responses if r.status_code == 200}
    assert totals == set(range(50001, 50041))
    assert all(r.json()["success"] is False for r in responses if r.status_code == 503)


@pytest.mark.parametrize("http_stack", ["h11", "httptools"])
def test_every_acknowledged_invoice_survives_kill_9(db_path: Path, merchant: Merchant,
                                                    server_factory, http_stack: str) -> None:
    server = server_factory(db_path, env={"WEBQRIS_SERVER_HTTP": http_stack})
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        async def worker(client: httpx.AsyncClient, n: int) -> None:
            amount = 10000 + n * 1000
            while not stop.is_set():
                try:
                    r = await client.post("/api/payments/qris/create", json={"amount": amount},
                                          headers=merchant.auth)
                except httpx.HTTPError:
                    return  # the server died mid-request: this one was never acknowledged
                if r.status_code == 200:
                    acknowledged.append(r.json()["invoice_id"])

        async def main() -> None:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
                await asyncio.gather(*(worker(client, n) for n in range(16)))
        asyncio.run(main())

    thread = threading.Thread(target=load)
    thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop(kill=True)  # SIGKILL while requests are in flight
    stop.set()
    thread.join(30)
    assert len(acknowledged) >= 300

    restarted = server_factory(db_path)
    with httpx.Client(base_url=restarted.base_url, headers=merchant.auth) as client:
        missing = [invoice_id for invoice_id in acknowledged
                   if client.get(f"/api/payments/{invoice_id}/status").status_code != 200]
    assert missing == []
    # ...and each is in the search index: the restart indexed what the last second before
    # the kill had left for the next round.
    conn = sqlite3.connect(db_path)
    indexed = {row[0] for row in conn.execute(
        "SELECT i.invoice_id FROM invoice_words w JOIN invoices i ON i.id = w.rowid"
        " WHERE invoice_words MATCH '\"INV\"'")}
    conn.close()
    assert set(acknowledged) <= indexed


def test_answers_are_kept_only_while_the_database_reads_unchanged(db_path: Path) -> None:
    """The store's hot-path answers: a commit by any other connection (here another process's
    kind: a plain connection of its own) forgets them all, and an answer that stops being true
    at a time is not given from then on, though nothing was written."""
    store = webqris.Store(str(db_path))
    store.open()
    try:
        answers, version = store.answers, store.read_version()
        assert answers.get("a", version, 0) is None  # asked first, as a request does
        answers.put("a", version, b"pending", true_until_ms=1_000)
        answers.put("b", version, b"paid")
        assert answers.get("a", store.read_version(), 999) == b"pending"
        assert answers.get("a", store.read_version(), 1_000) is None  # its deadline
        assert answers.get("b", store.read_version(), 10**12) == b"paid"
        other = sqlite3.connect(db_path)
        with other:
            other.execute("DELETE FROM schema_migrations WHERE version < 0")  # writes nothing
        assert answers.get("b", store.read_version(), 0) == b"paid"
        with other:
            other.execute("CREATE TABLE written (x)")
        other.close()
        changed = store.read_version()
        assert changed != version and answers.get("b", changed, 0) is None
        answers.put("c", version, b"worked out before the change")  # too late: not kept
        assert answers.get("c", changed, 0) is None
        for n in range(answers.capacity + 1):  # bounded: a full cache starts again
            answers.put(n, changed, b"x")
        assert answers.get(0, changed, 0) is None and answers.get(answers.capacity, changed, 0)
    finally:
        store.close()


WRITE_IN_ANOTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
for statement in sys.argv[2:]:
    conn.execute(statement)
conn.close()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the wal-index is found in /proc/self/maps")
def test_the_version_is_asked_of_sqlite_only_after_a_commit(db_path: Path) -> None:
    """The status check's version read looks at the wal-index header SQLite has mapped and
    runs a statement only when the header has changed: none while nothing is written, and
    after each commit by another process one, with a new version, whether the commit adds to
    the WAL or starts it over after a checkpoint."""
    store = webqris.Store(str(db_path))
    store.open()
    statements: list[str] = []
    store.read(lambda conn: conn.set_trace_callback(statements.append))
    try:
        versions = [store.read_version()]
        statements.clear()
        assert all(store.read_version() == versions[0] for _ in range(100))
        assert statements == []  # nothing written, nothing asked
        for writes in (["CREATE TABLE written (x)"], ["INSERT INTO written VALUES (1)"],
                       ["PRAGMA wal_checkpoint(TRUNCATE)", "INSERT INTO written VALUES (2)"]):
            subprocess.run([sys.executable, "-c", WRITE_IN_ANOTHER_PROCESS, str(db_path),
                            *writes], check=True, timeout=30)
            statements.clear()
            version = store.read_version()
            assert version not in versions and statements == ["PRAGMA data_version"]
            assert store.read_version() == version and len(statements) == 1
            versions.append(version)
    finally:
        store.close()


def test_expiry_sweep_and_grace(app_factory, merchant: Merchant, db_path: Path) -> None:
    client: TestClient = app_factory(payments={"unique_code_min": 1, "unique_code_max": 2,
                                               "late_grace_seconds": 3600,
                                               "sweep_seconds": 3600})
    short = client.post("/api/payments/qris/create", json={"amount": 1000, "expires_in": 1},
                        headers=merchant.auth).json()
    client.post("/api/payments/qris/create", json={"amount": 1000}, headers=merchant.auth)
    time.sleep(1.05)
    # Past its time, it reads expired before any sweep has run (the sweep waits an hour here).
    status = client.get(f"/api/payments/{short['invoice_id']}/status", headers=merchant.auth)
    assert status.json()["data"]["status"] == "expired"
    # Its total stays out of reuse within the grace period: both codes are taken.
    refused = client.post("/api/payments/qris/create", json={"amount": 1000},
                          headers=merchant.auth)
    assert refused.status_code == 503


def test_sweep_marks_expired_and_frees_total_after_grace(app_factory, merchant: Merchant,
                                                         db_path: Path) -> None:
    client: TestClient = app_factory(payments={"unique_code_min": 1, "unique_code_max": 1,
                                               "late_grace_seconds": 0})
    first = client.post("/api/payments/qris/create", json={"amount": 1000, "expires_in": 1},
                        headers=merchant.auth).json()
    deadline = time.monotonic() + 5
    conn = sqlite3.connect(db_path)
    while time.monotonic() < deadline:
        row = conn.execute("SELECT status FROM invoices WHERE invoice_id = ?",
                           (first["invoice_id"],)).fetchone()
        if row[0] == "expired":
            break
        time.sleep(0.05)
    conn.close()
    assert row[0] == "expired"
    second = client.post("/api/payments/qris/create", json={"amount": 1000},
                         headers=merchant.auth)
    assert second.status_code == 200
    assert second.json()["total_amount"] == first["total_amount"]


def test_other_merchants_totals_do_not_collide(app_factory, db_path: Path) -> None:
    a = add_merchant(db_path, name="A")
    b = add_merchant(db_path, name="B", static_qris=ANOTHER_STATIC_QRIS)
    client = app_factory(payments={"unique_code_min": 1, "unique_code_max": 1})
    for m in (a, b):
        r = client.post("/api/payments/qris/create", json={"amount": 500}, headers=m.auth)
        assert r.status_code == 200 and r.json()["total_amount"] == 501


def test_hot_paths_search_indexes_instead_of_scanning(db_path: Path,
                                                      merchant: Merchant) -> None:
    """A shop's invoices pile up for years: every statement on the paths that run per request
    or per tick must search an index. (A partial index is silently skipped when a query's
    WHERE does not imply the index's, so this is checked on the real statements.)"""
    conn = webqris.connect(str(db_path))
    config = webqris.load_config(None, {})
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    request = webqris.InvoiceRequest(
        merchant_id=merchant.id, static_qris=STATIC_QRIS, amount=25000,
        merchant_order_id="ORD-1", customer_name=None, expires_in=60, redirect_url=None,
        idempotency_key="key-1")
    conn.execute("BEGIN IMMEDIATE")
    row, _ = webqris.create_invoice(conn, request, config.payments)
    # The same order again: the one-statement insert is refused and the order is looked up.
    webqris.create_invoice(conn, dataclasses.replace(request, idempotency_key=None),
                           config.payments)
    # Force the careful path too: every code but one taken.
    webqris.taken_totals(conn, merchant.id, 25001, 25999, 0)
    webqris.find_payable_invoices(conn, merchant.id, row["total_amount"], 0)
    webqris.mark_invoice_paid(conn, row["id"], "callback", None, webqris.now_ms())
    note = webqris.InboundNotification(source="forwarder", app="id.dana", message="x",
                                       notif_id="1", device_id="phone")
    webqris.record_notification(conn, merchant.id, note, None, "id.dana", config.payments)
    webqris.record_notification(conn, merchant.id, note, None, "id.dana", config.payments)
    callback = webqris.InboundNotification(source="callback", reference="optional-reference")
    for _ in range(2):
        webqris.record_notification(conn, merchant.id, callback,
                                    parsers.Parsed(row["total_amount"], None, "callback"),
                                    "callback", config.payments)
    webqris.claim_due_deliveries(conn, webqris.now_ms(), 8, {}, 2)
    webqris.next_delivery_due(conn)
    webqris.expire_overdue_invoices(conn, webqris.now_ms(), webqris.SWEEP_BATCH)
    webqris.purge_idempotency_keys(conn, webqris.now_ms(), webqris.SWEEP_BATCH)
    webqris.purge_notification_keys(conn, webqris.now_ms(), webqris.SWEEP_BATCH)
    webqris.get_invoice(conn, row["invoice_id"], merchant.id)
    webqris.find_merchant_by_secret(conn, "api_token", merchant.api_token)
    webqris.get_invoice_status_for_token_hash(conn, row["invoice_id"],
                                              webqris.hash_secret(merchant.api_token))
    conn.execute("COMMIT")
    conn.set_trace_callback(None)
    checked = 0
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "DELETE")):
            continue
        plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        for step in plan:
            for table in ("invoices", "webhook_deliveries", "webhook_attempts",
                          "notifications", "notification_keys", "idempotency_keys"):
                if step.startswith(f"SCAN {table}"):
                    raise AssertionError(f"{sql}\n scans {table}: {plan}")
            # A search on merchant_id alone walks the shop's whole history.
            if step.startswith("SEARCH invoices") and step.endswith("(merchant_id=?)"):
                raise AssertionError(f"{sql}\n walks the merchant's invoices: {plan}")
        checked += 1
    conn.close()
    assert checked >= 10


def test_facts_refuse_with_domain_errors_never_http_ones() -> None:
    """A fact (a function of a database connection) says what it refuses in domain terms; the
    HTTP status is the edge's business, so the command line never catches an HTTP error."""
    tree = ast.parse(Path(webqris.__file__).read_text())
    facts = [node for node in tree.body if isinstance(node, ast.FunctionDef)
             and node.args.args and node.args.args[0].arg == "conn"]
    assert len(facts) >= 50
    speaking_http = sorted(fact.name for fact in facts for node in ast.walk(fact)
                           if isinstance(node, ast.Name) and node.id == "ApiError")
    assert speaking_http == []
