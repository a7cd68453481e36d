"""The merchant API over HTTP: the seed's create and status, and the extensions."""

from __future__ import annotations

import datetime
import re
import sqlite3
import time

import pytest
from conftest import STATIC_QRIS, Merchant, add_merchant
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.testclient import TestClient

import webqris
from parsers import qris

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SEED_CREATE_BODY = {"amount": 25000, "merchant_order_id": "ORDER-001", "customer_name": "John Doe"}


def create(client: TestClient, merchant: Merchant, **body: object) -> dict:
    response = client.post("/api/payments/qris/create", json=body, headers=merchant.auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_seed_create_response_shape(client: TestClient, merchant: Merchant) -> None:
    response = client.post("/api/payments/qris/create", json=SEED_CREATE_BODY,
                           headers={**merchant.auth, "Content-Type": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert re.fullmatch(r"INV-\d{10}-[a-z0-9]{6}", body["invoice_id"])
    assert body["amount"] == 25000
    assert 1 <= body["unique_code"] <= 999
    assert body["total_amount"] == 25000 + body["unique_code"]
    assert ISO_MS_Z.match(body["expired_at"])
    # The payload is the merchant's QRIS made dynamic for the total, CRC and all.
    decoded = qris.decode(body["qris_payload"])
    assert decoded.is_dynamic and decoded.amount == body["total_amount"]
    assert body["qris_payload"] == qris.make_dynamic(STATIC_QRIS, body["total_amount"])
    assert body["checkout_url"].endswith(f"/pay/{body['invoice_id']}")


def test_links_follow_the_host_asked_or_the_configured_base_url(app_factory, merchant: Merchant,
                                                               client: TestClient) -> None:
    """The checkout and QR links name the host the request came to (behind a proxy, its
    address), each host its own, unless server.base_url says which."""
    for host, base in (("toko.example", "http://toko.example"),
                       ("bayar.example:8443", "http://bayar.example:8443"),
                       ("toko.example", "http://toko.example")):
        body = client.post("/api/payments/qris/create", json={"amount": 1000},
                           headers={**merchant.auth, "Host": host}).json()
        assert body["checkout_url"] == f"{base}/pay/{body['invoice_id']}"
        assert body["qr_svg_url"] == f"{base}/pay/{body['invoice_id']}/qr.svg"
    configured = app_factory(server={"base_url": "https://pay.toko.example/"})
    body = configured.post("/api/payments/qris/create", json={"amount": 1000},
                           headers={**merchant.auth, "Host": "toko.example"}).json()
    assert body["checkout_url"] == f"https://pay.toko.example/pay/{body['invoice_id']}"


def test_default_expiry_is_thirty_minutes(client: TestClient, merchant: Merchant) -> None:
    before = time.time()
    body = create(client, merchant, amount=10000)
    expires = time.mktime(time.strptime(body["expired_at"][:19], "%Y-%m-%dT%H:%M:%S")) \
        - time.timezone
    assert 1800 - 5 <= expires - before <= 1800 + 5


def test_seed_status_response_shape(client: TestClient, merchant: Merchant) -> None:
    created = create(client, merchant, **SEED_CREATE_BODY)
    response = client.get(f"/api/payments/{created['invoice_id']}/status", headers=merchant.auth)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"] == {
        "invoice_id": created["invoice_id"], "merchant_order_id": "ORDER-001",
        "qris_payload": created["qris_payload"], "amount": 25000,
        "unique_code": created["unique_code"], "total_amount": created["total_amount"],
        "status": "pending", "payment_method": None, "paid_at": None,
        "expired_at": created["expired_at"],
    }


@pytest.mark.parametrize("headers,message", [
    ({}, "missing"),
    ({"Authorization": "Bearer wqk_not-a-real-token"}, "invalid"),
    ({"Authorization": "Basic abc"}, "missing"),
])
def test_create_requires_api_token(client: TestClient, headers: dict, message: str) -> None:
    response = client.post("/api/payments/qris/create", json={"amount": 1000}, headers=headers)
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert message in response.json()["message"].lower()


def test_callback_secret_is_not_an_api_token(client: TestClient, merchant: Merchant) -> None:
    response = client.post("/api/payments/qris/create", json={"amount": 1000},
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert response.status_code == 401


@pytest.mark.parametrize("amount", [0, -5, 10_000_001, 25000.0, 25000.5, "25000", True, None,
                                    [25000], {"v": 1}])
def test_create_rejects_bad_amounts(client: TestClient, merchant: Merchant, amount: object) -> None:
    response = client.post("/api/payments/qris/create", json={"amount": amount},
                           headers=merchant.auth)
    assert response.status_code == 400
    body = response.json()
    assert body == {"success": False, "message": body["message"]}
    assert "amount" in body["message"]


def test_create_amount_bounds_are_inclusive(client: TestClient, merchant: Merchant) -> None:
    assert create(client, merchant, amount=1)["amount"] == 1
    assert create(client, merchant, amount=10_000_000)["amount"] == 10_000_000


@pytest.mark.parametrize("body,content_type,status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b"", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 413),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (b"amount=25000", "application/x-www-form-urlencoded", 400),
])
def test_create_rejects_malformed_bodies(client: TestClient, merchant: Merchant, body: bytes,
                                         content_type: str, status: int) -> None:
    response = client.post("/api/payments/qris/create", content=body,
                           headers={**merchant.auth, "Content-Type": content_type})
    assert response.status_code == status
    assert response.json()["success"] is False
    assert "Traceback" not in response.text


def test_oversized_body_is_413(client: TestClient, merchant: Merchant) -> None:
    response = client.post("/api/payments/qris/create", json={"amount": 1, "customer_name":
                                                              "x" * 100_000},
                           headers=merchant.auth)
    assert response.status_code == 413
    assert response.json() == {"success": False, "message": response.json()["message"]}


@pytest.mark.parametrize("field,value", [
    ("merchant_order_id", 123), ("customer_name", ["x"]), ("merchant_order_id", "x" * 256),
    ("expires_in", 0), ("expires_in", 604801), ("expires_in", "60"), ("expires_in", 1.5),
    ("redirect_url", "javascript:alert(1)"),
])
def test_create_rejects_bad_optional_fields(client: TestClient, merchant: Merchant, field: str,
                                            value: object) -> None:
    response = client.post("/api/payments/qris/create", json={"amount": 1000, field: value},
                           headers=merchant.auth)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_expires_in_sets_expiry(client: TestClient, merchant: Merchant) -> None:
    short = create(client, merchant, amount=1000, expires_in=1)
    week = create(client, merchant, amount=1000, expires_in=604800)
    assert short["expired_at"] < week["expired_at"]


def test_unknown_route_and_wrong_method(client: TestClient, merchant: Merchant) -> None:
    missing = client.get("/api/nope")
    assert missing.status_code == 404
    assert missing.json() == {"success": False, "message": "Not found"}
    wrong = client.get("/api/payments/qris/create", headers=merchant.auth)
    assert wrong.status_code == 405
    assert wrong.json() == {"success": False, "message": "Method not allowed"}


def test_status_of_unknown_or_foreign_invoice_is_404(client: TestClient, merchant: Merchant,
                                                      db_path) -> None:
    other = add_merchant(db_path, name="Toko Lain")
    theirs = create(client, other, amount=5000)
    for invoice_id in (theirs["invoice_id"], "INV-1-aaaaaa", "../../etc"):
        response = client.get(f"/api/payments/{invoice_id}/status", headers=merchant.auth)
        assert response.status_code == 404
        assert response.json()["success"] is False
    assert client.get(f"/api/payments/{theirs['invoice_id']}/status",
                      headers=other.auth).status_code == 200


def test_a_status_asked_again_and_again_follows_every_change(app_factory, merchant: Merchant,
                                                             db_path) -> None:
    """A backend polls the same invoice in a loop. Each answer is the database's at that
    moment: after the deadline with nothing written (no sweep yet), after a change this
    server made, and after one another process wrote behind its back."""
    client = app_factory(payments={"sweep_seconds": 3600})
    short = create(client, merchant, amount=1000, expires_in=1)
    kept = create(client, merchant, amount=2000)

    def status(invoice: dict, auth: dict[str, str] = merchant.auth) -> dict:
        response = client.get(f"/api/payments/{invoice['invoice_id']}/status", headers=auth)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    for _ in range(3):
        assert status(short)["status"] == "pending" and status(kept)["status"] == "pending"
    deadline = datetime.datetime.fromisoformat(short["expired_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, deadline.timestamp() - time.time()) + 0.05)
    assert status(short)["status"] == "expired"
    assert status(kept)["status"] == "pending"
    assert client.post(f"/api/payments/{kept['invoice_id']}/cancel",
                       headers=merchant.auth).status_code == 200
    assert status(kept)["status"] == "cancelled"

    # Another process (here: a plain connection) pays one invoice and takes the token away.
    other = create(client, merchant, amount=3000)
    assert status(other)["status"] == "pending"
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE invoices SET status = 'paid', paid_at = ? WHERE invoice_id = ?",
                     (int(time.time() * 1000), other["invoice_id"]))
    assert status(other)["status"] == "paid"
    with conn:
        conn.execute("UPDATE merchants SET api_token_hash = 'rotated' WHERE id = ?",
                     (merchant.id,))
    conn.close()
    refused = client.get(f"/api/payments/{other['invoice_id']}/status", headers=merchant.auth)
    assert refused.status_code == 401


def test_merchant_without_static_qris_gets_503(app_factory, db_path) -> None:
    bare = add_merchant(db_path, name="Belum QRIS", static_qris=None)
    client = app_factory()
    response = client.post("/api/payments/qris/create", json={"amount": 1000}, headers=bare.auth)
    assert response.status_code == 503
    assert "QRIS" in response.json()["message"]


def test_merchant_order_id_is_idempotent(client: TestClient, merchant: Merchant) -> None:
    first = create(client, merchant, amount=25000, merchant_order_id="ORDER-9")
    again = create(client, merchant, amount=25000, merchant_order_id="ORDER-9")
    assert again["invoice_id"] == first["invoice_id"]
    assert again["total_amount"] == first["total_amount"]
    conflict = client.post("/api/payments/qris/create",
                           json={"amount": 30000, "merchant_order_id": "ORDER-9"},
                           headers=merchant.auth)
    assert conflict.status_code == 409
    assert conflict.json()["success"] is False
    # Another merchant's order ids are its own.
    assert create(client, merchant, amount=25000, merchant_order_id="ORDER-10")["invoice_id"] \
        != first["invoice_id"]


def test_merchant_order_id_of_a_cancelled_invoice_can_be_reused(client: TestClient,
                                                                 merchant: Merchant) -> None:
    first = create(client, merchant, amount=25000, merchant_order_id="ORDER-C")
    assert client.post(f"/api/payments/{first['invoice_id']}/cancel",
                       headers=merchant.auth).status_code == 200
    second = create(client, merchant, amount=26000, merchant_order_id="ORDER-C")
    assert second["invoice_id"] != first["invoice_id"]


def test_merchant_order_id_of_an_overdue_invoice_gets_a_new_one(app_factory,
                                                                merchant: Merchant) -> None:
    # The sweep has not run yet, so the overdue invoice still reads pending in the database.
    client = app_factory(payments={"sweep_seconds": 3600})
    first = create(client, merchant, amount=25000, merchant_order_id="ORDER-O", expires_in=1)
    time.sleep(1.05)
    second = create(client, merchant, amount=25000, merchant_order_id="ORDER-O")
    assert second["invoice_id"] != first["invoice_id"]
    assert second["total_amount"] != first["total_amount"]
    status = client.get(f"/api/payments/{first['invoice_id']}/status", headers=merchant.auth)
    assert status.json()["data"]["status"] == "expired"


def test_idempotency_key_replays_first_response(client: TestClient, merchant: Merchant) -> None:
    headers = {**merchant.auth, "Idempotency-Key": "key-1"}
    first = client.post("/api/payments/qris/create", json={"amount": 7000}, headers=headers)
    again = client.post("/api/payments/qris/create", json={"amount": 7000}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["invoice_id"] == first.json()["invoice_id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = client.post("/api/payments/qris/create", json={"amount": 8000}, headers=headers)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["message"]
    fresh = client.post("/api/payments/qris/create", json={"amount": 7000},
                        headers={**merchant.auth, "Idempotency-Key": "key-2"})
    assert fresh.json()["invoice_id"] != first.json()["invoice_id"]


def test_list_paginates_newest_first_and_filters(client: TestClient, merchant: Merchant) -> None:
    created = [create(client, merchant, amount=1000 + i)["invoice_id"] for i in range(5)]
    client.post(f"/api/payments/{created[1]}/cancel", headers=merchant.auth)
    page1 = client.get("/api/payments?limit=2", headers=merchant.auth).json()
    assert [p["invoice_id"] for p in page1["data"]] == created[::-1][:2]
    page2 = client.get(f"/api/payments?limit=2&before={page1['next_before']}",
                       headers=merchant.auth).json()
    assert [p["invoice_id"] for p in page2["data"]] == created[::-1][2:4]
    page3 = client.get(f"/api/payments?limit=2&before={page2['next_before']}",
                       headers=merchant.auth).json()
    assert [p["invoice_id"] for p in page3["data"]] == created[:1]
    assert page3["next_before"] is None
    cancelled = client.get("/api/payments?status=cancelled", headers=merchant.auth).json()
    assert [p["invoice_id"] for p in cancelled["data"]] == [created[1]]
    for query in ("status=lost", "limit=0", "limit=abc", "limit=201", "before=INV-0-zzzzzz"):
        bad = client.get(f"/api/payments?{query}", headers=merchant.auth)
        assert bad.status_code == 400, query
        assert bad.json()["success"] is False


def test_cancel(client: TestClient, merchant: Merchant) -> None:
    invoice = create(client, merchant, amount=5000)
    response = client.post(f"/api/payments/{invoice['invoice_id']}/cancel", headers=merchant.auth)
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"
    again = client.post(f"/api/payments/{invoice['invoice_id']}/cancel", headers=merchant.auth)
    assert again.status_code == 409
    assert "cancelled" in again.json()["message"]
    assert client.post("/api/payments/INV-1-nonexist/cancel",
                       headers=merchant.auth).status_code == 404


def test_unique_codes_exhausted_is_503(app_factory, merchant: Merchant) -> None:
    client = app_factory(payments={"unique_code_min": 1, "unique_code_max": 3})
    totals = {create(client, merchant, amount=10000)["total_amount"] for _ in range(3)}
    assert totals == {10001, 10002, 10003}
    response = client.post("/api/payments/qris/create", json={"amount": 10000},
                           headers=merchant.auth)
    assert response.status_code == 503
    assert response.json()["success"] is False
    # Another amount whose window does not overlap still works.
    assert create(client, merchant, amount=20000)["total_amount"] in {20001, 20002, 20003}


def test_healthz_and_openapi(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/payments/qris/create", "/api/payments/{invoice_id}/status"):
        assert path in schema["paths"]


@given(st.integers(min_value=0, max_value=253402300799999))
def test_times_are_utc_iso_8601_with_milliseconds(ms: int) -> None:
    expected = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    assert webqris.format_time(ms) == \
        expected.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@pytest.mark.parametrize("content", [
    {"success": True, "sender_name": "JOSÉ ÑUÑEZ 🙂", "amount": 25042, "paid_at": None},
    {"success": False, "message": "Tidak dapat mendeteksi nominal dari notifikasi",
     "raw_message": "Kamu menerima Rp25.042\n\t\"dari\" \\ BUDI"},
    [1, 2.5, "x", None, True, {"nested": []}],
])
def test_json_answers_are_the_bytes_starlette_would_send(content: object) -> None:
    assert webqris.JSONResponse(content).body == StarletteJSONResponse(content).body


def test_json_answers_refuse_nan_as_starlette_does() -> None:
    with pytest.raises(ValueError):
        webqris.JSONResponse({"amount": float("nan")})
