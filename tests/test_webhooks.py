"""Payments out: the signed webhook, its retries, its outbox surviving kill -9, and the seed's own
receivers accepting it. Every receiver here is a real HTTP server on loopback."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import STATIC_QRIS, Merchant, add_account, add_merchant, free_port
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.testclient import TestClient

import webqris

RECEIVERS = Path(__file__).resolve().parent / "receivers"
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SEED_DATA_KEYS = ["invoice_id", "merchant_order_id", "amount", "unique_code", "total_amount",
                  "customer_name", "status", "payment_method", "paid_at"]


# --- a real receiver ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hang:
    """Answer nothing for `seconds` (or until the test ends), then `status`."""
    seconds: float
    status: int = 200


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival, before answering


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records every request and answers each with
    the next action of its plan (a status, or a Hang), then with `default`."""

    def __init__(self, port: int = 0, default: int | Hang = 200) -> None:
        self.requests: list[Received] = []
        self.plan: list[int | Hang] = []
        self.default = default
        self.released = threading.Event()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = receiver._arrived(Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                    time.monotonic()))
                status = action
                if isinstance(action, Hang):
                    receiver.released.wait(action.seconds)
                    status = action.status
                answer = json.dumps({"received": True, "status": status,
                                     "note": "ok" if status < 300 else "boom"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender gave up on us (timeout, kill -9)
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webhook/qris"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _arrived(self, request: Received) -> int | Hang:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
            return self.plan.pop(0) if self.plan else self.default

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"the receiver got {len(self.requests)} requests within"
                                     f" {timeout} s, expected {count}")
            return list(self.requests)

    def count(self) -> int:
        with self._cond:
            return len(self.requests)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    receivers: list[Receiver] = []

    def start(port: int = 0, default: int | Hang = 200) -> Receiver:
        receiver = Receiver(port, default)
        receivers.append(receiver)
        return receiver

    yield start
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def receiver(receiver_factory: Callable[..., Receiver]) -> Receiver:
    return receiver_factory()


# --- helpers -------------------------------------------------------------------------------------


def pay(client: TestClient | httpx.Client, merchant: Merchant, amount: int = 25000,
        **fields: object) -> dict:
    """Creates an invoice and pays it through callback/notify; returns the create response."""
    created = client.post("/api/payments/qris/create", json={"amount": amount, **fields},
                          headers=merchant.auth)
    assert created.status_code == 200, created.text
    invoice = created.json()
    paid = client.post("/api/callback/notify",
                       json={"amount": invoice["total_amount"], "sender_name": "JOHN DOE"},
                       headers={"X-Callback-Key": merchant.callback_secret})
    assert paid.status_code == 200 and paid.json()["success"] is True, paid.text
    return invoice


def query(db_path: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Reads the SQLite file directly, as an operator with the sqlite3 shell would."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def delivery_of(db_path: Path, invoice_id: str) -> sqlite3.Row:
    rows = query(db_path, "SELECT d.* FROM webhook_deliveries d JOIN invoices i"
                          " ON i.id = d.invoice_id WHERE i.invoice_id = ?", invoice_id)
    assert len(rows) == 1, f"{len(rows)} deliveries for {invoice_id}"
    return rows[0]


def attempts_of(db_path: Path, delivery_id: int) -> list[sqlite3.Row]:
    return query(db_path, "SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id",
                 delivery_id)


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def wait_for_state(db_path: Path, delivery_id: int, state: str,
                   timeout: float = 10.0) -> sqlite3.Row:
    def check() -> sqlite3.Row | None:
        row = query(db_path, "SELECT * FROM webhook_deliveries WHERE id = ?", delivery_id)[0]
        return row if row["state"] == state else None
    return wait_until(check, timeout, f"delivery {delivery_id} to be {state}")


def seed_signature_ok(request: Received, secret: str) -> bool:
    """The seed receivers' check: hex HMAC-SHA256 of the raw body, keyed with the whole secret."""
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(request.headers["x-webhook-signature"], expected)
            and hmac.compare_digest(request.headers["x-signature"], expected))


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path,
                  timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"receiver exited: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"receiver did not listen on {port}: {log.read_text()}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# --- what is sent ------------------------------------------------------------------------------


def test_seed_signature_body_and_headers(app_factory, db_path: Path, receiver: Receiver) -> None:
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    client = app_factory()
    invoice = pay(client, merchant, 25000, merchant_order_id="ORDER-001",
                  customer_name="John Doe")

    [request] = receiver.wait_for(1)
    assert request.path == "/webhook/qris"
    assert seed_signature_ok(request, merchant.webhook_secret)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "WebQRIS-Webhook/1.0"
    delivery = delivery_of(db_path, invoice["invoice_id"])
    assert request.headers["x-webhook-id"] == delivery["webhook_id"]
    assert bytes(delivery["body"]) == request.body  # the stored bytes are the sent bytes

    payload = json.loads(request.body)
    assert list(payload) == ["event", "data"]
    assert payload["event"] == "payment.paid"
    assert list(payload["data"]) == SEED_DATA_KEYS
    status = client.get(f"/api/payments/{invoice['invoice_id']}/status",
                        headers=merchant.auth).json()["data"]
    assert payload["data"] == {
        "invoice_id": invoice["invoice_id"], "merchant_order_id": "ORDER-001",
        "amount": 25000, "unique_code": invoice["unique_code"],
        "total_amount": invoice["total_amount"], "customer_name": "John Doe",
        "status": "paid", "payment_method": "callback", "paid_at": status["paid_at"],
    }
    assert ISO_MS_Z.match(payload["data"]["paid_at"])

    # A body signed with another secret, or altered by one byte, fails the seed's check.
    assert not seed_signature_ok(request, "whsec_" + base64.b64encode(b"x" * 32).decode())
    assert not seed_signature_ok(dataclasses.replace(request, body=request.body + b" "),
                                 merchant.webhook_secret)
    done = wait_for_state(db_path, delivery["id"], "delivered")
    assert done["attempts"] == 1 and done["last_status_code"] == 200


def test_standard_webhooks_library_verifies_and_rejects_replay(app_factory, db_path: Path,
                                                               receiver: Receiver) -> None:
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    client = app_factory()
    invoice = pay(client, merchant)
    [request] = receiver.wait_for(1)

    wh = Webhook(merchant.webhook_secret)
    payload = wh.verify(request.body, request.headers)
    assert payload["data"]["invoice_id"] == invoice["invoice_id"]
    assert request.headers["webhook-id"] == request.headers["x-webhook-id"]
    timestamp = int(request.headers["webhook-timestamp"])
    assert abs(timestamp - time.time()) < 30
    # The library's own signing of (id, timestamp, body) is what we sent.
    sent_at = datetime.fromtimestamp(timestamp, tz=UTC)
    assert request.headers["webhook-signature"] == wh.sign(
        request.headers["webhook-id"], sent_at, request.body.decode())

    with pytest.raises(WebhookVerificationError):
        wh.verify(request.body.replace(b"JOHN", b"JANE") + b" ", request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"y" * 32).decode()).verify(request.body,
                                                                         request.headers)
    # A replay: the same message, genuinely signed, but ten minutes old.
    old = datetime.fromtimestamp(timestamp - 600, tz=UTC)
    replay = {**request.headers, "webhook-timestamp": str(timestamp - 600),
              "webhook-signature": wh.sign(request.headers["webhook-id"], old,
                                           request.body.decode())}
    assert replay["webhook-signature"] == webqris.webhook_headers(
        merchant.webhook_secret, request.headers["webhook-id"], request.body,
        timestamp - 600)["webhook-signature"]
    with pytest.raises(WebhookVerificationError, match="too old"):
        wh.verify(request.body, replay)


