"""The dashboard and the checkout page in a real browser: `webqris serve` in a subprocess, driven
by Debian's Chromium through playwright's sync API. Every page's console errors and uncaught
exceptions are collected and must be none."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import STATIC_QRIS, Merchant, Server, add_merchant
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

import webqris
from parsers import qris

CHROMIUM = os.environ.get("WEBQRIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "kata sandi rahasia"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}  # the narrowest common Android screen

expect.set_options(timeout=10_000)


def rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while playwright's sync API runs, its event loop counts as
    # running in this thread, and later tests' asyncio.run() would refuse to start.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Pages:
    """Opens pages in fresh browser contexts and records what goes wrong in any of them."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def open(self, viewport: dict[str, int] = DESKTOP) -> Page:
        context = self.browser.new_context(viewport=viewport, locale="id-ID",
                                           timezone_id="Asia/Jakarta")
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        # An API answer of 4xx (a wrong password, a refused action) is the browser's own
        # network log line; the page shows that answer to the user. Anything else is a bug.
        if (message.text.startswith("Failed to load resource: the server responded with a"
                                    " status of 4") and "/admin/api/" in url):
            return
        self.errors.append(f"console: {message.text} ({url})")

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def pages(browser: Browser, server_factory: Any) -> Iterator[Pages]:
    # Depends on server_factory so that the pages close before the servers stop: a page that
    # outlives its server logs the refused connections of its next poll.
    opened = Pages(browser)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.errors == []


@pytest.fixture
def shop(db_path: Path) -> Merchant:
    """A merchant and the admin password, both written before any server starts."""
    merchant = add_merchant(db_path, "Toko ABC")
    store = webqris.Store(str(db_path))
    store.open()
    try:
        store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    finally:
        store.close()
    return merchant


@pytest.fixture
def server(shop: Merchant, db_path: Path, server_factory: Any) -> Server:
    return server_factory(db_path)


def create_invoice(server: Server, merchant: Merchant, amount: int = 25000,
                   **extra: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.base_url}/api/payments/qris/create",
                          json={"amount": amount, **extra}, headers=merchant.auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def invoice_status(server: Server, merchant: Merchant, invoice_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/api/payments/{invoice_id}/status",
                         headers=merchant.auth, timeout=10)
    return response.json()["data"]


def notify(server: Server, merchant: Merchant, amount: int) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/callback/notify",
                      json={"amount": amount, "sender_name": "JOHN DOE"},
                      headers={"X-Callback-Key": merchant.callback_secret}, timeout=10)


def login(page: Page, server: Server) -> None:
    page.goto(server.base_url + "/")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#shell")).to_be_visible()
    # Live from here on: events after this point reach the page.
    expect(page.locator("#live")).to_have_attribute("data-state", "on")


def mark_page(page: Page) -> None:
    """A flag that a reload would wipe out."""
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true")


# --- tests ------------------------------------------------------------------------------------


def test_login_wrong_then_right_password_shows_the_overview(pages: Pages,
                                                            server: Server) -> None:
    page = pages.open()
    page.goto(server.base_url + "/")
    expect(page.locator("#login-form")).to_be_visible()
    page.fill("#login-password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text(
        "Nama pengguna atau kata sandi salah. Coba lagi.")
    expect(page.locator("#shell")).to_be_hidden()

    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#view h1")).to_have_text("Ringkasan")
    expect(page.locator("#today-sum")).to_have_text("Rp0")
    expect(page.locator("#today-count")).to_have_text("0")
    expect(page.locator(".chart .bar-col")).to_have_count(14)

    # English, kept across a reload; the session is kept too.
    page.locator("#shell .lang-toggle").click()
    expect(page.locator("#view h1")).to_have_text("Overview")
    page.reload()
    expect(page.locator("#view h1")).to_have_text("Overview")
    expect(page.locator(".nav-link[data-route=payments]")).to_contain_text("Bills")


