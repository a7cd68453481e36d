"""Payments in: the APK forwarder endpoint and callback/notify, over HTTP, every outcome."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from conftest import ANOTHER_STATIC_QRIS, Merchant, add_merchant
from starlette.testclient import TestClient

import webqris

SEED_DANA = {"app": "com.dana.id", "title": "DANA",
             "message": "Kamu berhasil menerima Rp{amount} dari JOHN DOE",
             "timestamp": "2026-03-21T10:15:23.000Z", "device_id": "device-01",
             "notif_id": "1234567890"}


def rupiah(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def create(client: TestClient, merchant: Merchant, amount: int = 25000, **extra: object) -> dict:
    response = client.post("/api/payments/qris/create", json={"amount": amount, **extra},
                           headers=merchant.auth)
    assert response.status_code == 200, response.text
    return response.json()


def forward(client: TestClient, merchant: Merchant, **fields: object) -> httpx.Response:
    return client.post("/api/webhook/payment", json=fields,
                       headers={"Authorization": f"Bearer {merchant.callback_secret}"})


def dana(total: int, **overrides: object) -> dict:
    return {**SEED_DANA, "message": SEED_DANA["message"].format(amount=rupiah(total)),
            **overrides}


def stored(db_path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM notifications ORDER BY id").fetchall()
    finally:
        conn.close()


def status_of(client: TestClient, merchant: Merchant, invoice_id: str) -> dict:
    return client.get(f"/api/payments/{invoice_id}/status", headers=merchant.auth).json()["data"]


def test_seed_test_event(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    response = forward(client, merchant, message="test", event_hash="test")
    assert response.status_code == 200
    assert response.json() == {"success": True, "test": True,
                               "message": "Koneksi berhasil! Auth valid ✓ (Merchant: Toko ABC)"}
    assert [row["outcome"] for row in stored(db_path)] == ["test"]
    # A test never counts as a duplicate of the previous test.
    assert forward(client, merchant, message="test", event_hash="test").json()["test"] is True


def test_seed_dana_notification_pays_the_invoice(client: TestClient, merchant: Merchant,
                                                 db_path: Path) -> None:
    invoice = create(client, merchant, 25000, merchant_order_id="ORDER-001")
    response = forward(client, merchant, **dana(invoice["total_amount"]))
    assert response.status_code == 200
    assert response.json() == {"success": True, "invoice_id": invoice["invoice_id"],
                               "parsed_amount": invoice["total_amount"],
                               "sender_name": "JOHN DOE"}
    data = status_of(client, merchant, invoice["invoice_id"])
    assert data["status"] == "paid"
    assert data["payment_method"] == "com.dana.id"
    assert data["paid_at"] is not None
    row = stored(db_path)[-1]
    assert (row["outcome"], row["parsed_amount"], row["sender_name"], row["parser"],
            row["device_id"]) == ("matched", invoice["total_amount"], "JOHN DOE", "dana",
                                  "device-01")


@pytest.mark.parametrize("dup_fields", [
    {"notif_id": "n-1", "device_id": "phone-a"},
    {"event_hash": "abc123", "notif_id": None, "device_id": None},
    {"notif_id": None, "device_id": None},  # neither: same app/title/message/timestamp
])
def test_duplicate_is_processed_once(app_factory, merchant: Merchant, db_path: Path,
                                     dup_fields: dict) -> None:
    # One unique code and no grace: the second invoice gets the very total the first one had.
    client = app_factory(payments={"unique_code_min": 7, "unique_code_max": 7,
                                   "late_grace_seconds": 0})
    first = create(client, merchant, 10000)
    body = {k: v for k, v in dana(first["total_amount"], **dup_fields).items() if v is not None}
    assert forward(client, merchant, **body).json()["success"] is True
    second = create(client, merchant, 10000)
    assert second["total_amount"] == first["total_amount"]
    again = forward(client, merchant, **body)
    assert again.status_code == 200
    assert again.json() == {"success": False, "message": "Duplicate notification",
                            "notif_id": body.get("notif_id")}
    assert status_of(client, merchant, second["invoice_id"])["status"] == "pending"
    assert [row["outcome"] for row in stored(db_path)] == ["matched", "duplicate"]


def test_same_notif_id_from_another_device_is_not_a_duplicate(client: TestClient,
                                                              merchant: Merchant) -> None:
    a = create(client, merchant, 10000)
    b = create(client, merchant, 20000)
    assert forward(client, merchant, **dana(a["total_amount"], notif_id="7",
                                            device_id="phone-a")).json()["success"]
    assert forward(client, merchant, **dana(b["total_amount"], notif_id="7",
                                            device_id="phone-b")).json()["success"]


def gopay_merchant(total: int) -> dict:
    return {"app": "com.gojek.gopaymerchant", "title": "Pembayaran diterima",
            "message": f"Pembayaran QRIS Rp {rupiah(total)}", "device_id": "kasir-1"}


def gopay_app(total: int, payer: str = "Budi") -> dict:
    return {"app": "com.gojek.gopay", "title": "GoPay", "device_id": "kasir-1",
            "message": f"Kamu menerima Rp{rupiah(total)} dari {payer} via QRIS"}


def waiting_money(client: TestClient) -> list[dict]:
    return client.get("/admin/api/notifications?outcome=needs_attention").json()["data"]


def test_the_other_apps_copy_of_a_payment_is_resolved_in_one_step(app_factory, merchant: Merchant,
                                                                  db_path: Path) -> None:
    """GoPay Merchant and the GoPay app both post one QRIS payment. The second matches nothing
    (the SPEC's flow: 404, in the inbox), and the inbox names the payment it copies, so the
    owner settles it with one click; nothing is paid, and the owner can take it back."""
    client = admin_client(app_factory, db_path)
    invoice = create(client, merchant, 25000)
    total = invoice["total_amount"]
    assert forward(client, merchant, **gopay_merchant(total)).json()["success"] is True
    copy = forward(client, merchant, **gopay_app(total))
    assert copy.status_code == 404
    assert copy.json()["message"] == "No matching pending payment"
    first, second = stored(db_path)
    [waiting] = waiting_money(client)
    assert waiting["id"] == second["id"]
    assert waiting["likely_copy_of"] == {"id": first["id"], "app": "com.gojek.gopaymerchant",
                                  "invoice_id": invoice["invoice_id"]}

    resolved = client.post(f"/admin/api/notifications/{second['id']}/resolve",
                           json={"resolution": "copy", "copy_of": first["id"]})
    assert resolved.status_code == 200, resolved.text
    data = resolved.json()["data"]
    assert (data["resolution"], data["duplicate_of"], data["outcome"]) == \
        ("copy", first["id"], "unmatched")
    assert data["resolved_at"] is not None
    assert waiting_money(client) == []
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "paid"
    [entry] = [e for e in client.get("/admin/api/audit").json()["data"]
               if e["action"] == "notification.resolve"]
    assert entry["target"] == f"notification:{second['id']}"

    # A second payment of that total: its notifications find the payment's copy already made.
    again = forward(client, merchant, **gopay_app(total, payer="Budi lagi"))
    assert again.status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"] is None

    reopened = client.post(f"/admin/api/notifications/{second['id']}/reopen")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["data"]["resolution"] is None
    assert {row["id"] for row in waiting_money(client)} == {second["id"], waiting["id"]}


def test_money_for_no_bill_is_resolved_with_the_owners_note(app_factory, merchant: Merchant,
                                                             db_path: Path) -> None:
    client = admin_client(app_factory, db_path)
    refused = forward(client, merchant, app="id.dana", title="DANA",
                      message="Kamu berhasil menerima Rp50.000 dari IBU SENDIRI")
    assert refused.status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"] is None
    resolved = client.post(f"/admin/api/notifications/{waiting['id']}/resolve",
                           json={"resolution": "no_bill", "note": "uang dari Ibu"})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["data"]["resolution"], resolved.json()["data"]["resolution_note"]) \
        == ("no_bill", "uang dari Ibu")
    assert waiting_money(client) == []
    # Resolved money is no longer attached to a bill by mistake, nor resolved twice.
    invoice = create(client, merchant, 50000)
    attach = client.post(f"/admin/api/notifications/{waiting['id']}/attach",
                         json={"invoice_id": invoice["invoice_id"],
                               "confirm_amount_mismatch": True})
    assert attach.status_code == 409
    assert attach.json()["error_code"] == "notification_not_attachable"
    twice = client.post(f"/admin/api/notifications/{waiting['id']}/resolve",
                        json={"resolution": "no_bill"})
    assert twice.status_code == 409
    assert twice.json()["error_code"] == "notification_not_resolvable"
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"


@pytest.mark.parametrize("body", [
    {},
    {"resolution": "paid"},
    {"resolution": "copy"},
    {"resolution": "copy", "copy_of": "1"},
    {"resolution": "copy", "copy_of": True},
    {"resolution": "no_bill", "note": 5},
    {"resolution": "no_bill", "note": "x" * 501},
])
def test_a_resolve_that_says_nothing_clear_is_400(app_factory, merchant: Merchant,
                                                  db_path: Path, body: dict) -> None:
    client = admin_client(app_factory, db_path)
    forward(client, merchant, app="id.dana", message="Kamu berhasil menerima Rp50.000 dari X")
    [waiting] = waiting_money(client)
    response = client.post(f"/admin/api/notifications/{waiting['id']}/resolve", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False
    assert len(waiting_money(client)) == 1


def test_a_copy_must_name_the_payment_it_copies(app_factory, merchant: Merchant,
                                               db_path: Path) -> None:
    client = admin_client(app_factory, db_path)
    other = add_merchant(db_path, "Toko Lain")
    total = create(client, merchant, 25000)["total_amount"]
    other_total = create(client, other, 25000)["total_amount"]
    assert forward(client, merchant, **gopay_merchant(total)).json()["success"] is True
    assert forward(client, other, **gopay_merchant(other_total)).json()["success"] is True
    forward(client, merchant, **gopay_app(total + 1))
    paid_here, paid_there, waiting = stored(db_path)
    for copy_of in (paid_there["id"],  # another shop's payment
                    waiting["id"],  # itself
                    paid_here["id"],  # a payment of another amount
                    10**9):  # nothing
        response = client.post(f"/admin/api/notifications/{waiting['id']}/resolve",
                               json={"resolution": "copy", "copy_of": copy_of})
        assert response.status_code == 400, (copy_of, response.text)
        assert response.json()["error_code"] == "copy_of_not_a_payment"
    assert client.post(f"/admin/api/notifications/{paid_here['id']}/resolve",
                       json={"resolution": "no_bill"}).status_code == 409
    assert client.post(f"/admin/api/notifications/{waiting['id']}/reopen").status_code == 409
    assert client.post("/admin/api/notifications/999999/resolve",
                       json={"resolution": "no_bill"}).status_code == 404


@pytest.mark.parametrize("later", [
    # the same app again, in other words: a second payment, not a copy
    lambda total: {**gopay_merchant(total), "message": f"Pembayaran QRIS Rp{rupiah(total)}"},
    # another family's app: other money
    lambda total: {"app": "id.dana", "title": "DANA",
                   "message": f"Kamu berhasil menerima Rp{rupiah(total)} dari JOHN DOE"},
    # another amount from the other GoPay app
    lambda total: gopay_app(total + 1),
])
def test_only_the_same_amount_from_the_other_app_is_named_a_copy(
        app_factory, merchant: Merchant, db_path: Path, later) -> None:
    client = admin_client(app_factory, db_path)
    total = create(client, merchant, 25000)["total_amount"]
    assert forward(client, merchant, **gopay_merchant(total)).json()["success"] is True
    assert forward(client, merchant, **later(total)).status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"] is None


def test_the_same_words_from_a_second_phone_are_named_a_copy(app_factory, merchant: Merchant,
                                                             db_path: Path) -> None:
    client = admin_client(app_factory, db_path)
    total = create(client, merchant, 25000)["total_amount"]
    assert forward(client, merchant, **dana(total, device_id="hp-1")).json()["success"] is True
    assert forward(client, merchant, **dana(total, device_id="hp-2")).status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"]["id"] == stored(db_path)[0]["id"]


def test_a_notification_posted_again_by_the_same_phone_is_named_a_copy(
        app_factory, merchant: Merchant, db_path: Path) -> None:
    """Android posts a notification again when its app updates it: the same notification id
    and words with a new posted time. It is no new money, and the inbox says so; the same
    words under another notification id stay plain unmatched money (a payment made twice)."""
    client = admin_client(app_factory, db_path)
    total = create(client, merchant, 25000)["total_amount"]
    posted = {"deviceId": "hp-1", "packageName": "id.dana", "title": "DANA",
              "text": f"Kamu berhasil menerima Rp{rupiah(total)} dari BUDI"}
    paid = forward(client, merchant, **posted, notificationKey="0|id.dana|77|null|10123",
                   postedAt=1796000000000)
    assert paid.json()["success"] is True
    again = forward(client, merchant, **posted, notificationKey="0|id.dana|77|null|10123",
                    postedAt=1796000004000)
    assert again.status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"]["id"] == stored(db_path)[0]["id"]
    assert client.post(f"/admin/api/notifications/{waiting['id']}/resolve",
                       json={"resolution": "copy", "copy_of": stored(db_path)[0]["id"]}
                       ).status_code == 200
    other = forward(client, merchant, **posted, notificationKey="0|id.dana|78|null|10123",
                    postedAt=1796000009000)
    assert other.status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"] is None


def test_a_copy_is_named_only_within_the_dedupe_window(app_factory, merchant: Merchant,
                                                       db_path: Path) -> None:
    client = admin_client(app_factory, db_path, payments={"dedupe_window_seconds": 1})
    total = create(client, merchant, 25000)["total_amount"]
    assert forward(client, merchant, **gopay_merchant(total)).json()["success"] is True
    time.sleep(1.05)
    assert forward(client, merchant, **gopay_app(total)).status_code == 404
    [waiting] = waiting_money(client)
    assert waiting["likely_copy_of"] is None


def test_unparsed_is_422_with_raw_message(client: TestClient, merchant: Merchant,
                                          db_path: Path) -> None:
    response = forward(client, merchant, app="com.dana.id", message="Pesan yang tidak dikenal")
    assert response.status_code == 422
    assert response.json() == {"success": False,
                               "message": "Tidak dapat mendeteksi nominal dari notifikasi",
                               "raw_message": "Pesan yang tidak dikenal"}
    assert stored(db_path)[-1]["outcome"] == "unparsed"


def test_outgoing_payment_never_pays(client: TestClient, merchant: Merchant) -> None:
    invoice = create(client, merchant, 25000)
    rp = rupiah(invoice["total_amount"])
    for message in (f"Kamu berhasil membayar Rp{rp} ke Toko e2e",
                    f"Kamu berhasil transfer uang ke Budi sebesar Rp {rp}"):
        assert forward(client, merchant, app="id.dana", message=message).status_code == 422
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"


def test_unmatched_is_404_and_stored(client: TestClient, merchant: Merchant,
                                     db_path: Path) -> None:
    response = forward(client, merchant, **dana(31337))
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "No matching pending payment",
                               "parsed_amount": 31337, "merchant": "Toko ABC"}
    row = stored(db_path)[-1]
    assert (row["outcome"], row["parsed_amount"], row["message"]) == \
        ("unmatched", 31337, "Kamu berhasil menerima Rp31.337 dari JOHN DOE")


@pytest.mark.parametrize("headers,needle", [
    ({}, "missing"),
    ({"Authorization": "Bearer wqc_wrong"}, "invalid"),
])
def test_forwarder_auth_failures(client: TestClient, headers: dict, needle: str) -> None:
    response = client.post("/api/webhook/payment", json={"message": "test", "event_hash": "test"},
                           headers=headers)
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert needle in response.json()["message"]


def test_api_token_is_not_a_callback_secret(client: TestClient, merchant: Merchant) -> None:
    for response in (
        client.post("/api/webhook/payment", json={"message": "test", "event_hash": "test"},
                    headers={"Authorization": f"Bearer {merchant.api_token}"}),
        client.post("/api/callback/notify", json={"amount": 1000},
                    headers={"X-Callback-Key": merchant.api_token}),
    ):
        assert response.status_code == 401
        assert "API token" in response.json()["message"]


def test_one_merchants_phone_never_pays_anothers_invoice(client: TestClient, merchant: Merchant,
                                                         db_path: Path) -> None:
    other = add_merchant(db_path, name="Toko Lain")
    invoice = create(client, merchant, 15000)
    response = forward(client, other, **dana(invoice["total_amount"]))
    assert response.status_code == 404
    assert response.json()["merchant"] == "Toko Lain"
    callback = client.post("/api/callback/notify", json={"amount": invoice["total_amount"]},
                           headers={"X-Callback-Key": other.callback_secret})
    assert callback.status_code == 404
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"


def test_seed_callback_notify(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    invoice = create(client, merchant, 25000)
    body = {"amount": invoice["total_amount"], "sender_name": "JOHN DOE",
            "reference": "optional-reference"}
    response = client.post("/api/callback/notify", json=body,
                           headers={"X-Callback-Key": merchant.callback_secret,
                                    "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"success": True, "invoice_id": invoice["invoice_id"]}
    data = status_of(client, merchant, invoice["invoice_id"])
    assert (data["status"], data["payment_method"]) == ("paid", "callback")
    repeat = client.post("/api/callback/notify", json=body,
                         headers={"X-Callback-Key": merchant.callback_secret})
    assert repeat.status_code == 200
    assert repeat.json()["message"] == "Duplicate notification"
    assert [r["outcome"] for r in stored(db_path)] == ["matched", "duplicate"]


@pytest.mark.parametrize("body,status", [
    ({"amount": "25042"}, 400), ({"amount": 25042.5}, 400), ({}, 400), ({"amount": 0}, 400),
    ({"amount": 99999}, 404), ({"amount": 5, "sender_name": {"x": 1}}, 400),
])
def test_callback_bad_input(client: TestClient, merchant: Merchant, body: dict,
                            status: int) -> None:
    response = client.post("/api/callback/notify", json=body,
                           headers={"X-Callback-Key": merchant.callback_secret})
    assert response.status_code == status
    assert response.json()["success"] is False


def test_callback_requires_key(client: TestClient) -> None:
    response = client.post("/api/callback/notify", json={"amount": 1000})
    assert response.status_code == 401
    assert "X-Callback-Key" in response.json()["message"]


def test_form_encoded_forwarder_with_popular_field_names(client: TestClient, merchant: Merchant,
                                                         db_path: Path) -> None:
    a = create(client, merchant, 11000)
    response = client.post(
        "/api/webhook/payment",
        data={"packageName": "id.dana", "title": "DANA",
              "text": f"Kamu berhasil menerima Rp{rupiah(a['total_amount'])} dari SITI",
              "postedAt": "1710000000000", "notificationKey": "0|id.dana|42|null|10123"},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert response.status_code == 200, response.text
    assert response.json()["invoice_id"] == a["invoice_id"]
    b = create(client, merchant, 12000)
    response = client.post(
        "/api/webhook/payment",
        json={"from": "id.dana", "content": f"Kamu berhasil menerima Rp{rupiah(b['total_amount'])}"
              " dari BUDI", "timestamp": 1710000000},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert response.status_code == 200, response.text
    assert response.json()["sender_name"] == "BUDI"
    rows = stored(db_path)
    assert rows[0]["notif_id"] == "0|id.dana|42|null|10123" and rows[0]["app"] == "id.dana"
    assert rows[1]["posted_at"] == "1710000000"


@pytest.mark.parametrize("forwarder,body", [
    # glogiotatidis/notification-fwder: packageName/title/text/bigText, ms timestamp, device object
    ("notification-fwder", {"packageName": "id.dana", "appName": "DANA", "title": "DANA",
                            "text": "Kamu berhasil menerima Rp{rp}…",
                            "bigText": "Kamu berhasil menerima Rp{rp} dari RINA", "priority": 0,
                            "timestamp": 1767225600000,
                            "device": {"androidVersion": "14", "deviceModel": "Pixel 7"}}),
    # FilterBox: the notification's extras as they are
    ("FilterBox", {"filterbox.field.PACKAGE_NAME": "id.dana", "android.title": "DANA",
                   "android.text": "Kamu berhasil menerima Rp{rp} dari RINA",
                   "filterbox.field.WHEN": 1767225600000}),
    # Incoming SMS & Notifications Gateway: from/text/sentStamp
    ("sms-gateway", {"from": "id.dana", "text": "Kamu berhasil menerima Rp{rp} dari RINA",
                     "sentStamp": 1767225600000}),
])
def test_forwarder_app_payloads(client: TestClient, merchant: Merchant, forwarder: str,
                                body: dict) -> None:
    invoice = create(client, merchant, 33000)
    rp = rupiah(invoice["total_amount"])
    filled = {k: v.replace("{rp}", rp) if isinstance(v, str) else v for k, v in body.items()}
    response = client.post("/api/webhook/payment", json=filled,
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "invoice_id": invoice["invoice_id"],
                               "parsed_amount": invoice["total_amount"], "sender_name": "RINA"}


# A hand-made template that pastes the notification's text unescaped lets the text add a
# field: the payer's name `X", "message": "Kamu berhasil menerima Rp<big>` in JSON, or
# `X&message=…` in a form or a URL. The forged second field must not be the one that pays.
INJECTED = "Kamu berhasil menerima Rp1 dari X"


def injected_json(total: int) -> bytes:
    return ('{"app": "id.dana", "message": "' + INJECTED + '", "message": "Kamu berhasil'
            f' menerima Rp{rupiah(total)} dari Y"}}').encode()


def injected_form(total: int) -> bytes:
    return (f"app=id.dana&message={INJECTED}&message=Kamu berhasil menerima"
            f" Rp{rupiah(total)} dari Y").replace(" ", "+").encode()


@pytest.mark.parametrize("where", ["json", "form", "query"])
def test_a_field_forged_by_the_notifications_own_text_never_pays(
        client: TestClient, merchant: Merchant, db_path: Path, where: str) -> None:
    invoice = create(client, merchant, 99000)
    auth = {"Authorization": f"Bearer {merchant.callback_secret}"}
    if where == "json":
        response = client.post("/api/webhook/payment", content=injected_json(
            invoice["total_amount"]), headers={**auth, "Content-Type": "application/json"})
    elif where == "form":
        response = client.post("/api/webhook/payment", content=injected_form(
            invoice["total_amount"]), headers={
                **auth, "Content-Type": "application/x-www-form-urlencoded"})
    else:
        response = client.post("/api/webhook/payment?" + injected_form(
            invoice["total_amount"]).decode(), headers=auth)
    assert response.status_code == 422, response.text
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"
    # The owner sees both texts, in the order they came.
    row = stored(db_path)[-1]
    assert (row["outcome"], row["message"]) == (
        "unparsed", f"{INJECTED}\nKamu berhasil menerima Rp{rupiah(invoice['total_amount'])}"
                    " dari Y")


def test_a_field_forged_under_another_name_never_pays(client: TestClient, merchant: Merchant,
                                                     db_path: Path) -> None:
    """The same trick with a name the forwarder does not use: a template sending
    `packageName` and `text` gets an `app` and a `message` from a chat message's text, and
    those names rank first. A chat app stays a chat app; two amounts pay nothing."""
    invoice = create(client, merchant, 98000)
    forged = f"Kamu berhasil menerima Rp{rupiah(invoice['total_amount'])} dari Y"
    chat = forward(client, merchant, packageName="com.whatsapp", title="Budi", text="halo",
                   app="id.dana", message=forged)
    assert (chat.status_code, chat.json()["app_accepted"]) == (404, False), chat.text
    wallet = forward(client, merchant, packageName="id.dana", text=INJECTED, message=forged)
    assert wallet.status_code == 422, wallet.text
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"
    assert [(row["app"], row["message"]) for row in stored(db_path)] == [
        ("id.dana | com.whatsapp", f"{forged}\nhalo"), ("id.dana", f"{forged}\n{INJECTED}")]


def test_a_field_forged_in_another_case_never_pays(client: TestClient, merchant: Merchant,
                                                  db_path: Path) -> None:
    """Names are read in any case (`packagename`), so the trick also works with a spelling
    the forwarder does not use: `PackageName` and `Text` beside its `packageName` and `text`."""
    invoice = create(client, merchant, 97000)
    forged = f"Kamu berhasil menerima Rp{rupiah(invoice['total_amount'])} dari Y"
    chat = forward(client, merchant, packageName="com.whatsapp", text="halo",
                   PackageName="id.dana", Text=forged)
    assert (chat.status_code, chat.json()["app_accepted"]) == (404, False), chat.text
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"
    assert [(row["app"], row["message"]) for row in stored(db_path)] == [
        ("com.whatsapp | id.dana", f"halo\n{forged}")]


def test_a_callback_amount_given_twice_is_400(client: TestClient, merchant: Merchant) -> None:
    invoice = create(client, merchant, 99000)
    response = client.post(
        "/api/callback/notify", content=f'{{"amount": 1, "amount": {invoice["total_amount"]}}}',
        headers={"X-Callback-Key": merchant.callback_secret, "Content-Type": "application/json"})
    assert (response.status_code, response.json()["error_code"]) == (400, "field_repeated")
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"


@pytest.mark.parametrize("body", [
    {}, {"app": "id.dana"}, {"message": ["x"]}, {"message": "x" * 9000},
    {"message": {"text": "Rp10.000"}}, {"message": True},
])
def test_forwarder_bad_bodies_are_400(client: TestClient, merchant: Merchant, body: dict) -> None:
    response = forward(client, merchant, **body)
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_late_notification_within_grace_pays(app_factory, merchant: Merchant) -> None:
    client = app_factory(payments={"late_grace_seconds": 3600})
    invoice = create(client, merchant, 5000, expires_in=1)
    time.sleep(1.1)
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "expired"
    response = forward(client, merchant, **dana(invoice["total_amount"]))
    assert response.status_code == 200
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "paid"


def test_late_notification_past_grace_is_unmatched(app_factory, merchant: Merchant) -> None:
    client = app_factory(payments={"late_grace_seconds": 0})
    invoice = create(client, merchant, 5000, expires_in=1)
    time.sleep(1.1)
    assert forward(client, merchant, **dana(invoice["total_amount"])).status_code == 404
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "expired"


def test_cancelled_invoice_is_not_paid_by_a_notification(client: TestClient,
                                                         merchant: Merchant) -> None:
    invoice = create(client, merchant, 5000)
    client.post(f"/api/payments/{invoice['invoice_id']}/cancel", headers=merchant.auth)
    assert forward(client, merchant, **dana(invoice["total_amount"])).status_code == 404


def test_device_health_is_remembered(client: TestClient, merchant: Merchant,
                                     db_path: Path) -> None:
    forward(client, merchant, message="test", event_hash="test", device_id="phone-1")
    forward(client, merchant, **dana(777, device_id="phone-1", notif_id="x1"))
    forward(client, merchant, **dana(778, device_id="phone-2", notif_id="x2"))
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT device_id, last_notification_at IS NOT NULL,"
                        " last_test_at IS NOT NULL, last_app FROM devices ORDER BY device_id")
    assert rows.fetchall() == [("phone-1", 1, 1, "com.dana.id"), ("phone-2", 1, 0, "com.dana.id")]
    conn.close()


def test_attach_unmatched_notification(client: TestClient, merchant: Merchant,
                                       db_path: Path) -> None:
    invoice = create(client, merchant, 40000)
    # The customer paid a wrong amount: unmatched, but money on the shop's phone.
    assert forward(client, merchant, **dana(40000)).status_code == 404
    note_id = stored(db_path)[-1]["id"]
    store = client.app.state.ctx.store
    # A wrong amount pays only when the owner confirmed the difference.
    with pytest.raises(webqris.Conflict) as mismatch:
        client.portal.call(lambda: store.write(webqris.attach_notification, note_id,
                                               invoice["invoice_id"], webqris.now_ms()))
    assert mismatch.value.extra["error_code"] == "amount_mismatch"
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"
    paid = client.portal.call(lambda: store.write(webqris.attach_notification, note_id,
                                                  invoice["invoice_id"], webqris.now_ms(),
                                                  confirm_amount_mismatch=True))
    assert paid["status"] == "paid" and paid["payment_method"] == "manual"
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "paid"
    assert stored(db_path)[-1]["attached_at"] is not None
    with pytest.raises(webqris.Conflict):
        client.portal.call(lambda: store.write(webqris.attach_notification, note_id,
                                               invoice["invoice_id"], webqris.now_ms()))


def admin_client(app_factory, db_path: Path, **sections: dict) -> TestClient:
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password("owner pass"))
    store.close()
    client = app_factory(**sections)
    login = client.post("/admin/api/login", json={"password": "owner pass"})
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    return client


PAID_WORDS = "Kamu berhasil menerima Rp{amount} dari JOHN DOE"


@pytest.mark.parametrize("app", [
    "com.google.android.gm",  # Gmail
    "com.google.android.apps.messaging",  # SMS
    "com.whatsapp",
    "org.telegram.messenger",
    "com.truecaller",
    "com.ss.android.ugc.trill",  # TikTok
    "com.tokopedia.tkpd",
    "com.lazada.android",
    "com.shopee.id",  # the Shopee shopping app, not ShopeePay
    "com.example.unknown",
    None,  # no package at all
])
def test_only_payment_apps_pay_by_default(app_factory, merchant: Merchant, db_path: Path,
                                          app: str | None) -> None:
    """Anybody who can mail, message or call the shop could otherwise mark an order paid: a
    notification that is not from a payment app waits in the inbox with its amount, and the
    owner can trust that app for this shop in one step."""
    client = admin_client(app_factory, db_path)
    invoice = create(client, merchant, 25000)
    words = {"title": "x", "message": PAID_WORDS.format(amount=rupiah(invoice["total_amount"]))}
    refused = forward(client, merchant, **({"app": app} if app else {}), **words)
    assert refused.status_code == 404, refused.text
    assert refused.json()["success"] is False and refused.json()["app_accepted"] is False
    assert refused.json()["parsed_amount"] == invoice["total_amount"]
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "pending"
    [waiting] = client.get("/admin/api/notifications?outcome=needs_attention").json()["data"]
    assert waiting["app_not_accepted"] is True
    assert waiting["parsed_amount"] == invoice["total_amount"]

    if app is None:
        trust = {"accept_unnamed_app": True}
    else:
        trust = {"accepted_apps": [app]}
    edited = client.patch(f"/admin/api/merchants/{merchant.id}", json=trust)
    assert edited.status_code == 200, edited.text
    paid = forward(client, merchant, **({"app": app} if app else {}), **words,
                   notif_id="after-trust")
    assert paid.status_code == 200, paid.text
    assert status_of(client, merchant, invoice["invoice_id"])["status"] == "paid"


@pytest.mark.parametrize("app", ["id.dana", "com.dana.id", "ID.Dana", "com.gojek.gopaymerchant",
                                 "com.shopeepay.id", "id.co.bri.brimo", "com.bca"])
def test_payment_apps_pay_by_default(client: TestClient, merchant: Merchant, app: str) -> None:
    invoice = create(client, merchant, 25000)
    paid = forward(client, merchant, app=app, title="Pembayaran",
                   message=f"Pembayaran QRIS Rp{rupiah(invoice['total_amount'])} diterima")
    assert paid.status_code == 200, paid.text
    assert status_of(client, merchant, invoice["invoice_id"])["payment_method"] == app


def test_any_app_is_an_explicit_opt_in(app_factory, merchant: Merchant, db_path: Path) -> None:
    client = admin_client(app_factory, db_path)
    listed = client.get("/admin/api/merchants").json()["data"][0]
    assert (listed["accept_any_app"], listed["accept_unnamed_app"]) == (False, False)
    for bad in ("yes", 1, None):
        answer = client.patch(f"/admin/api/merchants/{merchant.id}",
                              json={"accept_any_app": bad})
        assert answer.status_code == 400 and "accept_any_app" in answer.json()["message"]
    assert client.patch(f"/admin/api/merchants/{merchant.id}",
                        json={"accept_any_app": True}).status_code == 200
    invoice = create(client, merchant, 31000)
    assert forward(client, merchant, app="com.example.chat", title="DANA",
                   message=PAID_WORDS.format(amount=rupiah(invoice["total_amount"]))
                   ).status_code == 200
    assert client.patch(f"/admin/api/merchants/{merchant.id}",
                        json={"accept_any_app": False}).status_code == 200
    later = create(client, merchant, 32000)
    assert forward(client, merchant, app="com.example.chat", title="DANA",
                   message=PAID_WORDS.format(amount=rupiah(later["total_amount"]))
                   ).status_code == 404


def test_accepted_apps_are_checked_and_kept_in_order(app_factory, merchant: Merchant,
                                                      db_path: Path) -> None:
    client = admin_client(app_factory, db_path)
    edited = client.patch(f"/admin/api/merchants/{merchant.id}",
                          json={"accepted_apps": [" COM.Example.POS ", "com.example.till",
                                                  "com.example.pos"]})
    assert edited.status_code == 200, edited.text
    assert edited.json()["data"]["accepted_apps"] == ["com.example.pos", "com.example.till"]
    for bad in (["not a package"], "id.dana", [1], ["x" * 200]):
        answer = client.patch(f"/admin/api/merchants/{merchant.id}",
                              json={"accepted_apps": bad})
        assert answer.status_code == 400 and "accepted_apps" in answer.json()["message"]
    cleared = client.patch(f"/admin/api/merchants/{merchant.id}", json={"accepted_apps": []})
    assert cleared.json()["data"]["accepted_apps"] == []
    # Known payment apps pay whatever the list says.
    invoice = create(client, merchant, 43000)
    assert forward(client, merchant, **dana(invoice["total_amount"])).status_code == 200


# --- duplicates: the same notification seen again, not merely the same key ------------------


def test_a_reused_notification_id_with_another_amount_is_a_new_payment(
        client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """Android reuses notification ids (and forwarders their notificationKey): the second
    payment must pay, not be answered "Duplicate notification"."""
    first, second = create(client, merchant, 10000), create(client, merchant, 20000)
    for invoice in (first, second):
        body = dana(invoice["total_amount"], notif_id="0|id.dana|1", timestamp=None)
        answer = forward(client, merchant, **{k: v for k, v in body.items() if v is not None})
        assert answer.status_code == 200 and answer.json()["success"] is True, answer.text
        assert status_of(client, merchant, invoice["invoice_id"])["status"] == "paid"
    assert [row["outcome"] for row in stored(db_path)] == ["matched", "matched"]


def test_same_words_without_a_time_are_a_retry_only_within_the_window(
        app_factory, merchant: Merchant, db_path: Path) -> None:
    """DANA Bisnis' "Rp29.xxx diterima DANA Bisnis." names no payer: a later invoice with the
    same total, paid the same way, sends the very same words."""
    client = app_factory(payments={"unique_code_min": 7, "unique_code_max": 7,
                                   "late_grace_seconds": 1, "dedupe_window_seconds": 1})
    words = {"app": "id.dana", "title": "Pembayaran Masuk"}
    first = create(client, merchant, 29000)
    message = f"Rp{rupiah(first['total_amount'])} diterima DANA Bisnis."
    assert forward(client, merchant, **words, message=message).json()["success"] is True
    retry = forward(client, merchant, **words, message=message)
    assert retry.json() == {"success": False, "message": "Duplicate notification",
                            "notif_id": None}
    time.sleep(1.05)  # past the window (and the grace period that keeps the total out of reuse)
    second = create(client, merchant, 29000)
    assert second["total_amount"] == first["total_amount"]
    again = forward(client, merchant, **words, message=message)
    assert again.status_code == 200 and again.json()["invoice_id"] == second["invoice_id"]
    assert [row["outcome"] for row in stored(db_path)] == ["matched", "duplicate", "matched"]


def test_a_window_longer_than_the_grace_period_is_refused() -> None:
    with pytest.raises(webqris.ConfigError, match="dedupe_window_seconds"):
        webqris.load_config(None, {"WEBQRIS_PAYMENTS_DEDUPE_WINDOW_SECONDS": "901"})


def test_a_callback_reference_that_paid_nothing_can_be_retried(client: TestClient,
                                                              merchant: Merchant,
                                                              db_path: Path) -> None:
    """The seed's PHP, Laravel and CodeIgniter snippets all send 'optional-reference'."""
    invoice = create(client, merchant, 50000)
    headers = {"X-Callback-Key": merchant.callback_secret}
    wrong = client.post("/api/callback/notify", headers=headers,
                        json={"amount": 50000, "reference": "optional-reference"})
    assert wrong.status_code == 404
    # The same wrong amount again: still 404, and the money is in the inbox once.
    assert client.post("/api/callback/notify", headers=headers,
                       json={"amount": 50000, "reference": "optional-reference"}
                       ).status_code == 404
    assert [r["outcome"] for r in stored(db_path)] == ["unmatched", "duplicate"]
    fixed = client.post("/api/callback/notify", headers=headers,
                        json={"amount": invoice["total_amount"],
                              "reference": "optional-reference"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json() == {"success": True, "invoice_id": invoice["invoice_id"]}
    again = client.post("/api/callback/notify", headers=headers,
                        json={"amount": invoice["total_amount"],
                              "reference": "optional-reference"})
    assert again.json() == {"success": False, "message": "Duplicate notification",
                            "reference": "optional-reference"}
    # Another amount under the same reference is another payment.
    other = create(client, merchant, 60000)
    assert client.post("/api/callback/notify", headers=headers,
                       json={"amount": other["total_amount"], "reference": "optional-reference"}
                       ).json()["invoice_id"] == other["invoice_id"]


def test_the_seed_placeholder_reference_pays_the_next_invoice_of_the_same_total(
        app_factory, merchant: Merchant, db_path: Path) -> None:
    """The seed's PHP, Laravel and CodeIgniter snippets send 'optional-reference' for every
    payment. A total comes back once the grace period has passed (1 s here, 15 min by
    default), and the next customer's payment of it was a "Duplicate notification" forever:
    not paid, and not in the owner's inbox either."""
    client = app_factory(payments={"unique_code_min": 42, "unique_code_max": 42,
                                   "late_grace_seconds": 1, "dedupe_window_seconds": 1})
    headers = {"X-Callback-Key": merchant.callback_secret}
    body = {"amount": 25042, "sender_name": "JOHN DOE", "reference": "optional-reference"}
    first = create(client, merchant, 25000)
    assert client.post("/api/callback/notify", headers=headers, json=body).json() == {
        "success": True, "invoice_id": first["invoice_id"]}
    # The caller's retry, within the window, is still the same payment.
    assert client.post("/api/callback/notify", headers=headers, json=body).json()[
        "message"] == "Duplicate notification"
    time.sleep(1.1)
    second = create(client, merchant, 25000)
    assert second["total_amount"] == 25042
    paid = client.post("/api/callback/notify", headers=headers, json=body)
    assert paid.json() == {"success": True, "invoice_id": second["invoice_id"]}, paid.text
    assert status_of(client, merchant, second["invoice_id"])["status"] == "paid"


def test_a_real_callback_reference_stays_spent_after_the_window(
        app_factory, merchant: Merchant, db_path: Path) -> None:
    """A reference of the caller's own names one payment: its late retry never pays the next
    invoice of the same total."""
    client = app_factory(payments={"unique_code_min": 42, "unique_code_max": 42,
                                   "late_grace_seconds": 1, "dedupe_window_seconds": 1})
    headers = {"X-Callback-Key": merchant.callback_secret}
    body = {"amount": 25042, "reference": "bank-ref-11"}
    create(client, merchant, 25000)
    assert client.post("/api/callback/notify", headers=headers, json=body).status_code == 200
    time.sleep(1.1)
    newer = create(client, merchant, 25000)
    retry = client.post("/api/callback/notify", headers=headers, json=body)
    assert retry.json()["message"] == "Duplicate notification"
    assert status_of(client, merchant, newer["invoice_id"])["status"] == "pending"


def test_a_retried_callback_that_now_pays_places_the_earlier_attempt(
        app_factory, merchant: Merchant, db_path: Path) -> None:
    """The invoice was created after the first attempt: the retry pays, and the first attempt
    leaves the inbox instead of inviting the owner to attach the same money again."""
    client = app_factory(payments={"unique_code_min": 123, "unique_code_max": 123})
    headers = {"X-Callback-Key": merchant.callback_secret}
    body = {"amount": 70123, "reference": "bank-ref-9"}
    assert client.post("/api/callback/notify", headers=headers, json=body).status_code == 404
    invoice = create(client, merchant, 70000)
    paid = client.post("/api/callback/notify", headers=headers, json=body)
    assert paid.status_code == 200 and paid.json()["invoice_id"] == invoice["invoice_id"]
    first, second = stored(db_path)
    assert (first["outcome"], second["outcome"]) == ("unmatched", "matched")
    assert first["attached_at"] is not None and first["invoice_id"] == second["invoice_id"]
    # The owner's inbox no longer shows it as waiting.
    store = client.app.state.ctx.store
    with pytest.raises(webqris.Conflict):
        client.portal.call(lambda: store.write(webqris.attach_notification, first["id"],
                                               invoice["invoice_id"], webqris.now_ms()))


def test_a_callback_retry_after_the_owner_placed_it_by_hand_is_a_duplicate(
        app_factory, merchant: Merchant, db_path: Path) -> None:
    client = app_factory(payments={"unique_code_min": 123, "unique_code_max": 123})
    headers = {"X-Callback-Key": merchant.callback_secret}
    body = {"amount": 70123, "reference": "bank-ref-10"}
    assert client.post("/api/callback/notify", headers=headers, json=body).status_code == 404
    placed = create(client, merchant, 50000)
    store = client.app.state.ctx.store
    note_id = stored(db_path)[0]["id"]
    client.portal.call(lambda: store.write(webqris.attach_notification, note_id,
                                           placed["invoice_id"], webqris.now_ms(),
                                           confirm_amount_mismatch=True))
    newer = create(client, merchant, 70000)
    retry = client.post("/api/callback/notify", headers=headers, json=body)
    assert retry.json()["message"] == "Duplicate notification"
    assert status_of(client, merchant, newer["invoice_id"])["status"] == "pending"


def test_racing_callback_retries_pay_once(db_path: Path, merchant: Merchant,
                                          server_factory) -> None:
    server = server_factory(db_path)
    invoice = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 20000},
                         headers=merchant.auth).json()

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            return await asyncio.gather(*(
                client.post("/api/callback/notify",
                            json={"amount": invoice["total_amount"], "reference": "r-1"},
                            headers={"X-Callback-Key": merchant.callback_secret})
                for _ in range(20)))

    answers = [r.json() for r in asyncio.run(race())]
    assert sum(a["success"] for a in answers) == 1
    assert all(a["message"] == "Duplicate notification" for a in answers if not a["success"])
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM invoices WHERE status = 'paid'").fetchone()[0] == 1
    conn.close()


async def _notify_concurrently(base_url: str, secret: str, bodies: list[dict]) -> list:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return await asyncio.gather(*(
            client.post("/api/webhook/payment", json=body,
                        headers={"Authorization": f"Bearer {secret}"}) for body in bodies))


def test_racing_notifications_pay_one_invoice_once(db_path: Path, merchant: Merchant,
                                                   server_factory) -> None:
    server = server_factory(db_path)
    invoice = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 20000},
                         headers=merchant.auth).json()
    total = invoice["total_amount"]
    # 20 different notifications of one total (distinct ids) and 20 retries of one.
    bodies = [dana(total, notif_id=f"n{i}") for i in range(20)] + [dana(total, notif_id="same")
                                                                   for _ in range(20)]
    responses = asyncio.run(_notify_concurrently(server.base_url, merchant.callback_secret,
                                                 bodies))
    successes = [r for r in responses if r.status_code == 200 and r.json()["success"]]
    assert len(successes) == 1
    assert successes[0].json()["invoice_id"] == invoice["invoice_id"]
    duplicates = [r for r in responses if r.status_code == 200 and not r.json()["success"]]
    unmatched = [r for r in responses if r.status_code == 404]
    assert len(duplicates) + len(unmatched) == 39
    assert len(duplicates) >= 19  # every retry of "same" but the first
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone()[0] == 40
    assert conn.execute("SELECT count(*) FROM invoices WHERE status = 'paid'").fetchone()[0] == 1
    conn.close()