def rotate_webhook_secret(db_path: Path, merchant: Merchant, overlap_seconds: int) -> dict:
    """`webqris merchant rotate --secret webhook_secret`, as the shop's operator runs it."""
    done = subprocess.run(
        [sys.executable, str(Path(webqris.__file__)), "merchant", "rotate", str(merchant.id),
         "--secret", "webhook_secret", "--json", "--db", str(db_path)],
        env={**os.environ, "WEBQRIS_WEBHOOKS_SECRET_OVERLAP_SECONDS": str(overlap_seconds)},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_rotated_webhook_secret_still_verifies_during_the_overlap(
        app_factory, db_path: Path, receiver: Receiver) -> None:
    """Standard Webhooks receivers keep verifying with the old secret while the shop installs
    the new one; the seed's single-signature headers switch to the new secret at once."""
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    client = app_factory()
    rotated = rotate_webhook_secret(db_path, merchant, overlap_seconds=3600)
    new_secret = rotated["webhook_secret"]
    until = datetime.fromisoformat(rotated["previous_webhook_secret_until"])
    assert 3590 < (until - datetime.now(UTC)).total_seconds() <= 3600

    pay(client, merchant, 25000)
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (merchant.webhook_secret, new_secret):  # before and after the shop updates
        assert Webhook(secret).verify(request.body, request.headers)["event"] == "payment.paid"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"z" * 32).decode()).verify(request.body,
                                                                         request.headers)
    assert seed_signature_ok(request, new_secret)
    assert not seed_signature_ok(request, merchant.webhook_secret)

    # Rotating with no overlap: only the newest secret signs, the one before no longer does.
    newest = rotate_webhook_secret(db_path, merchant, overlap_seconds=0)
    assert newest["previous_webhook_secret_until"] is None
    pay(client, merchant, 26000)
    request = receiver.wait_for(2)[1]
    assert " " not in request.headers["webhook-signature"]
    Webhook(newest["webhook_secret"]).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret).verify(request.body, request.headers)


