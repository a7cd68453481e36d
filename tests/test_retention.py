"""Retention: old noise goes (duplicate and test notifications, webhook response excerpts,
expired sessions, old audit entries when configured), money stays, a bounded batch per
transaction while the API keeps answering; `webqris prune --dry-run` only counts."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from conftest import ROOT, Merchant, add_merchant, make_config, start_server
from starlette.testclient import TestClient
from test_alerts import FakeTelegram, alerts_section, start, unmatched
from test_webhooks import query, wait_until

import webqris

DAY_MS = 86_400_000


def forward(client: httpx.Client, merchant: Merchant, **fields: str) -> httpx.Response:
    return client.post("/api/webhook/payment", json=fields,
                       headers={"Authorization": f"Bearer {merchant.callback_secret}"})


def make_history(client: httpx.Client, merchant: Merchant, payer: str) -> str:
    """A matched payment seen twice (a duplicate), an unmatched and an unparsed notification,
    and a forwarder's connection test; returns the created invoice's id."""
    made = client.post("/api/payments/qris/create", json={"amount": 25000},
                       headers=merchant.auth).json()
    total = f"{made['total_amount']:,}".replace(",", ".")
    payment = {"app": "id.dana", "notif_id": f"n-{payer}", "timestamp": "1796000000000",
               "message": f"Kamu berhasil menerima Rp{total} dari {payer}"}
    assert forward(client, merchant, **payment).status_code == 200
    assert forward(client, merchant, **payment).json()["message"] == "Duplicate notification"
    assert forward(client, merchant, app="id.dana", message="Kamu berhasil menerima Rp77.777"
                   f" dari {payer}").json()["message"] == "No matching pending payment"
    assert forward(client, merchant, app="id.dana", message=f"Promo {payer}!").json()[
        "message"] == "Tidak dapat mendeteksi nominal dari notifikasi"
    assert forward(client, merchant, message="test", event_hash="test").json()["test"] is True
    return made["invoice_id"]


def age_everything(db: Path, days: int) -> None:
    """Time passes: every row written so far becomes `days` older."""
    shift = days * DAY_MS
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE notifications SET received_at = received_at - ?", (shift,))
        conn.execute("UPDATE webhook_attempts SET attempted_at = attempted_at - ?", (shift,))
        conn.execute("UPDATE audit_log SET at = at - ?", (shift,))
        conn.execute("UPDATE admin_sessions SET expires_at = expires_at - ?", (shift,))


def outcomes(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(row[0] for row in conn.execute("SELECT outcome FROM notifications"))


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "webqris.py"), *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=60, cwd=db.parent)


def test_prune_removes_old_noise_only_and_dry_run_only_counts(tmp_path: Path,
                                                              app_factory) -> None:
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    client = app_factory()
    make_history(client, merchant, "BUDI")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO audit_log (at, action, target, before, after, address)"
                     " VALUES (?, 'merchant.update', 'merchant:1', NULL, NULL, 'test')",
                     (webqris.now_ms(),))
        conn.execute("INSERT INTO admin_sessions (token_hash, csrf_token, created_at,"
                     " expires_at) VALUES ('old', 'x', 0, ?)", (webqris.now_ms() + 1000,))
    age_everything(db, 31)
    fresh = make_history(client, merchant, "ANI")  # today's noise stays
    client.close()
    everything = outcomes(db)
    assert everything.count("duplicate") == 2 and everything.count("test") == 2

    dry = cli("prune", "--dry-run", db=db)
    assert dry.returncode == 0, dry.stderr
    assert "noise_notifications: 2 would be removed" in dry.stdout
    assert "expired_sessions: 1 would be removed" in dry.stdout
    assert "audit_entries" not in dry.stdout  # kept forever unless configured
    assert outcomes(db) == everything

    done = cli("prune", db=db)
    assert done.returncode == 0, done.stderr
    assert "noise_notifications: 2 removed" in done.stdout
    left = outcomes(db)
    # Every notification that carried money stays, old or new; only the old noise went.
    assert left == sorted([o for o in everything if o not in ("duplicate", "test")]
                          + ["duplicate", "test"])
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM invoices").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM admin_sessions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
        assert conn.execute("SELECT status FROM invoices WHERE invoice_id = ?",
                            (fresh,)).fetchone()[0] == "paid"
    audited = subprocess.run(
        [sys.executable, str(ROOT / "webqris.py"), "prune", "--db", str(db)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "WEBQRIS_RETENTION_AUDIT_DAYS": "30"})
    assert "audit_entries: 1 removed" in audited.stdout, audited.stderr


def test_webhook_excerpts_are_emptied_but_attempts_stay(tmp_path: Path) -> None:
    db = tmp_path / "webqris.db"
    add_merchant(db)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO webhook_deliveries (webhook_id, merchant_id, event, url, body,"
                     " state, next_attempt_at, created_at) VALUES"
                     " ('wh_1', 1, 'payment.paid', 'http://x', x'7b7d', 'delivered', 0, 0)")
        old = webqris.now_ms() - 40 * DAY_MS
        for at in (old, old + 1, webqris.now_ms()):
            conn.execute("INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code,"
                         " duration_ms, response_excerpt) VALUES (1, ?, 200, 5, 'OK body')",
                         (at,))
    assert "webhook_excerpts: 2 removed" in cli("prune", db=db).stdout
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status_code, response_excerpt FROM webhook_attempts"
                            " ORDER BY id").fetchall()
    assert rows == [(200, None), (200, None), (200, "OK body")]


def test_a_batch_is_bounded(tmp_path: Path) -> None:
    db = tmp_path / "webqris.db"
    add_merchant(db)
    store = webqris.Store(str(db))
    store.open()
    try:
        store.write_now(lambda conn: conn.executemany(
            "INSERT INTO notifications (merchant_id, source, message, outcome, received_at)"
            " VALUES (1, 'forwarder', 'x', 'duplicate', ?)", [(n,) for n in range(10)]))
        assert store.write_now(webqris.prune_batch, "noise_notifications", 5, 3) == 3
        # the oldest went first
        left = store.read(lambda conn: [r[0] for r in conn.execute(
            "SELECT received_at FROM notifications ORDER BY received_at")])
        assert left == list(range(3, 10))
    finally:
        store.close()


def test_the_server_prunes_in_batches_while_the_api_keeps_answering(tmp_path: Path) -> None:
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO notifications (merchant_id, source, message, outcome, received_at)"
            " VALUES (1, 'forwarder', ?, ?, ?)",
            [(f"old {n}", "duplicate" if n % 2 else "test", n) for n in range(3000)]
            + [("money", "unmatched", 0)])
    answers: list[int] = []
    server = start_server(db, env={"WEBQRIS_RETENTION_BATCH_SIZE": "100",
                                   "WEBQRIS_RETENTION_INTERVAL_SECONDS": "0.2"})
    try:
        stop = threading.Event()

        def create_invoices() -> None:
            with httpx.Client(base_url=server.base_url, timeout=5) as client:
                while not stop.is_set():
                    answers.append(client.post("/api/payments/qris/create",
                                               json={"amount": 10000 + len(answers)},
                                               headers=merchant.auth).status_code)

        shop = threading.Thread(target=create_invoices)
        shop.start()
        deadline = time.monotonic() + 20
        while outcomes(db) != ["unmatched"]:
            assert time.monotonic() < deadline, "retention did not finish"
            time.sleep(0.05)
        # The pruning can end before the first create is answered; the creates must still
        # have answered, all of them 200.
        while len(answers) < 3:
            assert time.monotonic() < deadline, "no create was answered"
            time.sleep(0.05)
        stop.set()
        shop.join()
    finally:
        server.stop()
    assert answers and set(answers) == {200}
    assert "retention: noise_notifications: 3000 removed" in server.log_path.read_text()


def test_alerts_that_went_out_go_with_their_attempts_and_a_waiting_one_stays(
        tmp_path: Path) -> None:
    """The owner's outbox grows with every alert: after alert_days, alerts sent (or failed
    for good) go with their attempts; one still waiting for its channel stays, however old."""
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    telegram = FakeTelegram()

    def send_alerts(*causes: str) -> None:
        with contextlib.ExitStack() as stack:  # the app stops at the end, its sender too
            client = start(lambda **sections: stack.enter_context(
                TestClient(webqris.create_app(make_config(db, **sections)))),
                db, alerts_section(telegram))
            for cause in causes:
                if cause == "money":
                    unmatched(client, merchant, 77_000)
                else:
                    assert client.post(f"/admin/api/merchants/{merchant.id}/alerts/test"
                                       ).status_code == 200
            wait_until(lambda: not query(db, "SELECT 1 FROM alerts WHERE state != 'sent'"),
                       what="the alerts to be sent")

    try:
        send_alerts("money", "test")
        send_alerts("test")  # today's
    finally:
        telegram.close()
    with sqlite3.connect(db) as conn:
        # Time passes for the first two (the server would prune them itself at its start).
        conn.execute("UPDATE alerts SET created_at = created_at - ? WHERE id <= 2",
                     (91 * DAY_MS,))
        old = webqris.now_ms() - 91 * DAY_MS
        conn.execute("INSERT INTO alerts (merchant_id, kind, channel, language, facts, state,"
                     " attempts, next_attempt_at, created_at) VALUES"
                     " (1, 'test', 'telegram', 'id', '{}', 'pending', 0, ?, ?)", (old, old))
        waiting = conn.execute("SELECT max(id) FROM alerts").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM alert_attempts").fetchone()[0] == 3

    kept = subprocess.run([sys.executable, str(ROOT / "webqris.py"), "prune", "--db", str(db)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WEBQRIS_RETENTION_ALERT_DAYS": "0"})
    assert kept.returncode == 0 and "alerts" not in kept.stdout, kept.stdout + kept.stderr
    assert "alerts: 2 would be removed" in cli("prune", "--dry-run", db=db).stdout
    done = cli("prune", db=db)
    assert "alerts: 2 removed" in done.stdout, done.stdout + done.stderr
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT id, kind, state FROM alerts ORDER BY id").fetchall()
        attempts = conn.execute("SELECT alert_id FROM alert_attempts").fetchall()
    assert [(kind, state) for _, kind, state in left] == [("test", "sent"), ("test", "pending")]
    assert left[1][0] == waiting
    assert attempts == [(left[0][0],)]  # today's alert's attempt; none of a removed alert
