"""Hardening: secrets never reach the logs; an unexpected error is a clean 500; the public
endpoints are cheap and safe to show (QR images drawn once, security headers, clean text)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from conftest import Merchant, add_merchant
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

import webqris

PASSWORD = "a very secret admin password"


def test_full_flow_logs_no_secret(db_path: Path, server_factory) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    store.close()
    merchant = add_merchant(db_path, webhook_url="http://127.0.0.1:9/unreachable")
    server = server_factory(db_path, env={"WEBQRIS_SERVER_ACCESS_LOG": "true",
                                          "WEBQRIS_WEBHOOKS_RETRY_DELAYS": "0.05"})
    base = server.base_url

    async def flow() -> None:
        async with httpx.AsyncClient(base_url=base) as http, \
                connect(base.replace("http", "ws") + f"/ws/merchant?token={merchant.api_token}"):
            invoice = (await http.post("/api/payments/qris/create", json={"amount": 5000},
                                       headers=merchant.auth)).json()
            await http.get(f"/api/payments/{invoice['invoice_id']}/status",
                           headers=merchant.auth)
            await http.post("/api/webhook/payment", json={"message": "test", "event_hash": "test"},
                            headers={"Authorization": f"Bearer {merchant.callback_secret}"})
            await http.post("/api/callback/notify", json={"amount": invoice["total_amount"]},
                            headers={"X-Callback-Key": merchant.callback_secret})
            # Wrong credentials too: a mistyped secret is still a secret.
            await http.post("/api/payments/qris/create", json={"amount": 1},
                            headers={"Authorization": f"Bearer {merchant.api_token}x"})
            login = await http.post("/admin/api/login", json={"password": PASSWORD})
            assert login.status_code == 200
            await http.post("/admin/api/login", json={"password": PASSWORD + "typo"})
            await asyncio.sleep(0.5)  # let the webhook fail and retry, and be logged

    asyncio.run(flow())
    server.stop()
    log = server.log_path.read_text()
    assert "/ws/merchant" in log and "/api/payments/qris/create" in log  # the access log ran
    assert "webhook" in log.lower()
    for secret in (merchant.api_token, merchant.callback_secret, merchant.webhook_secret,
                   PASSWORD):
        assert secret not in log
        assert secret[:-1] not in log


def resident_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def test_password_checks_give_their_memory_back(db_path: Path, server_factory) -> None:
    """Each check's scrypt takes 16 MB on purpose; after a burst of wrong passwords the server
    is no bigger than before it (glibc kept one such block for good: 16 MB more)."""
    add_merchant(db_path)
    server = server_factory(db_path, env={
        "WEBQRIS_ADMIN_LOGIN_MAX_FAILURES": "100",
        "WEBQRIS_ADMIN_LOGIN_MAX_ATTEMPTS_TOTAL": "100",
        "WEBQRIS_ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME": "100"})
    before = resident_mb(server.process.pid)
    for _ in range(8):
        wrong = httpx.post(f"{server.base_url}/admin/api/login", json={"password": "salah"})
        assert wrong.status_code == 401
    assert resident_mb(server.process.pid) - before < 8


def test_unexpected_error_is_a_clean_500(db_path: Path, server_factory) -> None:
    merchant = add_merchant(db_path)
    server = server_factory(db_path)
    invoice = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 5000},
                         headers=merchant.auth).json()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE invoices SET paid_at = 'garbage' WHERE invoice_id = ?",
                 (invoice["invoice_id"],))
    conn.commit()
    conn.close()
    response = httpx.get(f"{server.base_url}/api/payments/{invoice['invoice_id']}/status",
                         headers=merchant.auth)
    assert response.status_code == 500
    assert response.json() == {"success": False, "message": "Internal server error"}
    assert "Traceback" not in response.text
    # The server keeps serving.
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


# --- QR images: drawn once, then revalidated for free ------------------------------------------


@pytest.mark.parametrize("kind", ["svg", "png"])
def test_qr_image_is_drawn_once_and_revalidates_with_304(client: TestClient, merchant: Merchant,
                                                        kind: str) -> None:
    invoice = client.post("/api/payments/qris/create", json={"amount": 31_000},
                          headers=merchant.auth).json()
    url = f"/pay/{invoice['invoice_id']}/qr.{kind}"
    webqris.render_qr_image.cache_clear()
    first = client.get(url)
    assert first.status_code == 200
    assert "immutable" in first.headers["cache-control"]
    assert "public" in first.headers["cache-control"]
    assert "max-age=31536000" in first.headers["cache-control"]
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    second = client.get(url)
    assert second.content == first.content and second.headers["etag"] == etag
    drawn = webqris.render_qr_image.cache_info()
    assert (drawn.misses, drawn.hits) == (1, 1)  # the second answer was not drawn again
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    listed = client.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    stale = client.get(url, headers={"If-None-Match": '"something else"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_qr_images_of_other_invoices_differ_and_the_cache_is_bounded(client: TestClient,
                                                                    merchant: Merchant) -> None:
    webqris.render_qr_image.cache_clear()
    etags = set()
    for amount in (41_000, 42_000):
        invoice = client.post("/api/payments/qris/create", json={"amount": amount},
                              headers=merchant.auth).json()
        etags.add(client.get(f"/pay/{invoice['invoice_id']}/qr.svg").headers["etag"])
    assert len(etags) == 2
    assert webqris.render_qr_image.cache_info().maxsize == webqris.QR_IMAGE_CACHE_SIZE <= 1000


# --- security headers on every page and image a browser may open ------------------------------


def test_every_html_and_svg_answer_carries_the_security_headers(client: TestClient,
                                                                 merchant: Merchant) -> None:
    invoice = client.post("/api/payments/qris/create", json={"amount": 25_000},
                          headers=merchant.auth).json()
    for path in ("/", f"/pay/{invoice['invoice_id']}", f"/pay/{invoice['invoice_id']}/qr.svg",
                 "/static/checkout.html", "/static/index.html", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(("text/html", "image/svg+xml")), path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        # Each header once, even on pages that set their own.
        assert len(response.headers.get_list("content-security-policy")) == 1, path


# --- text fields lose control and bidi-override characters ------------------------------------

DIRTY = "Bu\x00di\r\nSan\ttoso\x1b[31m\u202eAB\u2066C\u2069\x85\x9b\x7f"
CLEAN = "Budi  San toso[31mABC"


def test_api_text_fields_lose_control_and_bidi_characters(client: TestClient,
                                                          merchant: Merchant) -> None:
    invoice = client.post("/api/payments/qris/create",
                          json={"amount": 25_000, "customer_name": DIRTY,
                                "merchant_order_id": "ORD\u202e-1\x00"},
                          headers=merchant.auth).json()
    assert invoice["merchant_order_id"] == "ORD-1"
    status = client.get(f"/api/payments/{invoice['invoice_id']}/status",
                        headers=merchant.auth).json()["data"]
    assert status["merchant_order_id"] == "ORD-1"
    listed = client.get("/api/payments", headers=merchant.auth).json()["data"][0]
    assert listed["customer_name"] == CLEAN
    # A bidi mark (not an override) stays: it cannot reorder letters or digits.
    marked = client.post("/api/payments/qris/create",
                         json={"amount": 26_000, "customer_name": "\u0639\u0644\u064a\u200f"},
                         headers=merchant.auth).json()
    names = {row["invoice_id"]: row["customer_name"]
             for row in client.get("/api/payments", headers=merchant.auth).json()["data"]}
    assert names[marked["invoice_id"]] == "\u0639\u0644\u064a\u200f"


def test_notification_text_keeps_its_lines_and_loses_the_rest(client: TestClient,
                                                              merchant: Merchant,
                                                              db_path: Path) -> None:
    invoice = client.post("/api/payments/qris/create", json={"amount": 25_000},
                          headers=merchant.auth).json()
    rupiah = f"{invoice['total_amount']:,}".replace(",", ".")
    response = client.post(
        "/api/webhook/payment",
        json={"app": "id.dana", "title": "DA\x00NA\r\n\u202e",
              "message": f"Kamu berhasil\r\nmenerima\x07 Rp{rupiah}\u2067 dari JOHN\x00 DOE"},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert response.status_code == 200, response.text
    assert response.json()["sender_name"] == "JOHN DOE"
    conn = sqlite3.connect(db_path)
    stored = conn.execute("SELECT title, message FROM notifications").fetchone()
    conn.close()
    assert stored == ("DANA", f"Kamu berhasil\nmenerima Rp{rupiah} dari JOHN DOE")


def test_dashboard_text_fields_lose_control_and_bidi_characters(app_factory, merchant: Merchant,
                                                                db_path: Path) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    store.close()
    admin = app_factory()
    login = admin.post("/admin/api/login", json={"password": PASSWORD})
    admin.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    created = admin.post("/admin/api/merchants", json={"name": "Toko\u202e 0001\x00\nBaru"})
    assert created.status_code == 200, created.text
    merchant_id = created.json()["data"]["id"]
    renamed = admin.patch(f"/admin/api/merchants/{merchant_id}",
                          json={"name": "Toko\u2066Lagi\r\n", "webhook_url":
                                "http://127.0.0.1:9/\x00hook"})
    assert renamed.status_code == 200, renamed.text
    names = {row["id"]: row for row in admin.get("/admin/api/merchants").json()["data"]}
    assert names[merchant_id]["name"] == "TokoLagi"
    assert names[merchant_id]["webhook_url"] == "http://127.0.0.1:9/hook"
    invoice = admin.post("/api/payments/qris/create", json={"amount": 27_000,
                                                             "customer_name": DIRTY},
                         headers=merchant.auth).json()
    rows = admin.get("/admin/api/payments").json()["data"]
    assert {row["invoice_id"]: row["customer_name"] for row in rows}[
        invoice["invoice_id"]] == CLEAN


# --- a client that stops mid-body is one line, never a traceback ------------------------------

CUT_SHORT = [
    pytest.param(b"Content-Length: 100\r\n\r\n{\"password\": \"abc", id="gone-mid-body"),
    pytest.param(b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"pas\r\nZZ\r\nsword\r\n",
                 id="broken-chunk"),
    pytest.param(b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"pas\r\n", id="gone-mid-chunks"),
]


@pytest.mark.parametrize("stack", ["h11", "httptools"])
@pytest.mark.parametrize("path", ["/admin/api/login", "/api/payments/qris/create"])
@pytest.mark.parametrize("rest", CUT_SHORT)
def test_a_body_cut_short_is_one_info_line(db_path: Path, merchant: Merchant, server_factory,
                                           stack: str, path: str, rest: bytes) -> None:
    server = server_factory(db_path, env={"WEBQRIS_SERVER_HTTP": stack})
    before = server.log_path.read_text()
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: shop\r\n".encode()
                     + f"Authorization: Bearer {merchant.api_token}\r\n".encode()
                     + b"Content-Type: application/json\r\n" + rest)
        sock.shutdown(socket.SHUT_WR)  # the client is done: what it sent is all there is
        with contextlib.suppress(OSError):
            while sock.recv(4096):
                pass
    end = time.monotonic() + 5
    while server.log_path.read_text() == before:
        assert time.monotonic() < end, "nothing was logged"
        time.sleep(0.02)
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200  # still serving
    server.stop()
    added = server.log_path.read_text()[len(before):]
    lines = [line for line in added.splitlines()
             if "Shutting down" not in line and "shutdown" not in line.lower()
             and "Finished server process" not in line and "Waiting for" not in line]
    assert len(lines) == 1, added
    assert " INFO webqris: " in lines[0] and f"POST {path} from 127.0.0.1" in lines[0]
    assert "went away or broke the body" in lines[0]
    assert "Traceback" not in added and "unexpected error" not in added


def test_a_flood_of_checkout_requests_from_one_address_is_slowed_and_the_api_keeps_answering(
        db_path: Path, merchant: Merchant, server_factory) -> None:
    """Every answer under /pay/ is cheap now, but 100 clients asking in a loop still took the
    one process from the API (a status check's p99 4.6x its value). One address gets a burst,
    then `public_requests_per_second`; past it a 429 in the seed's format after a pause."""
    server = server_factory(db_path, env={"WEBQRIS_SERVER_PUBLIC_REQUESTS_PER_SECOND": "5",
                                          "WEBQRIS_SERVER_PUBLIC_BURST": "10"})
    base = server.base_url
    invoice = httpx.post(f"{base}/api/payments/qris/create", json={"amount": 5000},
                         headers=merchant.auth).json()
    qr = f"{base}/pay/{invoice['invoice_id']}/qr.png"

    async def flood() -> tuple[list[httpx.Response], list[float]]:
        async with httpx.AsyncClient(timeout=30) as http:
            started = time.monotonic()
            answers: list[httpx.Response] = []
            status_times: list[float] = []

            async def one_client() -> None:
                while time.monotonic() - started < 2.0:
                    answers.append(await http.get(qr))

            async def status_checks() -> None:
                while time.monotonic() - started < 2.0:
                    at = time.monotonic()
                    answer = await http.get(f"{base}/api/payments/{invoice['invoice_id']}"
                                            "/status", headers=merchant.auth)
                    assert answer.status_code == 200
                    status_times.append(time.monotonic() - at)
                    await asyncio.sleep(0.02)

            await asyncio.gather(status_checks(), *(one_client() for _ in range(30)))
            return answers, status_times

    answers, status_times = asyncio.run(flood())
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(served) + len(refused) == len(answers)
    # The burst, then about 5 a second for 2 s (loosely: the clock starts before the first).
    assert 10 <= len(served) <= 10 + 5 * 3, len(served)
    assert refused[0].json() == {"success": False,
                                 "message": "Too many requests: try again in a moment"}
    assert int(refused[0].headers["Retry-After"]) >= 1
    # Each refusal waited, so 30 looping clients made few requests, not thousands.
    assert len(answers) < 30 * 4, len(answers)
    assert max(status_times) < 1.0, max(status_times)


def test_the_public_rate_limit_forgets_the_oldest_addresses_first() -> None:
    async def app(scope: dict, receive: object, send: object) -> None:
        raise AssertionError("not reached")

    limit = webqris.PublicRateLimit(app, rate=1.0, burst=1, max_addresses=3)
    assert [limit.take(a) for a in ("a", "b", "c")] == [0, 0, 0]
    assert limit.take("a") > 0  # its one request is spent
    limit.take("d")  # "b" is the least recently seen now, and is forgotten
    assert limit.take("c") > 0  # still remembered, its request spent
    assert limit.take("b") == 0