def test_previous_webhook_secret_stops_signing_when_the_overlap_ends(
        app_factory, db_path: Path, receiver: Receiver) -> None:
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    client = app_factory()
    rotated = rotate_webhook_secret(db_path, merchant, overlap_seconds=1)
    until = datetime.fromisoformat(rotated["previous_webhook_secret_until"])
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    pay(client, merchant)
    [request] = receiver.wait_for(1)
    Webhook(rotated["webhook_secret"]).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(merchant.webhook_secret).verify(request.body, request.headers)


# --- retries -------------------------------------------------------------------------------------


def test_fail_fail_succeed_is_delivered_on_the_third_attempt(app_factory, db_path: Path,
                                                             receiver: Receiver) -> None:
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    client = app_factory(webhooks={"retry_delays": (0.2, 0.4, 0.8)})
    receiver.plan = [500, 503]
    invoice = pay(client, merchant)

    requests = receiver.wait_for(3)
    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "delivered")
    first, second, third = requests
    # Each retry waits at least its delay (ms rounding aside); generous upper bounds.
    assert 0.19 <= second.at - first.at < 0.2 + 3
    assert 0.39 <= third.at - second.at < 0.4 + 3
    for request in requests:
        assert request.body == first.body == bytes(delivery["body"])
        assert request.headers["x-webhook-id"] == request.headers["webhook-id"] \
            == delivery["webhook_id"]
        assert seed_signature_ok(request, merchant.webhook_secret)
        Webhook(merchant.webhook_secret).verify(request.body, request.headers)

    assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200
    assert delivery["delivered_at"] is not None and delivery["last_error"] is None
    attempts = attempts_of(db_path, delivery["id"])
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert [a["error"] for a in attempts] == ["HTTP 500", "HTTP 503", None]
    assert all(isinstance(a["duration_ms"], int) and 0 <= a["duration_ms"] < 5000
               for a in attempts)
    assert [a["attempted_at"] for a in attempts] == sorted(a["attempted_at"] for a in attempts)
    assert json.loads(attempts[0]["response_excerpt"])["note"] == "boom"
    time.sleep(0.3)
    assert receiver.count() == 3  # delivered: nothing more is sent