def test_the_sign_in_form_keeps_what_is_typed_the_moment_it_shows(pages: Pages,
                                                                  server: Server) -> None:
    """The form is ready to type in the moment it appears, and nothing moves the focus later:
    a focus once moved a task later sent a username typed that quickly into the password field
    (seen as a cashier's sign-in refused as "admin" on a loaded machine)."""
    page = pages.open()
    # Where the focus is in the first microtask after the form shows, before any later task.
    page.add_init_script("""
        new MutationObserver(function (changes, observer) {
          var form = document.getElementById("login-screen");
          if (form && !form.hidden) {
            window.focusWhenShown = document.activeElement && document.activeElement.id;
            observer.disconnect();
          }
        }).observe(document, { attributes: true, subtree: true, attributeFilter: ["hidden"] });
    """)
    page.goto(server.base_url + "/")
    expect(page.locator("#login-form")).to_be_visible()
    assert page.evaluate("window.focusWhenShown") == "login-password"
    page.keyboard.type(PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#view h1")).to_have_text("Ringkasan")


def test_payments_list_updates_live(pages: Pages, server: Server, shop: Merchant) -> None:
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/payments")
    expect(page.locator(".empty-state")).to_be_visible()
    mark_page(page)

    invoice = create_invoice(server, shop, 25000, merchant_order_id="ORDER-001")
    row = page.locator(f"tr[data-invoice='{invoice['invoice_id']}']")
    expect(row).to_have_attribute("data-status", "pending")
    expect(row).to_contain_text(rupiah(invoice["total_amount"]))
    expect(row).to_contain_text("ORDER-001")

    assert notify(server, shop, invoice["total_amount"]).status_code == 200
    expect(row).to_have_attribute("data-status", "paid")
    expect(row.locator(".badge")).to_have_text("Lunas")
    expect(row).to_contain_text("JOHN DOE")
    assert_not_reloaded(page)

    # Search by amount finds it; by a total nobody has, nothing.
    page.fill("#pf-q", str(invoice["total_amount"]))
    expect(page.locator("tbody tr")).to_have_count(1)
    page.fill("#pf-q", "999999")
    expect(page.locator(".empty-state")).to_be_visible()


def test_manual_confirm_from_the_detail_view(pages: Pages, server: Server,
                                             shop: Merchant) -> None:
    invoice = create_invoice(server, shop, 30000)
    page = pages.open()
    login(page, server)
    page.goto(f"{server.base_url}/#/payments/{invoice['invoice_id']}")
    detail = page.locator(".detail")
    expect(detail).to_have_attribute("data-status", "pending")
    expect(page.locator(".detail-qr img")).to_have_attribute(
        "src", f"/pay/{invoice['invoice_id']}/qr.svg")
    # The SVG file renders as an image (it needs its namespace for that).
    page.wait_for_function("() => document.querySelector('.detail-qr img').naturalWidth > 0")

    page.click("#confirm-payment")
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(rupiah(invoice["total_amount"]))
    dialog.locator("[data-testid=dialog-confirm]").click()
    expect(detail).to_have_attribute("data-status", "paid")
    expect(page.locator("#confirm-payment")).to_have_count(0)

    status = invoice_status(server, shop, invoice["invoice_id"])
    assert status["status"] == "paid" and status["payment_method"] == "manual"

    # The audit log says who did it, newest first, and leads back to the payment.
    page.click("a.nav-link[data-route=audit]")
    entries = page.locator("li.audit-entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_have_attribute("data-action", "payment.confirm")
    expect(entries.nth(0)).to_contain_text("Tagihan ditandai lunas secara manual")
    expect(entries.nth(0)).to_contain_text("pending → paid")
    expect(entries.nth(0)).to_contain_text("dari 127.0.0.1")
    expect(entries.nth(1)).to_contain_text("Masuk ke dasbor")
    entries.nth(0).locator(f"a[href='#/payments/{invoice['invoice_id']}']").click()
    expect(detail).to_have_attribute("data-status", "paid")


def test_attach_unmatched_notification_pays_the_invoice(pages: Pages, server: Server,
                                                        shop: Merchant) -> None:
    invoice = create_invoice(server, shop, 40000)
    paid_amount = invoice["total_amount"] + 1  # the customer typed the amount by hand
    response = httpx.post(
        f"{server.base_url}/api/webhook/payment",
        json={"app": "id.dana", "title": "DANA", "device_id": "hp-kasir", "notif_id": "n-1",
              "message": f"Kamu berhasil menerima {rupiah(paid_amount)} dari SITI AMINAH"},
        headers={"Authorization": f"Bearer {shop.callback_secret}"}, timeout=10)
    assert response.status_code == 404 and response.json()["parsed_amount"] == paid_amount

    page = pages.open()
    login(page, server)
    expect(page.locator("[data-testid=attention-count]")).to_have_text("1")
    page.goto(server.base_url + "/#/notifications")
    item = page.locator("li.notif.needs-attention")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(rupiah(paid_amount))
    expect(item.locator(".badge")).to_have_text("Tak cocok")

    item.locator(".attach-btn").click()
    dialog = page.locator("#dialog")
    candidate = dialog.locator(".candidate", has_text=invoice["invoice_id"])
    expect(candidate).to_be_visible()
    candidate.click()
    expect(page.locator("#dialog-input")).to_have_value(invoice["invoice_id"])
    dialog.locator("[data-testid=dialog-confirm]").click()
    # The amounts differ: paying needs an explicit "pay anyway" that names both.
    expect(dialog.locator("[data-testid=pay-anyway-amounts]")).to_have_text(
        f"Notifikasi menyebut {rupiah(paid_amount)}, tetapi tagihan {invoice['invoice_id']}"
        f" totalnya {rupiah(invoice['total_amount'])}.")
    assert invoice_status(server, shop, invoice["invoice_id"])["status"] == "pending"
    dialog.locator("[data-testid=dialog-confirm]").click()
    expect(dialog).to_be_hidden()

    attached = page.locator("li.notif.is-attached")
    expect(attached).to_contain_text(invoice["invoice_id"])
    expect(page.locator("li.notif.needs-attention")).to_have_count(0)
    expect(page.locator("[data-testid=attention-count]")).to_have_count(0)
    status = invoice_status(server, shop, invoice["invoice_id"])
    assert status["status"] == "paid"


def test_only_payment_apps_pay_and_the_owner_can_trust_another(
        pages: Pages, server: Server, shop: Merchant) -> None:
    def notify_from(app: str, total: int, notif_id: str) -> httpx.Response:
        return httpx.post(
            f"{server.base_url}/api/webhook/payment",
            json={"app": app, "title": "DANA", "device_id": "hp-kasir", "notif_id": notif_id,
                  "message": f"Kamu berhasil menerima {rupiah(total)} dari SITI AMINAH"},
            headers={"Authorization": f"Bearer {shop.callback_secret}"}, timeout=10)

    assert notify_from("com.example.kasir", 1234, "seen").status_code == 404  # seen, untrusted
    page = pages.open()
    login(page, server)
    page.goto(f"{server.base_url}/#/merchants")
    card = page.locator(f"article.merchant[data-merchant-id='{shop.id}']")
    expect(card.locator("[data-testid=accepted-apps]")).to_have_text(
        "Aplikasi yang boleh melunasi tagihan: Aplikasi pembayaran")

    invoice = create_invoice(server, shop, 40000)
    refused = notify_from("com.example.chat", invoice["total_amount"], "chat-1")
    assert refused.status_code == 404 and refused.json()["app_accepted"] is False
    expect(page.locator(".toast-warn")).to_contain_text(
        f"{rupiah(invoice['total_amount'])} dari com.example.chat tidak melunasi apa pun: toko"
        " belum memercayai aplikasi ini.")
    page.goto(f"{server.base_url}/#/notifications")
    item = page.locator("li.notif.needs-attention", has_text=rupiah(invoice["total_amount"]))
    expect(item.locator("[data-testid=app-not-accepted]")).to_have_text(
        "Aplikasi ini belum dipercaya toko")
    assert invoice_status(server, shop, invoice["invoice_id"])["status"] == "pending"
    # A mail app's copy of the words is not one click away from paying.
    assert notify_from("com.google.android.gm", invoice["total_amount"], "mail-1"
                       ).status_code == 404
    mailed = page.locator("li.notif", has_text="com.google.android.gm")
    expect(mailed.locator("[data-testid=not-payment-app]")).to_have_text(
        "Aplikasi email, bukan aplikasi pembayaran: siapa pun bisa mengirim pesan seperti ini.")
    expect(mailed.locator(".trust-btn")).to_have_count(0)
    expect(item.locator(".trust-btn")).to_have_count(1)

    # The owner trusts the shop's cashier app, by keyboard, and leaves the risky switches off.
    page.goto(f"{server.base_url}/#/merchants/{shop.id}")
    expect(page.locator("#m-apps-seen")).to_contain_text("com.google.android.gm")  # the last
    expect(page.locator("#m-any-app")).not_to_be_checked()
    page.fill("#m-apps", "com.example.kasir")
    page.focus("#m-unnamed-app")
    page.keyboard.press("Space")
    expect(page.locator("#m-unnamed-app")).to_be_checked()
    page.click("#m-save")
    expect(card.locator("[data-testid=accepted-apps]")).to_have_text(
        "Aplikasi yang boleh melunasi tagihan: Aplikasi pembayaran + com.example.kasir"
        " + notifikasi tanpa nama aplikasi")
    assert notify_from("com.example.kasir", invoice["total_amount"], "kasir-1").status_code == 200
    assert invoice_status(server, shop, invoice["invoice_id"])["status"] == "paid"


def test_money_that_matches_no_bill_shows_up_at_once(pages: Pages, server: Server,
                                                    shop: Merchant) -> None:
    page = pages.open()
    login(page, server)
    mark_page(page)
    expect(page.locator("[data-testid=attention-count]")).to_have_count(0)
    assert notify(server, shop, 77777).status_code == 404  # no bill has that total
    # Sooner than the 30-second poll: the event brings it.
    expect(page.locator("[data-testid=attention-count]")).to_have_text("1", timeout=5000)
    expect(page.locator(".toast-warn")).to_contain_text("Rp77.777")
    item = page.locator("#feed a[href='#/notifications']")
    expect(item).to_contain_text("Uang masuk Rp77.777 tanpa tagihan")
    item.click()
    expect(page.locator("#view h1")).to_have_text("Kotak masuk notifikasi")
    expect(page.locator("li.notif.needs-attention")).to_contain_text("Rp77.777")
    assert_not_reloaded(page)


def test_create_merchant_validates_the_static_qris(pages: Pages, server: Server) -> None:
    broken = STATIC_QRIS[:-4] + ("0000" if not STATIC_QRIS.endswith("0000") else "1111")
    with pytest.raises(qris.QrisError) as refused:
        qris.validate_static(broken)
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/merchants")
    page.click("#new-merchant")
    page.fill("#m-name", "Warung Baru")
    page.fill("#m-qris", broken)
    # The shop owner reads the problem in Indonesian, with the values the server found.
    details = refused.value.details
    in_indonesian = (f"QRIS ini rusak: checksum-nya tidak cocok (tertulis {details['written']},"
                     f" seharusnya {details['computed']}).")
    expect(page.locator("[data-testid=qris-error]")).to_contain_text(in_indonesian)
    page.click("#m-save")
    expect(page.locator(".merchant-form .form-error")).to_contain_text(in_indonesian)
    expect(page.locator("#m-created")).to_have_count(0)
    # In English the dashboard's words for the code, which read as the server's own.
    page.evaluate("localStorage.setItem('webqris.lang', 'en')")
    page.reload()
    page.fill("#m-name", "Warung Baru")
    page.fill("#m-qris", broken)
    expect(page.locator("[data-testid=qris-error]")).to_have_text(str(refused.value))
    page.evaluate("localStorage.setItem('webqris.lang', 'id')")
    page.reload()
    page.fill("#m-name", "Warung Baru")

    page.fill("#m-qris", STATIC_QRIS)
    expect(page.locator("[data-testid=qris-ok]")).to_contain_text("Warung Sayur Bu Sugeng")
    expect(page.locator(".qris-preview-svg svg")).to_be_visible()
    page.fill("#m-webhook", "https://toko.example/webhook")
    page.click("#m-save")
    created = page.locator("#m-created")
    expect(created).to_contain_text("Warung Sayur Bu Sugeng")
    api_token = page.locator("[data-testid=secret-api_token]").inner_text()
    callback_secret = page.locator("[data-testid=secret-callback_secret]").inner_text()
    webhook_secret = page.locator("[data-testid=secret-webhook_secret]").inner_text()
    assert api_token.startswith("wqk_") and callback_secret.startswith("wqc_")
    assert webhook_secret.startswith("whsec_")

    # The token works, and the secrets are not shown again.
    response = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 1000},
                          headers={"Authorization": f"Bearer {api_token}"}, timeout=10)
    assert response.status_code == 200
    page.click("#m-done")
    card = page.locator("article.merchant", has_text="Warung Baru")
    expect(card).to_contain_text("Warung Sayur Bu Sugeng")
    expect(card).to_contain_text("https://toko.example/webhook")
    assert api_token not in page.content() and callback_secret not in page.content()

    # Rotating the webhook secret says the old one keeps signing for a while, and the card
    # shows until when.
    expect(card.locator("[data-testid=previous-webhook-secret]")).to_have_count(0)
    card.locator("[data-rotate=webhook_secret]").click()
    expect(page.locator("dialog")).to_contain_text("Standard Webhooks")
    page.click("[data-testid=dialog-confirm]")
    rotated = page.locator("[data-testid=secret-webhook_secret]").inner_text()
    assert rotated.startswith("whsec_") and rotated != webhook_secret
    page.click("[data-testid=dialog-confirm]")
    expect(card.locator("[data-testid=previous-webhook-secret]")).to_contain_text(
        "Webhook secret lama masih ikut menandatangani")


