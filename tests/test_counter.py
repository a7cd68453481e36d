"""The shop's counter: bills made on the cashier page (/kasir) and as payment links through the
admin API, today's bills for the cashier, and the receipt of a paid bill (/pay/{id}/receipt).
First the API over the real app, then the pages in Chromium against `webqris serve` (the
browser fixtures are test_dashboard's, and come last: see its `browser` fixture)."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import test_admin
import test_dashboard
from conftest import Merchant, Server, add_account, add_merchant
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient
from test_dashboard import Pages, assert_not_reloaded, invoice_status, login, mark_page, rupiah

import webqris

# test_dashboard's fixtures: one Chromium for the module, the pages it opens (none may log an
# error), a shop with the dashboard's password, and `webqris serve` on its database.
browser = test_dashboard.browser
pages = test_dashboard.pages
shop = test_dashboard.shop
server = test_dashboard.server

WEEK = 7 * 86400

# test_admin's logged-in dashboard client (its CSRF token sent on every request).
admin = test_admin.admin


def make_bill(client: TestClient, merchant: Merchant, **body: object) -> dict:
    response = client.post(f"/admin/api/merchants/{merchant.id}/invoices",
                           json={"kind": "kasir", "amount": 25000, **body})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def forward_dana(client: TestClient | httpx.Client, merchant: Merchant, total: int,
                 sender: str = "BUDI SANTOSO") -> dict:
    """The shop's phone forwards DANA's "money received" notification, as installed."""
    response = client.post("/api/webhook/payment", headers={
        "Authorization": f"Bearer {merchant.callback_secret}"}, json={
        "app": "id.dana", "title": "DANA",
        "message": f"Kamu berhasil menerima {rupiah(total)} dari {sender}",
        "device_id": "hp-kasir", "notif_id": f"n-{total}"})
    assert response.status_code == 200 and response.json()["success"] is True, response.text
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
                               "message": f"expires_in_seconds must be between 60 and {WEEK}",
                               "error_code": "field_out_of_range",
                               "error_details": {"field": "expires_in_seconds", "min": 60,
                                                 "max": WEEK}}


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
    answer = response.json()
    assert answer["success"] is False and answer["message"] == message
    # The dashboard words a coded refusal itself, in the owner's language.
    assert set(answer) <= {"success", "message", "error_code", "error_details"}


def test_a_bill_for_an_unknown_shop_or_one_without_qris_is_refused(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    for path in ("/admin/api/merchants/999/invoices", "/admin/api/merchants/abc/invoices"):
        response = admin.post(path, json={"kind": "kasir", "amount": 1000})
        assert response.status_code == 404
        assert response.json() == {"success": False, "message": "Merchant not found",
                                   "error_code": "merchant_not_found"}
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


def test_todays_paid_sum_counts_bills_the_list_has_no_room_for(admin: TestClient,
                                                                merchant: Merchant) -> None:
    paid = make_bill(admin, merchant, amount=9000)
    forward_dana(admin, merchant, paid["total_amount"])
    for amount in range(1000, 1000 + webqris.KASIR_TODAY_ROWS):
        admin.post("/api/payments/qris/create", json={"amount": amount}, headers=merchant.auth)
    body = admin.get("/admin/api/kasir").json()
    assert len(body["today"]) == webqris.KASIR_TODAY_ROWS
    assert paid["invoice_id"] not in {bill["invoice_id"] for bill in body["today"]}
    assert body["today_paid"] == {"count": 1, "sum": paid["total_amount"]}


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


# --- in Chromium ------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1280, "height": 800}
MM = 72 / 25.4  # PDF points per millimetre


def forward_from_phone(server: Server, merchant: Merchant, total: int,
                       sender: str = "BUDI SANTOSO") -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        forward_dana(client, merchant, total, sender)


def pdf_pages(page: Page) -> list[tuple[float, float]]:
    """The (width, height) in millimetres of each page of the page printed to PDF."""
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    return [(round(float(w) / MM), round(float(h) / MM)) for w, h in boxes]


def test_a_cashier_takes_a_payment_and_the_page_turns_paid_live(
        pages: Pages, server: Server, shop: Merchant, tmp_path: Path) -> None:
    page = pages.open(PHONE)
    login(page, server)
    page.click(".nav-link[data-route=payments]")
    page.click("#to-kasir")
    expect(page.locator("h1")).to_have_text("Kasir · Toko ABC")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")

    # The keypad's buttons and the physical keyboard type into one amount.
    page.click(".key[data-key='2']")
    page.click(".key[data-key='5']")
    page.keyboard.type("000")
    expect(page.locator("#amount")).to_have_text("Rp25.000")
    page.keyboard.press("Backspace")
    expect(page.locator("#amount")).to_have_text("Rp2.500")
    page.keyboard.type("0")
    page.fill("#note", "2 kopi susu")
    page.click("#make-qr")

    screen = page.locator("#bill-screen")
    expect(screen).to_have_attribute("data-status", "pending")
    invoice_id = screen.get_attribute("data-invoice")
    assert invoice_id
    bill = invoice_status(server, shop, invoice_id)
    assert bill["amount"] == 25000 and bill["status"] == "pending"
    expect(page.locator("[data-testid=total]")).to_have_text(rupiah(bill["total_amount"]))
    expect(page.locator(".code-digits")).to_have_text(f"{bill['total_amount'] % 1000:03d}")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    assert page.evaluate("document.querySelector('.qr').naturalWidth") > 0
    page.screenshot(path=str(tmp_path / "kasir-qr-390.png"))
    mark_page(page)

    forward_from_phone(server, shop, bill["total_amount"])
    expect(screen).to_have_attribute("data-status", "paid")
    expect(page.locator(".paid-title")).to_have_text("Lunas")
    expect(page.locator(".paid-note")).to_have_text(
        f"Pembayaran {rupiah(bill['total_amount'])} dari BUDI SANTOSO sudah diterima.")
    page.screenshot(path=str(tmp_path / "kasir-paid-390.png"), animations="disabled")
    assert_not_reloaded(page)

    # By itself, a few seconds later, the keypad waits for the next customer.
    expect(page.locator("#bill-screen")).to_have_count(0)
    expect(page.locator("#amount")).to_have_text("Ketik nominal")
    row = page.locator(f".today-item[data-invoice='{invoice_id}']")
    expect(row).to_have_attribute("data-status", "paid")
    expect(row).to_contain_text("2 kopi susu")
    expect(page.locator("#today-summary")).to_have_text(
        f"1 tagihan lunas · {rupiah(bill['total_amount'])}")
    assert_not_reloaded(page)
    for width in (PHONE["width"], 360):  # and the narrowest common Android screen
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    # In English too, the bar's last button stays on the screen ("Bahasa Indonesia" did not).
    page.click("#lang-toggle")
    expect(page.locator("h1")).to_have_text("Cashier · Toko ABC")
    for width in (PHONE["width"], 360):
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.locator("#lang-toggle").bounding_box()["x"] \
            + page.locator("#lang-toggle").bounding_box()["width"] <= width


def test_the_cashier_cancels_a_bill_and_uses_a_quick_amount_on_a_tablet(
        pages: Pages, server: Server, shop: Merchant, tmp_path: Path) -> None:
    page = pages.open(TABLET)
    login(page, server)
    page.goto(server.base_url + "/kasir")
    page.click("#customer-mode")
    expect(page.locator("body")).to_have_class(re.compile("customer-mode"))
    page.click(".chip[data-amount='10000']")
    expect(page.locator("#amount")).to_have_text("Rp10.000")
    page.keyboard.press("Enter")
    screen = page.locator("#bill-screen")
    expect(screen).to_have_attribute("data-status", "pending")
    # Customer mode: the QR takes most of the tablet's height.
    expect(page.locator(".qr")).to_be_visible()
    assert page.locator(".qr-frame").bounding_box()["height"] > 0.6 * TABLET["height"]
    page.screenshot(path=str(tmp_path / "kasir-customer-1280.png"))
    invoice_id = screen.get_attribute("data-invoice")

    # A reload loses the screen, not the bill: today's list shows its QR again.
    page.reload()
    page.click(f".today-item[data-invoice='{invoice_id}'] button")
    expect(screen).to_have_attribute("data-invoice", invoice_id)
    expect(screen).to_have_attribute("data-status", "pending")
    page.click("[data-testid=cancel-bill]")
    expect(page.locator("#bill-screen")).to_have_count(0)
    assert invoice_status(server, shop, invoice_id)["status"] == "cancelled"
    expect(page.locator(f".today-item[data-invoice='{invoice_id}']")).to_have_count(0)

    # English, with the plural of the summary.
    page.click("#lang-toggle")
    expect(page.locator("h1")).to_have_text("Cashier · Toko ABC")
    expect(page.locator("#today-summary")).to_have_text("Nothing paid yet today.")


def test_a_payment_link_is_shared_paid_by_the_customer_and_gives_a_receipt(
        pages: Pages, server: Server, shop: Merchant, db_path: Path) -> None:
    """The shop's manager (an account given this shop, with another shop on the same
    installation) makes the link; a customer pays it on the checkout page."""
    add_merchant(db_path, "Toko Lain")
    add_account(db_path, "mira", "manager", (shop.id,), password="pengelola 1")
    owner = pages.open()
    owner.goto(server.base_url + "/")
    owner.fill("#login-username", "mira")
    owner.fill("#login-password", "pengelola 1")
    owner.click("#login-submit")
    expect(owner.locator("#shell")).to_be_visible()
    owner.click(".nav-link[data-route=payments]")
    owner.click("#to-links")
    expect(owner.locator("#link-shop option:not([value=''])")).to_have_text(["Toko ABC"])
    owner.fill("#link-amount", "150000")
    owner.fill("#link-description", "Kue lapis 1 loyang")
    owner.fill("#link-customer", "Ibu Sari")
    owner.select_option("#link-expiry", str(WEEK))
    owner.click("#link-create")
    url = owner.locator("[data-testid=link-url]").inner_text()
    total = int(owner.locator("[data-testid=link-total]").inner_text()
                .removeprefix("Rp").replace(".", ""))
    assert 150000 < total < 151000
    message = unquote(owner.locator("#link-whatsapp").get_attribute("href")
                      .removeprefix("https://wa.me/?text="))
    assert message.startswith("Halo Ibu Sari,\nberikut tautan pembayaran Toko ABC untuk"
                              " Kue lapis 1 loyang.\nTotal " + rupiah(total))
    assert message.endswith("\n" + url)

    # The printed card is the card alone, on one A6 page.
    owner.evaluate("window.print = () => {}")  # the print dialog stays shut: the PDF shows it
    owner.click("#link-print")
    assert pdf_pages(owner) == [(105, 148)]

    customer = pages.open(PHONE)
    customer.goto(url)
    expect(customer.locator("[data-testid=about]")).to_have_text("Kue lapis 1 loyangUntuk Ibu Sari")
    expect(customer.locator("[data-testid=total]")).to_have_text(rupiah(total))
    forward_from_phone(server, shop, total, sender="SARI WULANDARI")
    expect(customer.locator("#card")).to_have_attribute("data-status", "paid")
    customer.click("#receipt-link")
    expect(customer.locator("[data-testid=paid-stamp]")).to_have_text("Lunas")
    receipt = customer.locator("#receipt")
    expect(receipt).to_contain_text("Kue lapis 1 loyang")
    expect(receipt).to_contain_text(rupiah(total))
    expect(receipt).to_contain_text("DANA")

    # The dashboard's payment detail links the same receipt.
    invoice_id = url.rsplit("/", 1)[1]
    owner.goto(f"{server.base_url}/#/payments/{invoice_id}")
    expect(owner.locator("#receipt-link")).to_have_attribute("href",
                                                             f"/pay/{invoice_id}/receipt")


def test_a_receipt_prints_on_58_mm_thermal_paper_and_on_a4(
        pages: Pages, server: Server, shop: Merchant, tmp_path: Path) -> None:
    created = httpx.post(f"{server.base_url}/api/payments/qris/create",
                         json={"amount": 42000, "merchant_order_id": "ORDER-7781"},
                         headers=shop.auth, timeout=10).json()
    forward_from_phone(server, shop, created["total_amount"])
    page = pages.open({"width": 800, "height": 900})
    page.goto(f"{server.base_url}/pay/{created['invoice_id']}/receipt")
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text("ORDER-7781")
    # Every sum on the receipt is rupiah, the unique code too (it read "Kode unik 345").
    code = created["total_amount"] - 42000
    expect(receipt.locator(".line", has_text="Kode unik").locator("dd")).to_have_text(rupiah(code))
    expect(receipt).to_contain_text(created["invoice_id"])
    expect(receipt).to_contain_text(rupiah(created["total_amount"]))

    expect(page.locator("#paper-58")).to_have_attribute("aria-pressed", "true")
    receipt.screenshot(path=str(tmp_path / "receipt-58mm.png"))
    assert round(receipt.bounding_box()["width"] / 96 * 25.4) == 58
    assert pdf_pages(page) == [(58, 160)]

    page.click("#paper-a4")
    receipt.screenshot(path=str(tmp_path / "receipt-a4.png"))
    assert pdf_pages(page) == [(210, 297)]
    page.reload()  # the paper chosen stays chosen
    expect(page.locator("#paper-a4")).to_have_attribute("aria-pressed", "true")


def test_a_cashier_account_signs_in_from_the_counter_and_sees_only_its_shop(
        pages: Pages, shop: Merchant, db_path: Path, server_factory: object) -> None:
    """The warung's own phone: a cashier account of one shop, a second shop beside it. From
    /kasir's sign-in link back to /kasir, a bill made and paid live, and nothing of the other
    shop anywhere; the server refuses the cashier what the page does not offer."""
    other = add_merchant(db_path, "Toko Lain")
    add_account(db_path, "sari", "cashier", (shop.id,), password="kasir sari 1")
    server = server_factory(db_path)  # type: ignore[operator]
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        other_bill = client.post("/api/payments/qris/create", json={"amount": 90000},
                                 headers=other.auth).json()
    page = pages.open(PHONE)
    page.goto(server.base_url + "/kasir")
    page.click("#login-link")
    # The script has shown the form (the HTML's own "admin" is there before it runs).
    expect(page.locator("#login-password")).to_be_focused()
    expect(page.locator("#login-username")).to_have_value("admin")
    page.fill("#login-username", "sari")
    page.fill("#login-password", "kasir sari 1")
    page.click("#login-submit")
    expect(page).to_have_url(server.base_url + "/kasir", timeout=20_000)
    expect(page.locator("h1")).to_have_text("Kasir · Toko ABC")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    page.keyboard.type("12000")
    page.click("#make-qr")
    screen = page.locator("#bill-screen")
    expect(screen).to_have_attribute("data-status", "pending")
    invoice_id = screen.get_attribute("data-invoice")
    assert invoice_id
    bill = invoice_status(server, shop, invoice_id)
    forward_from_phone(server, shop, bill["total_amount"])
    expect(screen).to_have_attribute("data-status", "paid")
    expect(page.locator(f".today-item[data-invoice='{invoice_id}']")).to_have_attribute(
        "data-status", "paid")
    assert other_bill["invoice_id"] not in page.content()

    # Its session, asked directly: no secrets, no other shop, no payment links.
    api = page.context.request
    csrf = api.get(server.base_url + "/admin/api/session").json()["csrf_token"]
    assert api.get(server.base_url + "/admin/api/merchants").status == 403
    assert api.get(server.base_url + f"/admin/api/kasir?merchant_id={other.id}").status == 404
    assert api.get(server.base_url + f"/admin/api/payments/{other_bill['invoice_id']}"
                   ).status == 404
    link = api.post(server.base_url + f"/admin/api/merchants/{shop.id}/invoices",
                    data={"kind": "link", "amount": 50000}, headers={"X-CSRF-Token": csrf})
    assert link.status == 403
    other_shop = api.post(server.base_url + f"/admin/api/merchants/{other.id}/invoices",
                          data={"kind": "kasir", "amount": 50000},
                          headers={"X-CSRF-Token": csrf})
    assert other_shop.status == 404
    listed = api.get(server.base_url + "/admin/api/payments").json()["data"]
    assert [row["invoice_id"] for row in listed] == [invoice_id]

    # A customer who walks away: the cashier cancels the counter's bill, and only such bills.
    page.locator("#bill-screen").wait_for(state="detached")
    page.keyboard.type("8000")
    page.click("#make-qr")
    expect(screen).to_have_attribute("data-status", "pending")
    walked_away = screen.get_attribute("data-invoice")
    page.click("[data-testid=cancel-bill]")
    expect(page.locator("#bill-screen")).to_have_count(0)
    assert invoice_status(server, shop, walked_away)["status"] == "cancelled"
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        api_bill = client.post("/api/payments/qris/create", json={"amount": 70000},
                               headers=shop.auth).json()
    refused = api.post(server.base_url + f"/admin/api/payments/{api_bill['invoice_id']}/cancel",
                       headers={"X-CSRF-Token": csrf})
    assert refused.status == 403
    assert invoice_status(server, shop, api_bill["invoice_id"])["status"] == "pending"
    assert api.post(server.base_url + f"/admin/api/payments/{other_bill['invoice_id']}/cancel",
                    headers={"X-CSRF-Token": csrf}).status == 404