@pytest.mark.parametrize("unreachable", [False, True], ids=["http-500", "connection-refused"])
def test_all_attempts_fail(app_factory, db_path: Path, receiver_factory,
                           unreachable: bool) -> None:
    receiver = receiver_factory(default=500)
    url = f"http://127.0.0.1:{free_port()}/hook" if unreachable else receiver.url
    merchant = add_merchant(db_path, webhook_url=url)
    delays = (0.1, 0.2)
    client = app_factory(webhooks={"retry_delays": delays})
    invoice = pay(client, merchant)

    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "failed")
    assert delivery["attempts"] == 1 + len(delays)
    attempts = attempts_of(db_path, delivery["id"])
    assert len(attempts) == 1 + len(delays)
    if unreachable:
        assert all(a["status_code"] is None and "ConnectError" in a["error"] for a in attempts)
        assert delivery["last_status_code"] is None
    else:
        assert receiver.count() == 1 + len(delays)
        assert all(a["status_code"] == 500 and a["error"] == "HTTP 500" for a in attempts)
        assert delivery["last_status_code"] == 500 and delivery["last_error"] == "HTTP 500"
    # Given up: nothing more, however long we wait (longer than the longest delay).
    time.sleep(0.5)
    assert len(attempts_of(db_path, delivery["id"])) == 1 + len(delays)
    assert receiver.count() == (0 if unreachable else 1 + len(delays))


def test_a_url_httpx_cannot_even_try_fails_instead_of_sticking_in_sending(
        app_factory, db_path: Path) -> None:
    # Regression: port 99999 passes the URL check but makes httpx raise an ExceptionGroup
    # (not an httpx.HTTPError); the delivery task died and the row stayed 'sending' for good.
    merchant = add_merchant(db_path, webhook_url="http://127.0.0.1:99999/hook")
    client = app_factory(webhooks={"retry_delays": (0.05,)})
    invoice = pay(client, merchant)
    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "failed", timeout=5)
    attempts = attempts_of(db_path, delivery["id"])
    assert len(attempts) == 2 and all(a["error"] for a in attempts)


# --- timeouts, and one merchant's hanging server --------------------------------------------------