def test_the_demos_top_bar_fits_a_common_phone(pages: Pages, db_path: Path,
                                              server_factory: Any) -> None:
    """`serve --demo` is a new user's first look: at 390 px its DEMO badge pushed the bar's
    sign-out 51 px off the screen, and every page scrolled sideways."""
    server = server_factory(db_path, "--demo")
    password = re.search(r"Admin password[^:]*: (\S+)", server.log_path.read_text()).group(1)
    page = pages.open({"width": 390, "height": 844})
    page.goto(server.base_url + "/")
    page.fill("input[type=password]", password)
    page.keyboard.press("Enter")
    expect(page.locator("#demo-badge")).to_be_visible()
    expect(page.locator("#today-sum")).to_be_visible()
    width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    expect(page.locator("#logout")).to_be_in_viewport(ratio=1)


@pytest.mark.parametrize("demo", [True, False], ids=["demo-simulate", "notification"])
def test_checkout_turns_paid_without_reload(demo: bool, pages: Pages, shop: Merchant,
                                            db_path: Path, server_factory: Any) -> None:
    server = server_factory(db_path, *(["--demo"] if demo else []))
    if demo:  # "Simulate payment" pays only the demo merchant's invoices
        printed = server.log_path.read_text()
        shop = Merchant(0, webqris.DEMO_MERCHANT_NAME, *(
            re.search(rf"{label}:\s+(\S+)", printed).group(1)
            for label in ("API token", "Callback secret", "Webhook secret")))
    invoice = create_invoice(server, shop, 25000, redirect_url="https://toko.example/thanks")
    page = pages.open(PHONE)
    page.goto(f"{server.base_url}/pay/{invoice['invoice_id']}")
    card = page.locator("#card")
    expect(card).to_have_attribute("data-status", "pending")
    expect(page.locator("#merchant-name")).to_have_text(shop.name)
    expect(page.locator("[data-testid=total]")).to_have_text(rupiah(invoice["total_amount"]))
    expect(page.locator(".code-digits")).to_have_text(f"{invoice['total_amount'] % 1000:03d}")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
    mark_page(page)

    if demo:
        page.click("[data-testid=simulate]")
    else:
        expect(page.locator("[data-testid=simulate]")).to_have_count(0)
        assert notify(server, shop, invoice["total_amount"]).status_code == 200
    expect(card).to_have_attribute("data-status", "paid")
    expect(card).to_contain_text("Tagihan lunas")
    # The tick is drawn, not an empty picture frame.
    expect(page.locator(".state-icon-check svg path")).to_have_count(1)
    expect(page.locator("#back-to-shop")).to_have_attribute("href", "https://toko.example/thanks")
    assert_not_reloaded(page)
    page.click("#redirecting button")  # stay: no redirect to a shop that does not exist
    expect(page.locator("#redirecting")).to_have_count(0)