def test_a_second_notification_of_a_payment_cannot_pay_a_newer_invoice(
        app_factory, merchant: Merchant) -> None:
    # Both GoPay apps forwarded: the consumer app's notification of the same payment arrives
    # after the merchant app's one paid the invoice. Its total must not have gone to a newer one.
    client = app_factory(payments={"unique_code_min": 7, "unique_code_max": 8,
                                   "late_grace_seconds": 900})
    first = create(client, merchant, 10000)
    merchant_app = forward(client, merchant, app="com.gojek.gopaymerchant", title="GoPay",
                           message=f"Pembayaran QRIS Rp{rupiah(first['total_amount'])} diterima")
    assert merchant_app.status_code == 200, merchant_app.text
    newer = create(client, merchant, 10000)
    assert newer["total_amount"] != first["total_amount"]
    # The only other code is the paid one's, kept out of reuse during the grace period.
    assert client.post("/api/payments/qris/create", json={"amount": 10000},
                       headers=merchant.auth).status_code == 503
    consumer_app = forward(client, merchant, **dana(first["total_amount"], notif_id="other-app"))
    assert consumer_app.status_code == 404
    assert status_of(client, merchant, newer["invoice_id"])["status"] == "pending"


def posted_ms_now() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize("closed_by", ["cancel", "payment"])
def test_a_late_notification_of_an_earlier_invoice_never_pays_a_newer_one(
        app_factory, merchant: Merchant, db_path: Path, closed_by: str) -> None:
    """The phone was offline while the customer paid; NotificationForwarder's queue sends the
    notification, with its own posted time, after the grace period gave the total to a newer
    invoice. The newer invoice's customer has not paid: the money waits in the inbox."""
    client = admin_client(app_factory, db_path, payments={
        "unique_code_min": 7, "unique_code_max": 7, "late_grace_seconds": 1,
        "dedupe_window_seconds": 1})
    earlier = create(client, merchant, 25000)
    posted = posted_ms_now()
    if closed_by == "cancel":
        assert client.post(f"/api/payments/{earlier['invoice_id']}/cancel",
                           headers=merchant.auth).status_code == 200
    else:  # the shop's other phone already paid it with the same payment
        assert forward(client, merchant, **dana(earlier["total_amount"], device_id="phone-2",
                                                notif_id="a")).status_code == 200
    time.sleep(1.1)  # past the grace period that keeps the total out of reuse
    newer = create(client, merchant, 25000)
    assert newer["total_amount"] == earlier["total_amount"]
    late = forward(client, merchant, packageName="id.dana", title="DANA", deviceId="phone-1",
                   text=f"Kamu berhasil menerima Rp{rupiah(earlier['total_amount'])} dari BUDI",
                   postedAt=posted, notificationKey="0|id.dana|7|null|10123")
    assert late.status_code == 404, late.text
    assert late.json()["message"] == "No matching pending payment"
    assert status_of(client, merchant, newer["invoice_id"])["status"] == "pending"
    assert stored(db_path)[-1]["outcome"] == "unmatched"
    # The inbox names the payment it copies, whose bill its posted time falls in: not money
    # to attach to the newer bill that has its total.
    [waiting] = waiting_money(client)
    if closed_by == "payment":
        assert waiting["likely_copy_of"]["invoice_id"] == earlier["invoice_id"]
    else:
        assert waiting["likely_copy_of"] is None
    assert waiting["likely_for"] is None  # only an expired bill is named as the one it paid
    # The same words posted now are the newer customer's payment.
    now = forward(client, merchant, packageName="id.dana", title="DANA", deviceId="phone-1",
                  text=f"Kamu berhasil menerima Rp{rupiah(earlier['total_amount'])} dari SITI",
                  postedAt=str(posted_ms_now() // 1000), notificationKey="0|id.dana|8|null|1")
    assert now.status_code == 200 and now.json()["invoice_id"] == newer["invoice_id"], now.text


@pytest.mark.parametrize("posted_at", ["2026-03-26 10:26:00", "yesterday", "12345"])
def test_a_posted_time_that_names_no_moment_is_not_read(posted_at: str) -> None:
    note = webqris.InboundNotification(source="forwarder", posted_at=posted_at)
    assert note.posted_ms() is None


@pytest.mark.parametrize(("posted_at", "expected"), [
    ("1774088123000", 1774088123000), ("1774088123", 1774088123000),
    ("1774088123.5", 1774088123500), ("2026-03-21T10:15:23.000Z", 1774088123000),
    ("2026-03-21T17:15:23+07:00", 1774088123000)])
def test_a_posted_time_is_read_in_every_forwarders_spelling(posted_at: str,
                                                            expected: int) -> None:
    note = webqris.InboundNotification(source="forwarder", posted_at=posted_at)
    assert note.posted_ms() == expected


def test_shops_on_one_qris_never_show_the_same_total(app_factory, merchant: Merchant,
                                                     db_path: Path) -> None:
    """Two shops on one QRIS sticker take their money into one account; a phone that forwards
    to both would pay a bill of the total in each with one payment. Their totals are told apart
    across both shops, as one shop's are."""
    branch = add_merchant(db_path, "Toko ABC Cabang")  # the same sticker
    elsewhere = add_merchant(db_path, "Toko Lain", static_qris=ANOTHER_STATIC_QRIS)
    client = app_factory(payments={"unique_code_min": 7, "unique_code_max": 8})
    first, second = create(client, merchant, 25000), create(client, branch, 25000)
    assert {first["total_amount"], second["total_amount"]} == {25007, 25008}
    refused = client.post("/api/payments/qris/create", json={"amount": 25000},
                          headers=branch.auth)
    assert refused.status_code == 503 and "Kode unik habis" in refused.json()["message"]
    # Another account's shop may show any total of its own.
    assert create(client, elsewhere, 25000)["total_amount"] in (25007, 25008)
    # One payment forwarded to both shops pays exactly one bill.
    message = f"Kamu berhasil menerima Rp{rupiah(first['total_amount'])} dari BUDI"
    assert forward(client, merchant, app="id.dana", message=message).status_code == 200
    assert forward(client, branch, app="id.dana", message=message).status_code == 404
    assert status_of(client, branch, second["invoice_id"])["status"] == "pending"