def test_hanging_receiver_times_out_and_does_not_delay_other_merchants(
        app_factory, db_path: Path, receiver_factory) -> None:
    hanging = receiver_factory(default=Hang(30))
    healthy = receiver_factory()
    shop_a = add_merchant(db_path, "Toko A", webhook_url=hanging.url)
    shop_b = add_merchant(db_path, "Toko B", webhook_url=healthy.url)
    timeout = 2.0
    client = app_factory(webhooks={"timeout_seconds": timeout, "retry_delays": (),
                                   "concurrency": 8})
    store = client.app.state.ctx.store

    # Eight of A's payments commit in one transaction (as one group commit does), so all
    # eight deliveries fall due at once, as many as there are delivery slots.
    invoices = [client.post("/api/payments/qris/create", json={"amount": 10000},
                            headers=shop_a.auth).json() for _ in range(8)]
    row_ids = [query(db_path, "SELECT id FROM invoices WHERE invoice_id = ?",
                     inv["invoice_id"])[0]["id"] for inv in invoices]

    def pay_all(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return [webqris.mark_invoice_paid(conn, row_id, "callback", "JOHN DOE",
                                          webqris.now_ms()) for row_id in row_ids]

    assert all(client.portal.call(store.write, pay_all))
    hanging.wait_for(2)  # several of A's deliveries are in flight, hanging

    started = time.monotonic()
    invoice_b = pay(client, shop_b)
    [request] = healthy.wait_for(1, timeout=timeout * 3)
    assert request.at - started < timeout / 2, "B waited for A's hanging server"
    assert json.loads(request.body)["data"]["invoice_id"] == invoice_b["invoice_id"]
    assert hanging.count() >= 2
    wait_for_state(db_path, delivery_of(db_path, invoice_b["invoice_id"])["id"], "delivered")

    # A's attempts end as failures that say why, after about timeout_seconds.
    def timed_out() -> list[sqlite3.Row]:
        return query(db_path, "SELECT a.* FROM webhook_attempts a JOIN webhook_deliveries d"
                              " ON d.id = a.delivery_id WHERE d.merchant_id = ?", shop_a.id)
    failures = wait_until(timed_out, timeout * 4, "A's attempts to time out")
    for attempt in failures:
        assert attempt["status_code"] is None
        assert "timeout" in attempt["error"].lower()
        assert attempt["duration_ms"] >= timeout * 1000 * 0.9
    failed = wait_for_state(db_path, failures[0]["delivery_id"], "failed")
    assert "timeout" in failed["last_error"].lower()


# --- the outbox survives kill -9 ----------------------------------------------------------------


def test_kill_9_between_paid_and_delivery_delivers_exactly_once(
        db_path: Path, server_factory, receiver_factory) -> None:
    port = free_port()  # the shop's server is down: nothing listens here yet
    merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:{port}/webhook/qris")
    env = {"WEBQRIS_WEBHOOKS_RETRY_DELAYS": "1,1,1"}
    server = server_factory(db_path, env=env)
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        invoice = pay(http, merchant)
    server.stop(kill=True)

    before = delivery_of(db_path, invoice["invoice_id"])  # durable, and not delivered
    assert before["state"] in ("pending", "sending")
    receiver = receiver_factory(port=port)
    server_factory(db_path, env=env)

    [request] = receiver.wait_for(1)
    assert request.body == bytes(before["body"])
    assert request.headers["x-webhook-id"] == before["webhook_id"]
    assert seed_signature_ok(request, merchant.webhook_secret)
    wait_for_state(db_path, before["id"], "delivered")
    time.sleep(0.5)
    assert receiver.count() == 1


def test_delivery_interrupted_while_sending_is_resent_after_restart(
        db_path: Path, server_factory, receiver: Receiver) -> None:
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    env = {"WEBQRIS_WEBHOOKS_TIMEOUT_SECONDS": "30"}
    receiver.plan = [Hang(30)]
    server = server_factory(db_path, env=env)
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        invoice = pay(http, merchant)
    receiver.wait_for(1)
    assert delivery_of(db_path, invoice["invoice_id"])["state"] == "sending"
    server.stop(kill=True)

    server_factory(db_path, env=env)
    first, second = receiver.wait_for(2)
    assert second.body == first.body
    assert second.headers["x-webhook-id"] == first.headers["x-webhook-id"]
    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "delivered")
    # The interrupted attempt left no row (it never finished); the resend is logged.
    assert [a["status_code"] for a in attempts_of(db_path, delivery["id"])] == [200]


# --- who gets deliveries, and by hand -------------------------------------------------------------


def test_merchant_without_webhook_url_gets_no_delivery(app_factory, db_path: Path) -> None:
    merchant = add_merchant(db_path, webhook_url=None)
    client = app_factory()
    invoice = pay(client, merchant)
    assert client.get(f"/api/payments/{invoice['invoice_id']}/status",
                      headers=merchant.auth).json()["data"]["status"] == "paid"
    assert query(db_path, "SELECT count(*) FROM webhook_deliveries")[0][0] == 0
    store = client.app.state.ctx.store
    with pytest.raises(webqris.BadInput):
        client.portal.call(store.write, webqris.queue_test_webhook, merchant.id)


def test_redeliver_and_test_webhook(app_factory, db_path: Path, receiver: Receiver) -> None:
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    client = app_factory()
    store = client.app.state.ctx.store
    delays = client.app.state.ctx.config.webhooks.retry_delays
    invoice = pay(client, merchant)
    [first] = receiver.wait_for(1)
    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "delivered")

    # Redeliver through the running app's store, on the app's loop.
    row = client.portal.call(store.write, webqris.redeliver, delivery["id"], delays,
                             webqris.now_ms())
    assert row["state"] == "pending"
    with pytest.raises(webqris.Conflict):  # already queued
        client.portal.call(store.write, webqris.redeliver, delivery["id"], delays,
                           webqris.now_ms())
    _, again = receiver.wait_for(2)
    assert again.body == first.body
    assert again.headers["x-webhook-id"] == first.headers["x-webhook-id"]
    redelivered = wait_for_state(db_path, delivery["id"], "delivered")
    assert redelivered["attempts"] == 2
    with pytest.raises(webqris.NotFound):
        client.portal.call(store.write, webqris.redeliver, 999999, delays, webqris.now_ms())

    # A test webhook: signed like the real thing, but never payment.paid.
    test_id = client.portal.call(store.write, webqris.queue_test_webhook, merchant.id)
    _, _, test = receiver.wait_for(3)
    payload = json.loads(test.body)
    assert payload["event"] == "webhook.test"
    assert payload["data"]["merchant_name"] == merchant.name
    assert ISO_MS_Z.match(payload["data"]["sent_at"])
    assert seed_signature_ok(test, merchant.webhook_secret)
    Webhook(merchant.webhook_secret).verify(test.body, test.headers)
    assert test.headers["x-webhook-id"] != first.headers["x-webhook-id"]
    wait_for_state(db_path, test_id, "delivered")