def test_checkout_marks_as_many_digits_as_the_unique_code_can_change(
        pages: Pages, shop: Merchant, db_path: Path, server_factory: Any) -> None:
    server = server_factory(db_path, env={"WEBQRIS_PAYMENTS_UNIQUE_CODE_MAX": "99"})
    invoice = create_invoice(server, shop, 25000)
    page = pages.open(PHONE)
    page.goto(f"{server.base_url}/pay/{invoice['invoice_id']}")
    expect(page.locator(".code-digits")).to_have_text(f"{invoice['total_amount'] % 100:02d}")
    expect(page.locator(".exact-note")).to_contain_text("2 digit terakhir")


def test_phone_screens_do_not_scroll_sideways(pages: Pages, server: Server,
                                              shop: Merchant, tmp_path: Path) -> None:
    pending = create_invoice(server, shop, 25000, merchant_order_id="ORDER-WITH-A-LONG-ID-0001")
    paid = create_invoice(server, shop, 125000)
    assert notify(server, shop, paid["total_amount"]).status_code == 200
    page = pages.open(PHONE)
    login(page, server)

    def fits(page: Page, what: str) -> None:
        width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{what} scrolls sideways: {width}"

    screens = {
        "overview": ("#/overview", "#today-sum"),
        "payments": ("#/payments", "tbody tr"),
        "payment detail": (f"#/payments/{paid['invoice_id']}", ".detail[data-status=paid]"),
        "notifications": ("#/notifications", "li.notif"),
        "merchants": ("#/merchants", "article.merchant"),
        "merchant form": ("#/merchants/new", "#m-qris"),
        "webhooks": ("#/webhooks", ".empty-state"),
        "audit log": ("#/audit", "li.audit-entry"),
    }
    for name, (route, ready) in screens.items():
        page.goto(f"{server.base_url}/{route}")
        expect(page.locator(ready).first).to_be_visible()
        fits(page, name)
    page.goto(f"{server.base_url}/#/merchants")
    page.click(".forwarder summary")
    fits(page, "merchants with forwarder settings open")

    # The bottom navigation at 360 and 390 px, in both languages: the admin's eight pages
    # scrolled the bar sideways (448-462 px), hiding the overview behind the left edge; now
    # four stand on the bar, the rest open from "More", and every target is whole, at least
    # 44 x 44 px, on screen, with its label uncut.
    page.goto(f"{server.base_url}/#/overview")
    for lang, width in (("id", 360), ("en", 360), ("id", 390), ("en", 390)):
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        page.evaluate(f"localStorage.setItem('webqris.lang', '{lang}')")
        page.reload()
        expect(page.locator("#view h1")).to_be_visible()
        for opened in (False, True):
            if opened:
                page.click("#nav-more-toggle")
                expect(page.locator("#nav-more-list a").first).to_be_visible()
            problems = page.evaluate("""() => {
                const nav = document.getElementById('nav'), problems = [];
                if (nav.scrollWidth > nav.clientWidth) problems.push('bar ' + nav.scrollWidth);
                for (const t of nav.querySelectorAll('a, button')) {
                    if (!t.offsetParent) continue;
                    const r = t.getBoundingClientRect(), label = t.querySelector('.nav-label');
                    const name = t.dataset.route || t.id;
                    if (r.width < 44 || r.height < 44)
                        problems.push(`${name} ${r.width}x${r.height}`);
                    if (r.left < 0 || r.right > innerWidth || r.bottom > innerHeight)
                        problems.push(`${name} off screen`);
                    if (label.scrollWidth > label.clientWidth)
                        problems.push(`${name} cut: ${label.textContent}`);
                }
                return problems; }""")
            state = "open" if opened else "shut"
            assert problems == [], f"{lang} {width}px, more {state}: {problems}"
        bar = page.locator("#nav > .nav-link:visible, #nav-more-toggle")
        expect(bar).to_have_count(5)
        expect(page.locator("#nav-more-list .nav-link:visible")).to_have_count(4)  # Alerts too
        # The inbox has one name, on the phone's bar too (it said "Notifikasi" there).
        expect(page.locator(".nav-link[data-route=notifications] .nav-label")).to_have_text(
            {"id": "Kotak masuk", "en": "Inbox"}[lang])
        page.screenshot(path=str(tmp_path / f"nav-{lang}-{width}.png"))

    checkout = pages.open(PHONE)
    checkout.goto(f"{server.base_url}/pay/{pending['invoice_id']}")
    expect(checkout.locator("#card")).to_have_attribute("data-status", "pending")
    fits(checkout, "checkout (pending)")
    checkout.goto(f"{server.base_url}/pay/{paid['invoice_id']}")
    expect(checkout.locator("#card")).to_have_attribute("data-status", "paid")
    fits(checkout, "checkout (paid)")


