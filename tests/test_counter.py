"""The shop's counter: bills made on the cashier page (/kasir) and as payment links through the
admin API, today's bills for the cashier, and the receipt of a paid bill (/pay/{id}/receipt).
API tests over the real app; the pages themselves run in Chromium in test_counter_pages.py."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from conftest import Merchant, add_merchant
from starlette.testclient import TestClient

import webqris

PASSWORD = "kata sandi kasir"
WEEK = 7 * 86400


@pytest.fixture
def admin(app_factory, merchant: Merchant, db_path: Path) -> TestClient:
    """A logged-in dashboard client; its CSRF token is sent on every request."""
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_setting, "admin_password", webqris.hash_password(PASSWORD))
    store.close()
    client = app_factory()
    response = client.post("/admin/api/login", json={"password": PASSWORD})
    assert response.status_code == 200
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def make_bill(client: TestClient, merchant: Merchant, **body: object) -> dict:
    response = client.post(f"/admin/api/merchants/{merchant.id}/invoices",
                           json={"kind": "kasir", "amount": 25000, **body})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def forward_dana(client: TestClient, merchant: Merchant, total: int,
                 sender: str = "BUDI SANTOSO") -> dict:
    rupiah = f"{total:,}".replace(",", ".")
    response = client.post("/api/webhook/payment", headers={
        "Authorization": f"Bearer {merchant.callback_secret}"}, json={
        "app": "id.dana", "title": "DANA",
        "message": f"Kamu berhasil menerima Rp{rupiah} dari {sender}",
        "device_id": "hp-kasir", "notif_id": f"n-{total}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_cashier_bill_is_a_normal_invoice_the_forwarder_pays(admin: TestClient,
                                                               merchant: Merchant,
                                                               db_path: Path) -> None:
    bill = make_bill(admin, merchant, amount=18000, description="2 kopi susu")
    assert bill["status"] == "pending"
    assert bill["amount"] == 18000
    assert bill["total_amount"] == 18000 + bill["unique_code"]
    assert bill["source"] == "kasir" and bill["description"] == "2 kopi susu"
    assert bill["checkout_url"].endswith(f"/pay/{bill['invoice_id']}")
    assert admin.get(bill["qr_svg_url"]).headers["content-type"].startswith("image/svg+xml")

    # The merchant's own API sees it like any other bill, and a notification pays it.
    listed = admin.get("/api/payments", headers=merchant.auth).json()["data"]
    assert [p["invoice_id"] for p in listed] == [bill["invoice_id"]]
    paid = forward_dana(admin, merchant, bill["total_amount"])
    assert paid["invoice_id"] == bill["invoice_id"]
    status = admin.get(f"/api/payments/{bill['invoice_id']}/status",
                       headers=merchant.auth).json()["data"]
    assert status["status"] == "paid" and status["payment_method"] == "id.dana"

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT source, created_by, description FROM invoices").fetchall() \
            == [("kasir", "admin", "2 kopi susu")]
    finally:
        conn.close()


def test_two_pending_bills_of_one_amount_get_different_totals(admin: TestClient,
                                                             merchant: Merchant) -> None:
    first = make_bill(admin, merchant, amount=10000)
    second = make_bill(admin, merchant, amount=10000, kind="link")
    api_bill = admin.post("/api/payments/qris/create", json={"amount": 10000},
                          headers=merchant.auth).json()
    assert len({first["total_amount"], second["total_amount"], api_bill["total_amount"]}) == 3


def test_a_payment_link_lives_up_to_seven_days_and_shows_its_description(
        admin: TestClient, merchant: Merchant) -> None:
    link = make_bill(admin, merchant, kind="link", amount=150000, description="Kue lapis 1 loyang",
                     customer_name="Ibu Sari", expires_in_seconds=WEEK)
    created = datetime.fromisoformat(link["created_at"])
    expires = datetime.fromisoformat(link["expired_at"])
    assert (expires - created).total_seconds() == WEEK
    checkout = admin.get(f"/pay/{link['invoice_id']}/data").json()["data"]
    assert checkout["description"] == "Kue lapis 1 loyang"
    assert checkout["customer_name"] == "Ibu Sari"

    too_long = admin.post(f"/admin/api/merchants/{merchant.id}/invoices",
                          json={"kind": "link", "amount": 150000, "expires_in_seconds": WEEK + 1})
    assert too_long.status_code == 400
    assert too_long.json() == {"success": False,
                               "message": f"expires_in_seconds must be between 60 and {WEEK}"}


def test_the_checkout_keeps_an_api_bills_customer_name_private(admin: TestClient,
                                                              merchant: Merchant) -> None:
    created = admin.post("/api/payments/qris/create",
                         json={"amount": 25000, "customer_name": "John Doe"},
                         headers=merchant.auth).json()
    checkout = admin.get(f"/pay/{created['invoice_id']}/data").json()["data"]
    assert checkout["customer_name"] is None and checkout["description"] is None


@pytest.mark.parametrize("body,message", [
    ({"amount": 25000}, 'kind must be "kasir" or "link"'),
    ({"kind": "shop", "amount": 25000}, 'kind must be "kasir" or "link"'),
    ({"kind": "kasir"}, "amount is required"),
    ({"kind": "kasir", "amount": "25000"}, "amount must be an integer"),
    ({"kind": "kasir", "amount": 25000.5}, "amount must be an integer"),
    ({"kind": "kasir", "amount": True}, "amount must be an integer"),
    ({"kind": "kasir", "amount": 0}, "amount must be between 1 and 10000000"),
    ({"kind": "link", "amount": 1000, "expires_in_seconds": 59},
     f"expires_in_seconds must be between 60 and {WEEK}"),
    ({"kind": "link", "amount": 1000, "expires_in_seconds": "1d"},
     "expires_in_seconds must be an integer"),
    ({"kind": "link", "amount": 1000, "description": "x" * 201},
     "description is too long (max 200 characters)"),
    ({"kind": "link", "amount": 1000, "customer_name": ["Sari"]},
     "customer_name must be a string"),
])
def test_bad_bills_are_refused_with_a_clear_message(admin: TestClient, merchant: Merchant,
                                                    body: dict, message: str) -> None:
    response = admin.post(f"/admin/api/merchants/{merchant.id}/invoices", json=body)
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": message}


def test_a_bill_for_an_unknown_shop_or_one_without_qris_is_refused(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    for path in ("/admin/api/merchants/999/invoices", "/admin/api/merchants/abc/invoices"):
        response = admin.post(path, json={"kind": "kasir", "amount": 1000})
        assert response.status_code == 404
        assert response.json() == {"success": False, "message": "Merchant not found"}
    no_qris = add_merchant(db_path, "Toko Tanpa QRIS", static_qris=None)
    response = admin.post(f"/admin/api/merchants/{no_qris.id}/invoices",
                          json={"kind": "kasir", "amount": 1000})
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert admin.post(f"/admin/api/merchants/{merchant.id}/invoices", content=b"[1]",
                      headers={"Content-Type": "application/json"}).status_code == 400


def test_making_a_bill_needs_the_login_and_the_csrf_token(admin: TestClient,
                                                          merchant: Merchant) -> None:
    path = f"/admin/api/merchants/{merchant.id}/invoices"
    forged = admin.post(path, json={"kind": "kasir", "amount": 1000},
                        headers={"X-CSRF-Token": "wrong"})
    assert forged.status_code == 403
    admin.post("/admin/api/logout")
    assert admin.post(path, json={"kind": "kasir", "amount": 1000}).status_code == 401
    assert admin.get("/admin/api/kasir").status_code == 401


def test_the_cashier_sees_todays_paid_and_pending_bills_newest_first(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    paid = make_bill(admin, merchant, amount=12000)
    forward_dana(admin, merchant, paid["total_amount"])
    pending = make_bill(admin, merchant, amount=30000, description="Nasi rames")
    cancelled = make_bill(admin, merchant, amount=5000)
    assert admin.post(f"/admin/api/payments/{cancelled['invoice_id']}/cancel").status_code == 200
    other = add_merchant(db_path, "Toko Lain")

    body = admin.get(f"/admin/api/kasir?merchant_id={merchant.id}").json()
    assert body["merchant"] == {"id": merchant.id, "name": merchant.name, "qris_ready": True}
    assert [(b["invoice_id"], b["status"]) for b in body["today"]] == [
        (pending["invoice_id"], "pending"), (paid["invoice_id"], "paid")]
    assert body["today"][0]["description"] == "Nasi rames"
    assert body["today_paid"] == {"count": 1, "sum": paid["total_amount"]}
    assert body["today"][1]["receipt_url"].endswith(f"/pay/{paid['invoice_id']}/receipt")
    # The amount paid most often comes first among the quick amounts' history.
    assert 12000 in body["quick_amounts"] and len(body["quick_amounts"]) == 6
    assert body["unique_code_digits"] == 3

    # Two shops: the page asks which one; the other shop's list is its own.
    assert admin.get("/admin/api/kasir").json()["merchant"] is None
    assert [m["name"] for m in admin.get("/admin/api/kasir").json()["merchants"]] == [
        merchant.name, other.name]
    assert admin.get(f"/admin/api/kasir?merchant_id={other.id}").json()["today"] == []
    missing = admin.get("/admin/api/kasir?merchant_id=999")
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert admin.get("/admin/api/kasir?merchant_id=x").status_code == 400


def test_a_single_shop_opens_on_the_cashier_page_without_choosing(admin: TestClient,
                                                                  merchant: Merchant) -> None:
    assert admin.get("/admin/api/kasir").json()["merchant"]["id"] == merchant.id


def test_the_receipt_exists_only_for_a_paid_bill(admin: TestClient,
                                                 merchant: Merchant) -> None:
    bill = make_bill(admin, merchant, amount=20000, description="Es teh 4 gelas")
    page = admin.get(f"/pay/{bill['invoice_id']}/receipt")
    assert page.status_code == 404 and "receipt.js" in page.text
    unpaid = admin.get(f"/pay/{bill['invoice_id']}/receipt/data")
    assert unpaid.status_code == 404
    assert unpaid.json() == {"success": False, "message": "No receipt: this bill is not paid"}

    forward_dana(admin, merchant, bill["total_amount"])
    page = admin.get(f"/pay/{bill['invoice_id']}/receipt")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    data = admin.get(f"/pay/{bill['invoice_id']}/receipt/data").json()["data"]
    assert data == {
        "invoice_id": bill["invoice_id"], "merchant_name": merchant.name,
        "merchant_order_id": None, "description": "Es teh 4 gelas", "amount": 20000,
        "unique_code": bill["unique_code"], "total_amount": bill["total_amount"],
        "paid_at": data["paid_at"], "payment_method": "id.dana"}
    assert data["paid_at"].endswith("Z")

    for missing in ("INV-1-nope", bill["invoice_id"] + "x"):
        assert admin.get(f"/pay/{missing}/receipt").status_code == 404
        gone = admin.get(f"/pay/{missing}/receipt/data")
        assert gone.status_code == 404 and gone.json()["success"] is False


def test_a_manually_confirmed_bill_has_a_receipt_saying_so(admin: TestClient,
                                                           merchant: Merchant) -> None:
    bill = make_bill(admin, merchant, amount=7000)
    assert admin.post(f"/admin/api/payments/{bill['invoice_id']}/confirm").status_code == 200
    data = admin.get(f"/pay/{bill['invoice_id']}/receipt/data").json()["data"]
    assert data["payment_method"] == "manual"


def test_the_cashier_page_is_served_with_the_strict_policy(client: TestClient) -> None:
    page = client.get("/kasir")
    assert page.status_code == 200 and "kasir.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