def test_a_test_webhook_is_tried_once(app_factory, db_path: Path, receiver: Receiver) -> None:
    # The seed's receivers answer webhook.test with 400 "Invalid event": that is the answer
    # the owner is waiting for, not a reason to knock three more times.
    merchant = add_merchant(db_path, webhook_url=receiver.url)
    receiver.plan = [400, 400, 400, 400]
    client = app_factory()
    store = client.app.state.ctx.store
    test_id = client.portal.call(store.write, webqris.queue_test_webhook, merchant.id)
    failed = wait_for_state(db_path, test_id, "failed")
    assert failed["attempts"] == 1 and failed["last_status_code"] == 400
    time.sleep(0.4)  # longer than every configured retry delay together
    assert receiver.count() == 1


def test_test_webhook_clicks_queue_one_test_and_do_not_hold_back_a_payment(
        app_factory, db_path: Path, receiver: Receiver) -> None:
    # The sender takes a shop's deliveries oldest first: each click queued one more test
    # ahead of the next payment.paid (20 clicks held it back 30 s behind a 3 s receiver).
    from test_accounts import login

    merchant = add_merchant(db_path, webhook_url=receiver.url)
    add_account(db_path, "manajer", "manager", (merchant.id,))
    receiver.plan = [Hang(10)]  # the first test waits for an answer while the owner clicks on
    client = app_factory()
    manager = login(client, "manajer")
    clicks = [manager.post(f"/admin/api/merchants/{merchant.id}/test-webhook")
              for _ in range(20)]
    assert {click.status_code for click in clicks} == {200}
    [test_id] = {click.json()["delivery_id"] for click in clicks}
    assert len(query(db_path, "SELECT id FROM webhook_deliveries"
                              " WHERE event = 'webhook.test'")) == 1

    invoice = pay(client, merchant)
    receiver.released.set()
    paid = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                          "delivered")
    assert paid["attempts"] == 1
    wait_for_state(db_path, test_id, "delivered")
    assert receiver.count() == 2
    # Once that test is answered, the next click sends a new one.
    again = manager.post(f"/admin/api/merchants/{merchant.id}/test-webhook")
    assert again.status_code == 200 and again.json()["delivery_id"] != test_id
    receiver.wait_for(3)


def test_a_compressed_answer_is_kept_as_sent_and_never_inflated(app_factory,
                                                                 db_path: Path) -> None:
    # A receiver's gzip answer of 1 MB (1 GB of zeros) took 123 MB of the server's memory to
    # inflate, for an excerpt of 1 KB: the sender asks for no compression and reads the bytes
    # as they come.
    import gzip

    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    asked: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            asked.append(self.headers.get("Accept-Encoding"))
            self.send_response(200)  # as a receiver that compresses whatever it is asked
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(bomb)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:"
                                                     f"{server.server_address[1]}/hook")
        client = app_factory()
        invoice = pay(client, merchant)
        delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                                  "delivered")
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["identity"]
    [attempt] = attempts_of(db_path, delivery["id"])
    assert attempt["status_code"] == 200
    assert attempt["response_excerpt"] == bomb[:1024].decode("utf-8", "replace")