class SeedReceiver:
    """A webhook receiver written from the seed's docs (its PHP and Express snippets): a wrong
    signature is 401 "Invalid signature"; a right one on an event other than payment.paid is
    400 "Invalid event"."""

    def __init__(self, secret: str) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = hmac.new(outer.secret.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers["X-Webhook-Signature"] or ""):
                    status, message = 401, "Invalid signature"
                elif json.loads(body)["event"] != "payment.paid":
                    status, message = 400, "Invalid event"
                else:
                    status, message = 200, "ok"
                answer = json.dumps({"success": status == 200, "message": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.secret = secret
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.mark.parametrize("right_secret", [True, False], ids=["signature-ok", "signature-wrong"])
def test_test_webhook_to_a_seed_receiver_says_the_signature_was_accepted(
        pages: Pages, shop: Merchant, db_path: Path, server_factory: Any,
        right_secret: bool) -> None:
    """A seed receiver answers a test event 400 "Invalid event" once the signature checked
    out: the dashboard showed a red "Failed, HTTP 400"."""
    receiver = SeedReceiver("whsec_not-known-yet")
    try:
        seed_shop = add_merchant(db_path, "Toko Seed", webhook_url=receiver.url)
        if right_secret:
            receiver.secret = seed_shop.webhook_secret
        server = server_factory(db_path)
        page = pages.open()
        login(page, server)
        page.goto(server.base_url + "/#/merchants")
        card = page.locator("article.merchant", has_text="Toko Seed")
        card.get_by_role("button", name="Kirim webhook tes").click()
        expect(page.locator(".toast").first).to_contain_text("Webhook tes dijadwalkan")
        page.goto(server.base_url + "/#/webhooks")
        delivery = page.locator("article.delivery", has_text="Toko Seed")
        expect(delivery).to_have_attribute("data-state", "failed")
        if right_secret:
            expect(delivery.locator(".delivery-head .badge").first).to_have_text(
                "Tanda tangan diterima")
            expect(delivery).to_contain_text("Jadi tanda tangan diterima")
            expect(delivery.locator(".error-text")).to_have_count(0)
        else:
            expect(delivery.locator(".delivery-head .badge").first).to_have_text("Gagal")
            expect(delivery.locator(".error-text")).to_contain_text("HTTP 401")
            expect(delivery).not_to_contain_text("Tanda tangan diterima")
    finally:
        receiver.close()


# --- teach a wording, trust an app ------------------------------------------------------------

UNREAD_WORDING = "Cuan mendarat! {amount} rupiah dari {name} sudah nongkrong di dompet toko"


def forward(server: Server, merchant: Merchant, message: str, app: str = "id.dana",
            title: str = "DANA", **fields: Any) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/webhook/payment",
                      json={"app": app, "title": title, "message": message, **fields},
                      headers={"Authorization": f"Bearer {merchant.callback_secret}"}, timeout=10)


def dotted(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Presses Tab until the element is focused: how a keyboard user gets there."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def select_with_keyboard(page: Page, text: str, part: str) -> None:
    """Moves the caret to `part` in the focused text box and selects it with Shift+arrows."""
    page.keyboard.press("Control+Home")
    for _ in range(text.index(part)):
        page.keyboard.press("ArrowRight")
    for _ in range(len(part)):
        page.keyboard.press("Shift+ArrowRight")


def test_a_wording_taught_in_the_inbox_pays_the_next_one_by_itself(
        pages: Pages, server: Server, shop: Merchant) -> None:
    first = create_invoice(server, shop, 25000)
    message = UNREAD_WORDING.format(amount=dotted(first["total_amount"]), name="BUDI SANTOSO")
    assert forward(server, shop, message).status_code == 422  # no parser reads it

    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    item = page.locator("li.notif.needs-attention")
    expect(item.locator(".badge").first).to_have_text("Tak terbaca")
    item.locator(".teach-btn").click()
    dialog = page.locator("#dialog")
    dialog.locator(f".teach-num[data-value='{dotted(first['total_amount'])}']").click()
    expect(dialog.locator("[data-testid=teach-reads]")).to_have_text(
        f"Akan terbaca: {rupiah(first['total_amount'])}")
    # The payer's name, selected with the mouse in the text.
    page.evaluate("""part => { const area = document.getElementById('teach-text');
        const start = area.value.indexOf(part); area.focus();
        area.setSelectionRange(start, start + part.length); }""", "BUDI SANTOSO")
    dialog.locator("#teach-mark-sender").click()
    expect(dialog.locator("[data-testid=teach-reads]")).to_have_text(
        f"Akan terbaca: {rupiah(first['total_amount'])} dari BUDI SANTOSO")
    expect(dialog.locator(".teach-wording")).to_have_text(
        "DANA Cuan mendarat! [amount] rupiah dari [name] sudah nongkrong di dompet toko")
    expect(dialog.locator("mark.mark-amount")).to_have_text(dotted(first["total_amount"]))
    # The bill with that exact total is chosen already.
    expect(dialog.locator(f"input[value='{first['invoice_id']}']")).to_be_checked()
    expect(dialog.locator("[data-testid=dialog-confirm]")).to_have_text("Pelajari & lunasi")
    dialog.locator("[data-testid=dialog-confirm]").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".toast-ok", has_text="Kalimat dipelajari")).to_contain_text(
        first["invoice_id"])
    assert invoice_status(server, shop, first["invoice_id"])["status"] == "paid"
    expect(page.locator("li.notif.is-attached")).to_contain_text(first["invoice_id"])

    second = create_invoice(server, shop, 70000)
    again = forward(server, shop, UNREAD_WORDING.format(amount=dotted(second["total_amount"]),
                                                        name="Siti Aminah"))
    assert again.status_code == 200, again.text
    assert again.json()["invoice_id"] == second["invoice_id"]
    assert again.json()["sender_name"] == "Siti Aminah"

    # The merchant page lists the wording; deleting it asks first.
    page.goto(server.base_url + "/#/merchants")
    wording = page.locator(f"article.merchant[data-merchant-id='{shop.id}'] li.wording")
    expect(wording).to_contain_text("[amount] rupiah dari [name]")
    wording.locator(".wording-delete").click()
    dialog.locator("[data-testid=dialog-confirm]").click()
    expect(wording).to_have_count(0)
    assert forward(server, shop, message.replace("BUDI", "ANI")).status_code == 422


