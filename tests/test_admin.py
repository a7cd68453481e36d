"""The admin API behind the dashboard: login, sessions, CSRF, throttling, audit, actions."""

from __future__ import annotations

import ast
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, STATIC_QRIS, Merchant, add_merchant, make_config
from starlette.testclient import TestClient

import webqris

PASSWORD = "correct horse battery"


def set_password(db_path: Path, password: str = PASSWORD) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(password))
    store.close()


@pytest.fixture
def admin(app_factory, merchant: Merchant, db_path: Path) -> TestClient:
    """A logged-in dashboard client; its CSRF token is sent on every request."""
    set_password(db_path)
    client = app_factory()
    response = client.post("/admin/api/login", json={"password": PASSWORD})
    assert response.status_code == 200
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def create(client: TestClient, merchant: Merchant, amount: int = 25000) -> dict:
    return client.post("/api/payments/qris/create", json={"amount": amount},
                       headers=merchant.auth).json()


def audit_actions(db_path: Path) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT action, target, before, after FROM audit_log"
                            " ORDER BY id").fetchall()
    finally:
        conn.close()


def test_login_sets_a_strict_httponly_cookie(app_factory, merchant: Merchant,
                                             db_path: Path) -> None:
    set_password(db_path)
    client = app_factory()
    response = client.post("/admin/api/login", json={"password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain http here; Secure is set over https
    assert client.get("/admin/api/session").json()["csrf_token"] == response.json()["csrf_token"]


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_login_another_sites_page_can_send_starts_no_session(
        app_factory, merchant: Merchant, db_path: Path, content_type: str | None) -> None:
    """A form with enctype text/plain posts `{"password": "…", "x": "="}`, which reads as JSON:
    another site could sign its visitor in to the site's account of its choosing."""
    set_password(db_path)
    client = app_factory()
    response = client.post("/admin/api/login", content=f'{{"password": "{PASSWORD}"}}',
                           headers={"Content-Type": content_type} if content_type else {})
    assert response.status_code == 400, response.text
    assert "set-cookie" not in response.headers
    assert client.get("/admin/api/session").status_code == 401


def test_wrong_password_and_throttling(app_factory, merchant: Merchant, db_path: Path) -> None:
    set_password(db_path)
    client = app_factory(admin={"login_max_failures": 3, "login_window_seconds": 60})
    for _ in range(3):
        wrong = client.post("/admin/api/login", json={"password": "nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {"success": False, "message": "Wrong password"}
    # Now even the right password is refused until the window passes.
    blocked = client.post("/admin/api/login", json={"password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["success"] is False


@pytest.mark.parametrize("method,path", [
    ("GET", "/admin/api/overview"), ("GET", "/admin/api/payments"),
    ("GET", "/admin/api/merchants"), ("POST", "/admin/api/merchants"),
    ("GET", "/admin/api/notifications"), ("GET", "/admin/api/webhooks"),
    ("GET", "/admin/api/audit"), ("POST", "/admin/api/payments/INV-1-x/confirm"),
])
def test_admin_api_refuses_without_session(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Login required"}


def test_every_admin_endpoint_but_login_refuses_without_session(client: TestClient) -> None:
    """Swept from the route table, so a new admin endpoint cannot forget its login check."""
    checked = 0
    for route in client.app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/admin/api/") or path == "/admin/api/login":
            continue
        for method in sorted(route.methods - {"HEAD"}):
            url = re.sub(r"{[a-z_]+}", "1", path)
            response = client.request(method, url, json={})
            assert response.status_code == 401, (method, path)
            assert response.json() == {"success": False, "message": "Login required"}
            checked += 1
    assert checked >= 25


def test_expired_session_is_refused(app_factory, merchant: Merchant, db_path: Path) -> None:
    set_password(db_path)
    client = app_factory(admin={"session_seconds": 1})
    client.post("/admin/api/login", json={"password": PASSWORD})
    assert client.get("/admin/api/session").status_code == 200
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE admin_sessions SET expires_at = 0")
    conn.commit()
    conn.close()
    assert client.get("/admin/api/session").status_code == 401


def test_state_changes_need_the_csrf_token(admin: TestClient, merchant: Merchant) -> None:
    invoice = create(admin, merchant)
    token = admin.headers.pop("X-CSRF-Token")
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = admin.post(f"/admin/api/payments/{invoice['invoice_id']}/confirm",
                              headers=headers)
        assert response.status_code == 403
        assert "CSRF" in response.json()["message"]
    assert admin.get(f"/api/payments/{invoice['invoice_id']}/status",
                     headers=merchant.auth).json()["data"]["status"] == "pending"
    ok = admin.post(f"/admin/api/payments/{invoice['invoice_id']}/confirm",
                    headers={"X-CSRF-Token": token})
    assert ok.status_code == 200


def test_logout_ends_the_session(admin: TestClient) -> None:
    assert admin.post("/admin/api/logout").status_code == 200
    assert admin.get("/admin/api/session").status_code == 401


def test_manual_confirm_and_cancel_are_audited(admin: TestClient, merchant: Merchant,
                                               db_path: Path) -> None:
    paid = create(admin, merchant, 10000)
    cancelled = create(admin, merchant, 20000)
    response = admin.post(f"/admin/api/payments/{paid['invoice_id']}/confirm")
    assert response.json()["data"]["status"] == "paid"
    assert response.json()["data"]["payment_method"] == "manual"
    assert admin.post(f"/admin/api/payments/{paid['invoice_id']}/confirm").status_code == 409
    assert admin.post(f"/admin/api/payments/{cancelled['invoice_id']}/cancel").json()[
        "data"]["status"] == "cancelled"
    actions = audit_actions(db_path)
    assert [(a, t) for a, t, _, _ in actions] == [("admin.login", "admin"),
                                                 ("payment.confirm", paid["invoice_id"]),
                                                 ("payment.cancel", cancelled["invoice_id"])]
    assert '"pending"' in actions[1][2] and '"paid"' in actions[1][3]
    log = admin.get("/admin/api/audit").json()["data"]
    assert [entry["action"] for entry in log] == ["payment.cancel", "payment.confirm",
                                                  "admin.login"]


def test_audit_log_pages_and_records_who_was_in(admin: TestClient, merchant: Merchant,
                                                db_path: Path) -> None:
    for n in range(3):
        assert admin.post("/admin/api/merchants", json={"name": f"Toko {n}"}).status_code == 200
    first = admin.get("/admin/api/audit?limit=2").json()
    assert [e["action"] for e in first["data"]] == ["merchant.create", "merchant.create"]
    rest = admin.get(f"/admin/api/audit?limit=2&before={first['next_before']}").json()
    assert [e["action"] for e in rest["data"]] == ["merchant.create", "admin.login"]
    assert rest["data"][-1]["address"] == "testclient"
    assert rest["next_before"] is None
    assert admin.post("/admin/api/logout").status_code == 200
    assert audit_actions(db_path)[-1][:2] == ("admin.logout", "admin")


def test_attach_unmatched_notification(admin: TestClient, merchant: Merchant,
                                       db_path: Path) -> None:
    invoice = create(admin, merchant, 40000)
    # Paid through an app the shop does not trust yet: the right amount waits for the owner.
    admin.post("/api/webhook/payment", headers={"Authorization":
                                                f"Bearer {merchant.callback_secret}"},
               json={"app": "com.example.kasir", "message": "Kamu berhasil menerima Rp"
                     f"{invoice['total_amount']:,} dari ANI".replace(",", ".")})
    inbox = admin.get("/admin/api/notifications?outcome=needs_attention").json()["data"]
    assert [n["parsed_amount"] for n in inbox] == [invoice["total_amount"]]
    response = admin.post(f"/admin/api/notifications/{inbox[0]['id']}/attach",
                          json={"invoice_id": invoice["invoice_id"]})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "paid"
    assert admin.get("/admin/api/notifications?outcome=needs_attention").json()["data"] == []
    detail = admin.get(f"/admin/api/payments/{invoice['invoice_id']}").json()["data"]
    assert detail["notifications"][0]["sender_name"] == "ANI"
    assert audit_actions(db_path)[-1][0] == "notification.attach"


def test_payments_search_and_filters(admin: TestClient, merchant: Merchant,
                                     db_path: Path) -> None:
    other = add_merchant(db_path, name="Toko Lain")
    a = create(admin, merchant, 11111)
    b = create(admin, other, 22222)
    by_total = admin.get(f"/admin/api/payments?q={a['total_amount']}").json()["data"]
    assert [p["invoice_id"] for p in by_total] == [a["invoice_id"]]
    by_id = admin.get(f"/admin/api/payments?q={b['invoice_id'][-6:]}").json()["data"]
    assert [p["invoice_id"] for p in by_id] == [b["invoice_id"]]
    by_merchant = admin.get(f"/admin/api/payments?merchant_id={other.id}").json()["data"]
    assert [(p["invoice_id"], p["merchant_name"]) for p in by_merchant] == \
        [(b["invoice_id"], "Toko Lain")]
    assert admin.get("/admin/api/payments?q=100%25_").json()["data"] == []
    assert admin.get("/admin/api/payments?status=bogus").status_code == 400


def test_no_invoice_id_ends_in_six_digits_a_search_would_take_for_an_amount() -> None:
    # Regression: CI made an invoice INV-...-159321, and the dashboard's search for its last
    # six characters looked for an amount of 159,321 and found nothing. Six random characters
    # were all digits about once in 2,200 invoices (45 in 100,000 expected).
    suffixes = [webqris.new_invoice_id(0).rsplit("-", 1)[1] for _ in range(100_000)]
    assert len(set(suffixes)) > 99_000 and all(len(suffix) == 6 for suffix in suffixes)
    assert not [suffix for suffix in suffixes if suffix.isdigit()]


def test_overview_counts_today(admin: TestClient, merchant: Merchant) -> None:
    invoice = create(admin, merchant, 30000)
    admin.post(f"/admin/api/payments/{invoice['invoice_id']}/confirm")
    overview = admin.get("/admin/api/overview?tz_offset=420").json()
    assert overview["today"]["count"] == 1
    assert overview["today"]["sum"] == invoice["total_amount"]
    assert len(overview["days"]) == 14


def test_merchant_lifecycle(admin: TestClient, db_path: Path) -> None:
    bad = admin.post("/admin/api/merchants", json={"name": "Baru",
                                                   "static_qris": STATIC_QRIS[:-1] + "0"})
    assert bad.status_code == 400
    assert "checksum" in bad.json()["message"].lower()
    created = admin.post("/admin/api/merchants", json={"name": "Baru", "static_qris": STATIC_QRIS,
                                                       "webhook_url": "https://x.example/h",
                                                       "accepted_apps": ["id.dana"]})
    assert created.status_code == 200
    body = created.json()
    assert body["data"]["accepted_apps"] == ["id.dana"]
    assert body["data"]["qris"]["merchant_name"] == "Warung Sayur Bu Sugeng"
    secrets = body["secrets"]
    merchant_id = body["data"]["id"]
    # The new API token works; after rotation it does not.
    auth = {"Authorization": f"Bearer {secrets['api_token']}"}
    assert admin.post("/api/payments/qris/create", json={"amount": 1000},
                      headers=auth).status_code == 200
    rotated = admin.post(f"/admin/api/merchants/{merchant_id}/rotate",
                         json={"secret": "api_token"}).json()["value"]
    assert admin.post("/api/payments/qris/create", json={"amount": 1000},
                      headers=auth).status_code == 401
    assert admin.post("/api/payments/qris/create", json={"amount": 1000},
                      headers={"Authorization": f"Bearer {rotated}"}).status_code == 200
    assert admin.post(f"/admin/api/merchants/{merchant_id}/rotate",
                      json={"secret": "callback_secret"}).json()["previous_signs_until"] is None
    # The old webhook secret keeps signing for a day (webhooks.secret_overlap_seconds).
    webhook = admin.post(f"/admin/api/merchants/{merchant_id}/rotate",
                         json={"secret": "webhook_secret"}).json()
    until = datetime.fromisoformat(webhook["previous_signs_until"])
    assert 86390 < (until - datetime.now(UTC)).total_seconds() <= 86400
    [card] = [m for m in admin.get("/admin/api/merchants").json()["data"]
              if m["id"] == merchant_id]
    assert card["previous_webhook_secret_until"] == webhook["previous_signs_until"]
    assert webhook["value"] not in str(card) and secrets["webhook_secret"] not in str(card)
    edited = admin.patch(f"/admin/api/merchants/{merchant_id}",
                         json={"webhook_url": "https://y.example/h"})
    assert edited.json()["data"]["webhook_url"] == "https://y.example/h"
    listed = admin.get("/admin/api/merchants").json()["data"]
    assert secrets["api_token"] not in str(listed) and rotated not in str(listed)
    actions = audit_actions(db_path)
    assert [a for a, *_ in actions] == ["admin.login", "merchant.create",
                                       *["merchant.rotate_secret"] * 3, "merchant.update"]
    assert rotated not in str(actions) and secrets["webhook_secret"] not in str(actions)
    assert "https://x.example/h" in actions[-1][2] and "https://y.example/h" in actions[-1][3]


def test_qris_preview(admin: TestClient) -> None:
    good = admin.post("/admin/api/qris/preview", json={"payload": STATIC_QRIS}).json()
    assert good["valid"] is True and good["merchant_city"] == "Kab. Demak"
    assert good["svg"].startswith("<svg")
    bad = admin.post("/admin/api/qris/preview", json={"payload": "hello"}).json()
    assert bad["valid"] is False and bad["error"]
    assert bad["error_code"] == "bad_field_number"
    assert bad["error_details"] == {"value": "'he'", "position": "1"}


def test_conflicts_carry_a_code_the_dashboard_words_in_indonesian(admin: TestClient,
                                                                   merchant: Merchant) -> None:
    paid = create(admin, merchant, 10000)
    assert admin.post(f"/admin/api/payments/{paid['invoice_id']}/confirm").status_code == 200
    again = admin.post(f"/admin/api/payments/{paid['invoice_id']}/confirm")
    assert again.status_code == 409
    assert again.json()["error_code"] == "payment_not_payable"
    assert again.json()["error_details"] == {"status": "paid"}
    cancel = admin.post(f"/admin/api/payments/{paid['invoice_id']}/cancel")
    assert (cancel.status_code, cancel.json()["error_code"]) == (409, "payment_not_cancellable")


def test_every_error_code_has_indonesian_words_in_the_dashboard() -> None:
    """A code raised anywhere (a QrisError's second argument, a domain error's or an ApiError's
    error_code) must have its err_<code> wording in the dashboard, or an Indonesian screen
    shows English."""
    refusals = {"ApiError", *(kind.__name__ for kind in webqris.DOMAIN_ERROR_STATUS)}
    codes: set[str] = set()
    for source in (ROOT / "parsers" / "qris.py", ROOT / "webqris.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id == "QrisError" and len(node.args) >= 2:
                codes.add(node.args[1].value)
            if node.func.id in refusals:
                codes.update(k.value.value for k in node.keywords
                             if k.arg == "error_code" and isinstance(k.value, ast.Constant))
    codes.update(code for _, _, code in webqris.PATH_OWNERS.values())  # another shop's thing
    assert len(codes) >= 20
    dashboard = "".join(path.read_text() for path in (ROOT / "static").glob("*.js"))
    missing = sorted(code for code in codes if f"err_{code}:" not in dashboard)
    assert missing == []


def test_security_headers_on_pages(client: TestClient, merchant: Merchant) -> None:
    invoice = create(client, merchant)
    for path in ("/", f"/pay/{invoice['invoice_id']}"):
        response = client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_checkout_data_is_public_but_discreet(client: TestClient, merchant: Merchant) -> None:
    invoice = client.post("/api/payments/qris/create",
                          json={"amount": 25000, "customer_name": "Rahasia",
                                "merchant_order_id": "ORD-SECRET"},
                          headers=merchant.auth).json()
    data = client.get(f"/pay/{invoice['invoice_id']}/data").json()["data"]
    assert data["total_amount"] == invoice["total_amount"]
    assert data["merchant_name"] == "Toko ABC"
    assert "Rahasia" not in str(data) and "ORD-SECRET" not in str(data)
    svg = client.get(f"/pay/{invoice['invoice_id']}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    png = client.get(f"/pay/{invoice['invoice_id']}/qr.png")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/pay/INV-0-nothing/data").status_code == 404
    # Simulation exists only in --demo mode.
    assert client.post(f"/pay/{invoice['invoice_id']}/simulate").status_code == 404


def test_the_demos_simulate_on_a_paid_bill_never_pays_a_newer_bill_of_the_same_total(
        db_path: Path, merchant: Merchant) -> None:
    """Once a demo bill is paid and its total is free again, a newer bill may carry that
    total: "Simulate payment" on the old bill's page must not pay the new one."""
    config = make_config(db_path, payments={"unique_code_min": 1, "unique_code_max": 2,
                                            "late_grace_seconds": 1,
                                            "dedupe_window_seconds": 1})
    app = webqris.create_app(config, demo_merchant_id=merchant.id)
    with TestClient(app) as client:
        def create() -> dict[str, Any]:
            return client.post("/api/payments/qris/create", json={"amount": 25000},
                               headers=merchant.auth).json()

        old = create()
        assert client.post(f"/pay/{old['invoice_id']}/simulate").status_code == 200
        time.sleep(1.1)  # the paid total is free again after late_grace_seconds
        newer = next(bill for bill in (create(), create())
                     if bill["total_amount"] == old["total_amount"])
        again = client.post(f"/pay/{old['invoice_id']}/simulate")
        assert again.status_code == 409, again.text
        status = client.get(f"/api/payments/{newer['invoice_id']}/status",
                            headers=merchant.auth).json()["data"]["status"]
        assert status == "pending"


@pytest.mark.parametrize(("code_max", "digits"), [(999, 3), (99, 2), (9999, 4)])
def test_checkout_data_says_how_many_digits_the_unique_code_changes(
        app_factory: Any, merchant: Merchant, code_max: int, digits: int) -> None:
    """The checkout page marks the total's last digits and says "exact down to the last N
    digits": N follows payments.unique_code_max, not a fixed three."""
    client = app_factory(payments={"unique_code_max": code_max})
    invoice = client.post("/api/payments/qris/create", json={"amount": 25000},
                          headers=merchant.auth).json()
    data = client.get(f"/pay/{invoice['invoice_id']}/data").json()["data"]
    assert data["unique_code_digits"] == digits


@pytest.mark.parametrize("query", ["%C2%B2", "999999999999999999999999999999"])
def test_admin_search_for_odd_numbers_finds_nothing(admin: TestClient, query: str) -> None:
    response = admin.get(f"/admin/api/payments?q={query}")
    assert response.status_code == 200
    assert response.json()["data"] == []


@pytest.mark.parametrize("method,path,body", [
    ("PATCH", "/admin/api/merchants/999999999999999999999999999999", {"name": "x"}),
    ("PATCH", "/admin/api/merchants/%C2%B2", {"name": "x"}),
    ("POST", "/admin/api/notifications/999999999999999999999999999999/attach",
     {"invoice_id": "INV-1-x"}),
    ("GET", "/admin/api/webhooks/999999999999999999999999999999/attempts", None),
    ("POST", "/admin/api/webhooks/%C2%B2/redeliver", None),
])
def test_admin_odd_ids_are_404(admin: TestClient, method: str, path: str,
                               body: dict | None) -> None:
    response = admin.request(method, path, json=body)
    assert response.status_code == 404, response.text
    assert response.json()["success"] is False