def test_redeliver_after_the_url_was_removed_sends_nothing(app_factory, db_path: Path,
                                                           receiver: Receiver) -> None:
    # Redelivering fell back to the address the payment was first sent to: an admin removed
    # a URL that was no longer the shop's, and a manager's click still sent it the payment.
    from test_accounts import login

    merchant = add_merchant(db_path, webhook_url=receiver.url)
    add_account(db_path, "pemilik", "admin")
    add_account(db_path, "manajer", "manager", (merchant.id,))
    client = app_factory()
    invoice = pay(client, merchant)
    receiver.wait_for(1)
    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "delivered")
    removed = login(client, "pemilik").patch(f"/admin/api/merchants/{merchant.id}",
                                             json={"webhook_url": None})
    assert removed.status_code == 200, removed.text
    refused = login(client, "manajer").post(f"/admin/api/webhooks/{delivery['id']}/redeliver")
    assert refused.status_code == 400
    assert refused.json() == {"success": False, "message": "Set the merchant's webhook URL first",
                              "error_code": "webhook_url_missing"}
    time.sleep(0.3)  # longer than the sender's poll
    assert receiver.count() == 1
    assert query(db_path, "SELECT state FROM webhook_deliveries WHERE id = ?",
                 delivery["id"])[0]["state"] == "delivered"


def test_retries_go_to_the_url_of_now(app_factory, db_path: Path,
                                      receiver_factory: Callable[..., Receiver]) -> None:
    # Retries went on to the address the payment was first sent to, after an admin had
    # removed it (no longer the shop's) or moved it (the shop's new server got nothing).
    from test_accounts import login

    old, new = receiver_factory(default=500), receiver_factory()
    merchant = add_merchant(db_path, webhook_url=old.url)
    add_account(db_path, "pemilik", "admin")
    client = app_factory(webhooks={"retry_delays": (0.3, 0.3, 0.3)})
    admin = login(client, "pemilik")

    moved = pay(client, merchant, 25000)
    old.wait_for(1)
    assert admin.patch(f"/admin/api/merchants/{merchant.id}",
                       json={"webhook_url": new.url}).status_code == 200
    delivered = wait_for_state(db_path, delivery_of(db_path, moved["invoice_id"])["id"],
                               "delivered")
    assert delivered["attempts"] == 2 and delivered["url"] == new.url
    assert json.loads(new.wait_for(1)[0].body)["data"]["invoice_id"] == moved["invoice_id"]

    assert admin.patch(f"/admin/api/merchants/{merchant.id}",
                       json={"webhook_url": old.url}).status_code == 200
    removed = pay(client, merchant, 26000)
    old.wait_for(2)
    assert admin.patch(f"/admin/api/merchants/{merchant.id}",
                       json={"webhook_url": None}).status_code == 200
    failed = wait_for_state(db_path, delivery_of(db_path, removed["invoice_id"])["id"],
                            "failed")
    assert failed["attempts"] == 2
    assert failed["last_error"] == "not sent: the merchant's webhook URL was removed"
    time.sleep(1)  # longer than the retries that were left
    assert old.count() == 2 and new.count() == 1


def test_redeliver_after_fixing_the_url_goes_to_the_new_url(app_factory, db_path: Path,
                                                            receiver: Receiver) -> None:
    # The shop's server was at a dead address; the owner fixes the URL, then redelivers.
    merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:{free_port()}/old")
    client = app_factory(webhooks={"retry_delays": (0.05,)})
    store = client.app.state.ctx.store
    invoice = pay(client, merchant)
    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "failed")
    assert client.portal.call(lambda: store.write(webqris.update_merchant, merchant.id,
                                                  webhook_url=receiver.url))
    client.portal.call(store.write, webqris.redeliver, delivery["id"], (0.05,),
                       webqris.now_ms())
    [request] = receiver.wait_for(1)
    assert request.body == bytes(delivery["body"])
    assert request.headers["x-webhook-id"] == delivery["webhook_id"]
    done = wait_for_state(db_path, delivery["id"], "delivered")
    assert done["url"] == receiver.url and done["attempts"] == 3


# --- the seed's own receivers --------------------------------------------------------------------