def test_the_teach_flow_works_with_the_keyboard_alone(pages: Pages, server: Server,
                                                      shop: Merchant) -> None:
    invoice = create_invoice(server, shop, 31000)
    message = UNREAD_WORDING.format(amount=dotted(invoice["total_amount"]), name="Rina Wati")
    assert forward(server, shop, message).status_code == 422
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    expect(page.locator("li.notif.needs-attention .teach-btn")).to_be_visible()
    page.locator("#view h1").click()  # start from the page, then only keys
    tab_to(page, ".teach-btn")
    page.keyboard.press("Enter")
    dialog = page.locator("#dialog")
    expect(dialog.locator("#teach-text")).to_be_visible()
    tab_to(page, f".teach-num[data-value='{dotted(invoice['total_amount'])}']")
    page.keyboard.press("Space")
    expect(dialog.locator("[data-testid=teach-reads]")).to_have_text(
        f"Akan terbaca: {rupiah(invoice['total_amount'])}")
    page.keyboard.press("Shift+Tab")
    tab_to(page, "#teach-text")
    shown = "DANA\n" + message
    page.keyboard.type("x")
    page.keyboard.press("Backspace")
    expect(dialog.locator("#teach-text")).to_have_value(shown)  # selectable, not editable
    select_with_keyboard(page, shown, "Rina Wati")
    tab_to(page, "#teach-mark-sender")
    page.keyboard.press("Enter")
    expect(dialog.locator("[data-testid=teach-reads]")).to_have_text(
        f"Akan terbaca: {rupiah(invoice['total_amount'])} dari Rina Wati")
    tab_to(page, "[data-testid=dialog-confirm]")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    assert invoice_status(server, shop, invoice["invoice_id"])["status"] == "paid"


def test_a_taught_outgoing_wording_is_refused(pages: Pages, server: Server,
                                              shop: Merchant) -> None:
    assert forward(server, shop, "Kamu mengirim Rp25.042 ke BUDI SANTOSO").status_code == 422
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    page.locator("li.notif.needs-attention .teach-btn").click()
    dialog = page.locator("#dialog")
    dialog.locator(".teach-num[data-value='Rp25.042']").click()
    expect(dialog.locator("[data-testid=teach-refused]")).to_contain_text(
        "terbaca sebagai uang keluar")
    dialog.locator("[data-testid=dialog-confirm]").click()
    expect(dialog.locator(".form-error[role=alert]")).to_contain_text("uang keluar")
    dialog.locator("[data-testid=dialog-cancel]").click()
    expect(dialog).to_be_hidden()
    page.goto(server.base_url + "/#/merchants")
    expect(page.locator("article.merchant")).to_contain_text("Belum ada. Ajari kalimat")


