"""Realtime over a real server: isolation, every event, ping/pong, refusals, stuck clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from conftest import STAFF_PASSWORD, Merchant, add_account, add_merchant
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import webqris

PASSWORD = "admin password 1"


@pytest.fixture
def server(db_path: Path, merchant: Merchant, server_factory):
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    store.close()
    return server_factory(db_path)


def ws_url(server, path: str) -> str:
    return server.base_url.replace("http://", "ws://") + path


async def next_event(ws, event: str, timeout: float = 5.0) -> dict:
    """The next message of one kind (others, e.g. from earlier actions, are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if message["event"] == event:
            return message


async def silent(ws, seconds: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


def admin_cookie(server) -> str:
    response = httpx.post(f"{server.base_url}/admin/api/login", json={"password": PASSWORD})
    assert response.status_code == 200
    return f"wq_session={response.cookies['wq_session']}"


def test_merchant_socket_sees_only_its_own_events(server, merchant: Merchant,
                                                  db_path: Path) -> None:
    other = add_merchant(db_path, name="Toko Lain")

    async def main() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as http, \
                connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as mine:
            async with connect(ws_url(server, f"/ws/merchant?token={other.api_token}")) as theirs:
                created = (await http.post("/api/payments/qris/create", json={"amount": 25000},
                                           headers=merchant.auth)).json()
                event = await next_event(mine, "new_payment")
                assert event["data"]["invoice_id"] == created["invoice_id"]
                assert isinstance(event["ts"], int)
                assert await silent(theirs)
                paid = await http.post("/api/callback/notify",
                                       json={"amount": created["total_amount"],
                                             "sender_name": "JOHN DOE"},
                                       headers={"X-Callback-Key": merchant.callback_secret})
                assert paid.status_code == 200
                event = await next_event(mine, "payment_paid")
                assert set(event["data"]) >= {"id", "invoice_id", "amount", "total_amount",
                                              "unique_code", "merchant_name", "sender_name",
                                              "status"}
                assert (event["data"]["status"], event["data"]["sender_name"],
                        event["data"]["merchant_name"]) == ("paid", "JOHN DOE", "Toko ABC")
                assert await silent(theirs)

    asyncio.run(main())


def test_payments_expired_and_webhook_delivered(db_path: Path, server_factory) -> None:
    received: list[bytes] = []

    async def main() -> None:
        async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.append(await reader.read(65536))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()

        listener = await asyncio.start_server(receiver, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:{port}/hook")
        server = await asyncio.to_thread(server_factory, db_path)
        async with listener, httpx.AsyncClient(base_url=server.base_url) as http, \
                connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as ws:
            short = (await http.post("/api/payments/qris/create",
                                     json={"amount": 1000, "expires_in": 1},
                                     headers=merchant.auth)).json()
            event = await next_event(ws, "payments_expired", timeout=5)
            assert event["data"]["invoice_ids"] == [short["invoice_id"]]
            assert event["data"]["count"] == 1
            paying = (await http.post("/api/payments/qris/create", json={"amount": 2000},
                                      headers=merchant.auth)).json()
            await http.post("/api/callback/notify", json={"amount": paying["total_amount"]},
                            headers={"X-Callback-Key": merchant.callback_secret})
            event = await next_event(ws, "webhook_delivered", timeout=5)
            assert event["data"]["invoice_id"] == paying["invoice_id"]
            assert event["data"]["status_code"] == 200
        assert len(received) == 1

    asyncio.run(main())


def test_a_burst_of_expiries_is_swept_at_once_in_short_writes(db_path: Path,
                                                               server_factory) -> None:
    # Regression: a sweep expired up to a thousand invoices in one write, on the loop, about
    # 50 ms at a million invoices during which no payment was answered.
    merchant = add_merchant(db_path)
    overdue = webqris.SWEEP_BATCH * 2 + 50
    server = server_factory(db_path, env={"WEBQRIS_PAYMENTS_SWEEP_SECONDS": "2"})

    async def main() -> list[tuple[float, dict]]:
        async with httpx.AsyncClient(base_url=server.base_url) as http, \
                connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as ws:
            created = [(await http.post("/api/payments/qris/create",
                                        json={"amount": 1000 * (n + 1)},
                                        headers=merchant.auth)).json()["invoice_id"]
                       for n in range(overdue)]
            # Their time passes all at once, as over a restart after a day down.
            with sqlite3.connect(db_path) as conn:
                conn.execute("UPDATE invoices SET expires_at = ? WHERE status = 'pending'",
                             (int(time.time() * 1000) - 1,))
            events: list[tuple[float, dict]] = []
            while sum(event["data"]["count"] for _, event in events) < overdue:
                events.append((time.monotonic(),
                               await next_event(ws, "payments_expired", timeout=10)))
            assert sorted(i for _, event in events for i in event["data"]["invoice_ids"]) \
                == sorted(created)
            return events

    events = asyncio.run(main())
    assert all(event["data"]["count"] <= webqris.SWEEP_BATCH for _, event in events)
    assert len(events) >= 3
    # One sweep, batch after batch, not one batch per two-second interval
    assert events[-1][0] - events[0][0] < 1.5
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM invoices WHERE status = 'expired'"
                            ).fetchone()[0] == overdue


async def pong(ws) -> dict:
    """The answer to a `ping`: JSON, as every message is (the seed's snippet parses each)."""
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_ping_is_answered_with_json_the_seed_snippet_can_parse(server,
                                                              merchant: Merchant) -> None:
    async def main() -> None:
        async with connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as ws:
            for spelling in ("ping", "PING", " ping\n"):
                before = time.time() * 1000
                await ws.send(spelling)
                answer = await pong(ws)
                assert set(answer) == {"event", "ts"} and answer["event"] == "pong"
                assert before - 1000 <= answer["ts"] <= time.time() * 1000 + 1000

    asyncio.run(main())


def test_message_over_the_body_limit_closes_only_that_socket(server, merchant: Merchant) -> None:
    """A client sends only "ping"; a message over server.max_body_bytes (64 KiB) closes its
    socket with 1009 instead of being buffered (uvicorn's own limit is 16 MiB)."""
    async def main() -> None:
        url = ws_url(server, f"/ws/merchant?token={merchant.api_token}")
        async with connect(url, max_size=None) as flooder, connect(url) as other:
            await flooder.send("x" * 70_000)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(flooder.recv(), 5)
            assert closed.value.rcvd.code == 1009
            await other.send("ping")
            assert (await pong(other))["event"] == "pong"
        async with connect(url) as under_the_limit:
            await under_the_limit.send("x" * 60_000)
            await under_the_limit.send("ping")
            assert (await pong(under_the_limit))["event"] == "pong"

    asyncio.run(main())


def test_sockets_are_not_compressed_whatever_the_client_offers(server,
                                                               merchant: Merchant) -> None:
    """Browsers and the `websockets` client offer permessage-deflate; the server declines it
    (each compressed socket held two zlib streams, about 27 KB, for as long as it was open)
    and the events arrive all the same."""
    async def main() -> None:
        url = ws_url(server, f"/ws/merchant?token={merchant.api_token}")
        async with connect(url, compression="deflate") as ws, \
                httpx.AsyncClient(base_url=server.base_url) as http:
            assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            created = (await http.post("/api/payments/qris/create", json={"amount": 25000},
                                       headers=merchant.auth)).json()
            event = await next_event(ws, "new_payment")
            assert event["data"]["invoice_id"] == created["invoice_id"]
        async with connect(ws_url(server, "/ws"), compression="deflate",
                           additional_headers={"Cookie": admin_cookie(server)}) as dashboard:
            assert "Sec-WebSocket-Extensions" not in dashboard.response.headers
            await dashboard.send("ping")
            assert (await pong(dashboard))["event"] == "pong"

    asyncio.run(main())


async def refusal(server, path: str, **options) -> tuple[int, str]:
    """The HTTP status and the seed-format message of a refused handshake."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server, path), **options):
            pass
    response = refused.value.response
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.body)
    assert body["success"] is False and set(body) == {"success", "message"}
    return response.status_code, body["message"]


@pytest.mark.parametrize("path,status,message", [
    ("/ws/merchant", 401, "Unauthorized: missing ?token=<API_TOKEN>"),
    ("/ws/merchant?token=wqk_wrong", 401, "Unauthorized: invalid API token"),
    ("/ws", 401, "Unauthorized: log in to the dashboard first"),
    ("/ws/nope", 404, "Not found"),
])
def test_refused_handshakes_answer_in_the_seed_format(server, merchant: Merchant, path: str,
                                                      status: int, message: str) -> None:
    assert asyncio.run(refusal(server, path)) == (status, message)


def test_callback_secret_does_not_open_a_merchant_socket(server, merchant: Merchant) -> None:
    path = f"/ws/merchant?token={merchant.callback_secret}"
    assert asyncio.run(refusal(server, path)) == (401, "Unauthorized: invalid API token")


def test_dashboard_socket_needs_session_and_same_origin(server, merchant: Merchant,
                                                        db_path: Path) -> None:
    other = add_merchant(db_path, name="Toko Lain")
    cookie = admin_cookie(server)

    async def main() -> None:
        assert await refusal(server, "/ws", additional_headers={"Cookie": cookie},
                             origin="http://evil.example") == (
            403, "Forbidden: the dashboard socket is for this site's own pages")
        async with connect(ws_url(server, "/ws"), additional_headers={"Cookie": cookie},
                           origin=server.base_url) as ws, \
                httpx.AsyncClient(base_url=server.base_url) as http:
            for m in (merchant, other):
                await http.post("/api/payments/qris/create", json={"amount": 5000},
                                headers=m.auth)
            names = {(await next_event(ws, "new_payment"))["data"]["merchant_name"]
                     for _ in range(2)}
            assert names == {"Toko ABC", "Toko Lain"}

    asyncio.run(main())


def test_money_that_paid_nothing_reaches_the_dashboards_only(server, merchant: Merchant) -> None:
    cookie = admin_cookie(server)
    forwarder = {"Authorization": f"Bearer {merchant.callback_secret}"}

    async def main() -> None:
        async with connect(ws_url(server, "/ws"), additional_headers={"Cookie": cookie},
                           origin=server.base_url) as dashboard, \
                connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as shop, \
                httpx.AsyncClient(base_url=server.base_url) as http:
            unmatched = await http.post("/api/webhook/payment", headers=forwarder, json={
                "app": "id.dana", "message": "Kamu berhasil menerima Rp77.777 dari SITI"})
            assert unmatched.status_code == 404
            event = await next_event(dashboard, "notification_needs_attention")
            assert event["data"]["outcome"] == "unmatched"
            assert event["data"]["parsed_amount"] == 77777
            assert event["data"]["merchant_name"] == merchant.name
            assert "message" not in event["data"]
            unparsed = await http.post("/api/webhook/payment", headers=forwarder, json={
                "app": "id.dana", "message": "Promo cashback hari ini!"})
            assert unparsed.status_code == 422
            event = await next_event(dashboard, "notification_needs_attention")
            assert event["data"]["outcome"] == "unparsed"
            assert event["data"]["parsed_amount"] is None
            lone = await http.post("/api/callback/notify", json={"amount": 12345},
                                   headers={"X-Callback-Key": merchant.callback_secret})
            assert lone.status_code == 404
            event = await next_event(dashboard, "notification_needs_attention")
            assert (event["data"]["app"], event["data"]["parsed_amount"]) == ("callback", 12345)
            listed = (await http.get("/admin/api/notifications?outcome=needs_attention",
                                     headers={"Cookie": cookie})).json()["data"]
            assert len(listed) == 3
            assert await silent(shop)  # the shop's own socket carries the seed's events only

    asyncio.run(main())


def test_resolving_money_reaches_every_dashboard(server, merchant: Merchant) -> None:
    """Another dashboard's inbox count follows when the owner resolves money (or reopens it)."""
    login = httpx.post(f"{server.base_url}/admin/api/login", json={"password": PASSWORD})
    owner = {"Cookie": f"wq_session={login.cookies['wq_session']}",
             "X-CSRF-Token": login.json()["csrf_token"]}

    async def main() -> None:
        async with connect(ws_url(server, "/ws"), additional_headers={"Cookie": admin_cookie(
                server)}, origin=server.base_url) as elsewhere, \
                connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as shop, \
                httpx.AsyncClient(base_url=server.base_url, headers=owner) as http:
            await http.post("/api/callback/notify", json={"amount": 12345},
                            headers={"X-Callback-Key": merchant.callback_secret})
            waiting = (await next_event(elsewhere, "notification_needs_attention"))["data"]
            resolved = await http.post(
                f"/admin/api/notifications/{waiting['notification_id']}/resolve",
                json={"resolution": "no_bill"})
            assert resolved.status_code == 200, resolved.text
            event = await next_event(elsewhere, "notification_resolved")
            assert event["data"] == {"notification_id": waiting["notification_id"],
                                     "resolution": "no_bill"}
            reopened = await http.post(
                f"/admin/api/notifications/{waiting['notification_id']}/reopen")
            assert reopened.status_code == 200, reopened.text
            event = await next_event(elsewhere, "notification_resolved")
            assert event["data"]["resolution"] is None
            assert await silent(shop)

    asyncio.run(main())


def _stuck_client(server, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/merchant?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b"101" in sock.recv(1024).split(b"\r\n")[0]
    return sock


def test_stuck_client_does_not_delay_others_and_closed_sockets_leave_nothing(
        server, merchant: Merchant) -> None:
    stuck = [_stuck_client(server, merchant.api_token) for _ in range(3)]
    try:
        async def main() -> list[float]:
            delays = []
            async with connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")) as ws, \
                    httpx.AsyncClient(base_url=server.base_url) as http:
                for i in range(150):
                    sent = time.monotonic()
                    await http.post("/api/payments/qris/create",
                                    json={"amount": 10000 + i * 1000,
                                          "customer_name": "x" * 200},
                                    headers=merchant.auth)
                    await next_event(ws, "new_payment", timeout=5)
                    delays.append(time.monotonic() - sent)
            return delays

        delays = asyncio.run(main())
        assert len(delays) == 150
        assert sorted(delays)[int(len(delays) * 0.99)] < 1.0
    finally:
        for sock in stuck:
            sock.close()

    async def count_after_close() -> int:
        async with connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}")):
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            clients = httpx.get(f"{server.base_url}/healthz").json()["realtime_clients"]
            if clients == 0:
                return 0
            await asyncio.sleep(0.05)
        return clients

    assert asyncio.run(count_after_close()) == 0


def test_more_sockets_than_the_inherited_soft_open_files_limit(db_path: Path, merchant: Merchant,
                                                               server_factory) -> None:
    """Started with a soft limit of 64 open files (systemd's default is 1024), serve raises it
    to the hard limit: 150 merchant sockets all connect and all get the event."""
    import resource

    def low_soft_limit() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    server = server_factory(db_path, preexec_fn=low_soft_limit)

    async def main() -> None:
        sockets = [await connect(ws_url(server, f"/ws/merchant?token={merchant.api_token}"),
                                 open_timeout=5) for _ in range(150)]
        try:
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                created = (await http.post("/api/payments/qris/create", json={"amount": 25000},
                                           headers=merchant.auth)).json()
            for ws in sockets:
                event = await next_event(ws, "new_payment")
                assert event["data"]["invoice_id"] == created["invoice_id"]
        finally:
            for ws in sockets:
                await ws.close()

    asyncio.run(main())


def test_one_account_or_shop_holds_a_bounded_number_of_sockets(server_factory, merchant: Merchant,
                                                                db_path: Path) -> None:
    """Each idle socket holds memory: one cashier's login (logging in again gives it more
    sessions) or one leaked API token opened 4,000 and would have opened more. The bound is
    server.sockets_per_credential (1,024 by default), small here."""
    cap = 24
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    store.close()
    server = server_factory(db_path, env={"WEBQRIS_SERVER_SOCKETS_PER_CREDENTIAL": str(cap)})
    add_account(db_path, "kasir", "cashier", (merchant.id,))
    sessions = []
    for _ in range(2):
        login = httpx.post(f"{server.base_url}/admin/api/login",
                           json={"username": "kasir", "password": STAFF_PASSWORD})
        assert login.status_code == 200
        sessions.append({"Cookie": f"wq_session={login.cookies['wq_session']}"})
    too_many = (429, f"Too many open sockets: at most {cap} for one account or shop;"
                     " close some")
    merchant_path = f"/ws/merchant?token={merchant.api_token}"

    async def main() -> None:
        cashier = [await connect(ws_url(server, "/ws"), additional_headers=sessions[i % 2],
                                 origin=server.base_url, open_timeout=5) for i in range(cap)]
        shop = [await connect(ws_url(server, merchant_path), open_timeout=5)
                for _ in range(cap)]
        try:
            for headers in sessions:
                assert await refusal(server, "/ws", additional_headers=headers,
                                     origin=server.base_url) == too_many
            assert await refusal(server, merchant_path) == too_many
            # Another account is not held back by them.
            async with connect(ws_url(server, "/ws"), additional_headers={
                    "Cookie": admin_cookie(server)}, origin=server.base_url):
                pass
            # A closed socket makes room for one more.
            await cashier.pop().close()
            await shop.pop().close()
            deadline = time.monotonic() + 5
            while httpx.get(f"{server.base_url}/healthz").json()["realtime_clients"] \
                    > 2 * cap - 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            cashier.append(await connect(ws_url(server, "/ws"), additional_headers=sessions[0],
                                         origin=server.base_url))
            shop.append(await connect(ws_url(server, merchant_path)))
        finally:
            for ws in cashier + shop:
                await ws.close()

    asyncio.run(main())