def served_receivers(tmp_path: Path, name: str, command: Callable[[int], list[str]],
                     path: str) -> Iterator[Callable[[str], str]]:
    """Starts one of the seed's receivers per call (its command for a port, run in
    tests/receivers with WEBHOOK_SECRET and PORT set) and gives its URL; stops them all."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(secret: str) -> str:
        port = free_port()
        log = tmp_path / f"{name}-{port}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command(port), cwd=RECEIVERS, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)})
        processes.append(process)
        wait_for_port(port, process, log)
        return f"http://127.0.0.1:{port}{path}"

    yield start
    for process in processes:
        stop_process(process)


@pytest.fixture
def express_receiver(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot run the seed's Express receiver")
    if not (RECEIVERS / "node_modules" / "express").is_dir():
        pytest.fail("express is not installed: run"
                    " `npm install --prefix tests/receivers --no-audit --no-fund`")
    yield from served_receivers(tmp_path, "express", lambda port: [node, "express_receiver.js"],
                                "/webhook/qris")


@pytest.fixture
def nextjs_receiver(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """The seed's Next.js route handler, served under plain Node as Next.js calls it."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot run the seed's Next.js receiver")
    yield from served_receivers(
        tmp_path, "nextjs", lambda port: [node, "nextjs_routes.mjs", str(port),
                                          "/api/webhook/qris=nextjs_webhook_route.mjs"],
        "/api/webhook/qris")


@pytest.fixture
def php_receiver(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    php = shutil.which("php")
    if php is None:
        pytest.skip("php is not installed: cannot run the seed's plain-PHP receiver")
    yield from served_receivers(
        tmp_path, "php", lambda port: [php, "-S", f"127.0.0.1:{port}", "php_receiver.php"],
        "/webhook/qris")


def _seed_receiver_accepts_our_webhook(app_factory, db_path: Path,
                                       start: Callable[[str], str]) -> None:
    issued = webqris.issue_merchant_secrets()
    url = start(issued["webhook_secret"])
    store = webqris.Store(str(db_path))
    store.open()
    try:
        merchant_id = store.write_now(webqris.insert_merchant, "Toko ABC",
                                      STATIC_QRIS, url, issued)
    finally:
        store.close()
    merchant = Merchant(id=merchant_id, name="Toko ABC", **issued)
    client = app_factory()
    # A name beyond ASCII: the body is UTF-8, and the receiver's string round trip keeps it.
    invoice = pay(client, merchant, 25000, merchant_order_id="ORDER-001",
                  customer_name="Siti Ñurhaliza 🛒")

    delivery = wait_for_state(db_path, delivery_of(db_path, invoice["invoice_id"])["id"],
                              "delivered")
    [attempt] = attempts_of(db_path, delivery["id"])
    assert attempt["status_code"] == 200
    assert json.loads(attempt["response_excerpt"]) == {
        "success": True, "invoice_id": invoice["invoice_id"],
        "merchant_order_id": "ORDER-001", "status": "paid"}

    # The test event passes the signature check and is refused as "Invalid event": the
    # answer that proves a receiver's secret is right.
    test_id = client.portal.call(client.app.state.ctx.store.write, webqris.queue_test_webhook,
                                 merchant.id)
    failed = wait_for_state(db_path, test_id, "failed")
    first_try = attempts_of(db_path, failed["id"])[0]
    assert first_try["status_code"] == 400
    assert json.loads(first_try["response_excerpt"]) == {"success": False,
                                                         "message": "Invalid event"}


def test_seed_express_receiver_accepts_our_webhook(app_factory, db_path: Path,
                                                   express_receiver) -> None:
    _seed_receiver_accepts_our_webhook(app_factory, db_path, express_receiver)


def test_seed_php_receiver_accepts_our_webhook(app_factory, db_path: Path,
                                               php_receiver) -> None:
    _seed_receiver_accepts_our_webhook(app_factory, db_path, php_receiver)


def test_seed_nextjs_receiver_accepts_our_webhook(app_factory, db_path: Path,
                                                  nextjs_receiver) -> None:
    _seed_receiver_accepts_our_webhook(app_factory, db_path, nextjs_receiver)