def test_trusting_an_app_from_the_inbox_makes_its_next_notification_pay(
        pages: Pages, server: Server, shop: Merchant, db_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(db_path) as conn:  # the shop lists its wallet: other apps are refused
        conn.execute("UPDATE merchants SET accepted_apps = 'id.dana' WHERE id = ?", (shop.id,))
    invoice = create_invoice(server, shop, 45000)
    message = f"Kamu berhasil menerima {rupiah(invoice['total_amount'])} dari ANI"
    refused = forward(server, shop, message, app="com.bank.baru", title="Bank Baru")
    assert refused.status_code == 404 and refused.json()["app_accepted"] is False

    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    item = page.locator("li.notif.needs-attention")
    item.locator(".trust-btn").click()
    dialog = page.locator("#dialog")
    expect(dialog.locator("h2")).to_have_text(f"Percayai com.bank.baru untuk {shop.name}?")
    dialog.locator("[data-testid=dialog-confirm]").click()
    expect(page.locator(".toast-ok", has_text="com.bank.baru")).to_contain_text(
        "com.bank.baru kini boleh melunasi")
    # The refused one still waits for its bill; the next one from that app pays by itself.
    expect(page.locator("li.notif.needs-attention .attach-btn")).to_be_visible()
    assert invoice_status(server, shop, invoice["invoice_id"])["status"] == "pending"
    paid = forward(server, shop, message.replace("ANI", "BUDI"), app="com.bank.baru",
                   title="Bank Baru")
    assert paid.status_code == 200 and paid.json()["invoice_id"] == invoice["invoice_id"]
    page.goto(server.base_url + "/#/merchants")
    expect(page.locator("[data-testid=accepted-apps]")).to_contain_text("com.bank.baru")


def test_the_teach_dialog_fits_a_phone_screen(pages: Pages, server: Server,
                                              shop: Merchant) -> None:
    create_invoice(server, shop, 25000)
    assert forward(server, shop, UNREAD_WORDING.format(amount="12.345", name="BUDI")) \
        .status_code == 422
    page = pages.open(PHONE)
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    page.locator(".teach-btn").click()
    page.locator(".teach-num[data-value='12.345']").click()
    expect(page.locator("[data-testid=teach-reads]")).to_be_visible()
    widths = page.evaluate("""[document.getElementById('dialog').scrollWidth,
        document.getElementById('dialog').clientWidth, window.innerWidth]""")
    assert widths[0] <= widths[1] <= widths[2], widths


# --- alerts and CSV downloads --------------------------------------------------------------------


def test_the_owner_sets_up_telegram_alerts_and_a_test_alert_arrives(
        pages: Pages, shop: Merchant, db_path: Path, server_factory: Any) -> None:
    from test_alerts import FakeTelegram

    telegram = FakeTelegram()
    try:
        server = server_factory(db_path, env={
            "WEBQRIS_ALERTS_TELEGRAM_API_BASE": telegram.base,
            "WEBQRIS_ALERTS_POLL_SECONDS": "0.05"})
        page = pages.open()
        login(page, server)
        page.click('#nav a[data-route="merchants"]')
        page.get_by_role("link", name="Atur peringatan untuk Toko ABC").click()
        expect(page.locator("#view h1")).to_have_text("Peringatan")
        expect(page.locator("#al-shop")).to_have_value(str(shop.id))
        expect(page.locator("#al-channels")).to_contain_text("Belum ada saluran")
        token = "123456789:AAExampleBotTokenForTheDashboard_xy"
        page.fill("#al-bot-token", token)
        page.fill("#al-chat-id", "-1001234567890")
        page.fill("#al-hours", "08:00-21:00")
        page.check("#ak-payment")
        page.get_by_role("button", name="Simpan pengaturan").click()
        expect(page.locator("#al-channels")).to_contain_text("Telegram (saluran milik toko)")
        expect(page.get_by_text("Tersimpan (••••d_xy)")).to_be_visible()
        assert token not in page.content()
        page.get_by_role("button", name="Kirim peringatan tes ke Toko ABC").click()
        expect(page.locator('.alert-row[data-state="sent"]')).to_have_count(1, timeout=15_000)
        assert telegram.messages[0]["chat_id"] == "-1001234567890"
        assert "Tes peringatan" in telegram.messages[0]["text"]
        page.click('#nav a[data-route="alerts"]')  # the settings stay as saved
        expect(page.locator("#ak-payment")).to_be_checked()
        expect(page.locator("#al-hours")).to_have_value("08:00-21:00")
    finally:
        telegram.close()


def test_unduh_csv_downloads_the_bills_of_the_chosen_filters(pages: Pages, shop: Merchant,
                                                             server: Server) -> None:
    paid = create_invoice(server, shop, 30_000)
    assert notify(server, shop, paid["total_amount"]).status_code == 200
    create_invoice(server, shop, 45_000)
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/payments")
    expect(page.locator(".table-payments tbody tr")).to_have_count(2)
    page.locator(".filters-toggle").click()
    page.select_option("#pf-status", "paid")
    expect(page.locator(".table-payments tbody tr")).to_have_count(1)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Unduh CSV tagihan dengan filter ini").click()
    download = download_info.value
    assert download.suggested_filename.startswith("webqris-tagihan-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("No. tagihan,ID pesanan,Toko,Status,Nominal")
    assert len(lines) == 2 and paid["invoice_id"] in lines[1] and ",lunas," in lines[1]


def test_the_other_apps_copy_is_resolved_and_reopened_by_keyboard(pages: Pages, server: Server,
                                                                   shop: Merchant) -> None:
    """GoPay Merchant and the GoPay app post one payment: the second waits in the inbox, named
    as the first's copy, and the owner settles it (and takes it back) with the keyboard."""
    invoice = create_invoice(server, shop, 27000)
    total = invoice["total_amount"]
    assert forward(server, shop, f"Pembayaran QRIS Rp {dotted(total)}",
                   app="com.gojek.gopaymerchant", title="Pembayaran diterima").status_code == 200
    assert forward(server, shop, f"Kamu menerima Rp{dotted(total)} dari Budi via QRIS",
                   app="com.gojek.gopay", title="GoPay").status_code == 404
    page = pages.open()
    login(page, server)
    expect(page.locator("[data-testid=attention-count]")).to_have_text("1")
    page.goto(server.base_url + "/#/notifications")
    waiting = page.locator("li.notif.needs-attention")
    expect(waiting).to_have_count(1)
    expect(waiting.locator("[data-testid=maybe-copy]")).to_contain_text(invoice["invoice_id"])
    # Attaching it to a bill is one click away, so its dialog says what that would do.
    waiting.locator(".attach-btn").click()
    expect(page.locator("#dialog [data-testid=attach-copy-warning]")).to_contain_text(
        f"sudah melunasi {invoice['invoice_id']}")
    page.keyboard.press("Escape")
    expect(page.locator("#dialog")).to_be_hidden()
    page.locator("#view h1").click()  # start from the page, then only keys
    tab_to(page, ".resolve-btn")
    page.keyboard.press("Enter")
    dialog = page.locator("#dialog")
    expect(dialog.locator("#resolution-copy")).to_be_checked()
    expect(dialog.locator("label[for=resolution-copy]")).to_contain_text(invoice["invoice_id"])
    page.keyboard.type("pelanggan kirim dua notifikasi")
    tab_to(page, "[data-testid=dialog-confirm]")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("li.notif.needs-attention")).to_have_count(0)
    expect(page.locator("[data-testid=attention-count]")).to_have_count(0)
    resolved = page.locator("li.notif", has=page.locator("[data-testid=resolved]"))
    expect(resolved.locator("[data-testid=resolved]")).to_contain_text("Selesai: salinan #")
    expect(resolved).to_contain_text("pelanggan kirim dua notifikasi")
    assert invoice_status(server, shop, invoice["invoice_id"])["status"] == "paid"

    tab_to(page, ".reopen-btn")
    page.keyboard.press("Enter")
    expect(page.locator("li.notif.needs-attention")).to_have_count(1)
    expect(page.locator("[data-testid=attention-count]")).to_have_text("1")


def test_money_sent_while_an_expired_bill_was_open_is_attached_to_that_bill(
        pages: Pages, shop: Merchant, db_path: Path, server_factory: Any) -> None:
    """The phone was offline while the customer paid; its queue sends the notification after
    the bill expired and a newer bill took its total. It pays neither by itself: the inbox
    names the expired bill it was sent for, and attaching it there is one confirmation."""
    server = server_factory(db_path, env={"WEBQRIS_PAYMENTS_LATE_GRACE_SECONDS": "1",
                                          "WEBQRIS_PAYMENTS_DEDUPE_WINDOW_SECONDS": "1",
                                          "WEBQRIS_PAYMENTS_UNIQUE_CODE_MIN": "7",
                                          "WEBQRIS_PAYMENTS_UNIQUE_CODE_MAX": "7"})
    earlier = create_invoice(server, shop, 25000, expires_in=1)
    posted = int(time.time() * 1000)
    time.sleep(2.3)  # expired, then past the grace that keeps its total from a newer bill
    newer = create_invoice(server, shop, 25000)
    assert newer["total_amount"] == earlier["total_amount"]
    late = forward(server, shop, f"Kamu berhasil menerima Rp{dotted(newer['total_amount'])}"
                   " dari BUDI", postedAt=posted)
    assert late.status_code == 404, late.text
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    waiting = page.locator("li.notif.needs-attention")
    expect(waiting.locator("[data-testid=maybe-for]")).to_contain_text(earlier["invoice_id"])
    waiting.locator(".attach-btn").click()
    expect(page.locator("#dialog-input")).to_have_value(earlier["invoice_id"])
    # Of the two bills of that total, the one open when the money was sent is listed first
    # and said to be; the pending one is listed after it.
    candidates = page.locator("#dialog .candidate")
    expect(candidates.first.locator(".candidate-id")).to_have_text(earlier["invoice_id"])
    expect(candidates.first.locator("[data-testid=candidate-likely]")).to_have_text(
        "terbuka saat dikirim")
    expect(candidates.nth(1).locator(".candidate-id")).to_have_text(newer["invoice_id"])
    expect(page.locator("#dialog [data-testid=candidate-likely]")).to_have_count(1)
    page.locator("[data-testid=dialog-confirm]").click()
    expect(page.locator("#dialog")).to_be_hidden()
    assert invoice_status(server, shop, earlier["invoice_id"])["status"] == "paid"
    assert invoice_status(server, shop, newer["invoice_id"])["status"] == "pending"


def test_the_shopee_shopping_app_is_not_named_as_the_wallet(pages: Pages, server: Server,
                                                            shop: Merchant) -> None:
    """The inbox named the Shopee shopping app (a marketplace: its chats quote amounts, and it
    never pays) "ShopeePay", the wallet's name: an owner could take its money for a payment."""
    assert forward(server, shop, "Kamu berhasil menerima Rp45.000 dari ANI",
                   app="com.shopee.id", title="Shopee").status_code == 404
    assert forward(server, shop, "Kamu berhasil menerima Rp46.000 dari ANI",
                   app="com.shopeepay.id", title="ShopeePay").status_code == 404
    page = pages.open()
    login(page, server)
    page.goto(server.base_url + "/#/notifications")
    sources = page.locator("li.notif .notif-source")
    expect(sources).to_have_count(2)
    expect(sources).to_have_text(["ShopeePay", "Shopee"])
