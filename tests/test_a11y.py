"""Pages everyone can use: axe-core over every dashboard page, every dialog and every state of
the checkout page, in Indonesian and English, on a desktop and a phone; keyboard paths; the
checkout's announcements; the page text a shop owner reads.

axe-core comes from the npm registry (tests/receivers/package.json) and is injected by
playwright into each page (the context bypasses our CSP for that one script). A scan fails on
any violation of impact serious or critical, and on the moderate rules a person notices
(landmarks, headings); the failure lists each one with the elements it names.

To add a page or a dialog: append a Screen to SCREENS below. `route` is what follows the
server's address ("/#/kasir", "/pay/{paid}"; the {names} are the World's invoice ids), `ready`
a selector that is visible once the page has drawn its data, and `open` (for a dialog or any
state a click reaches) a function of the page that clicks there; the dialog must end up open
in #dialog. `login=False` for public pages and the login form. Every screen is then scanned in
both languages and both widths, and its visible text is checked for unfilled {placeholders}.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import STATIC_QRIS, Merchant, Server, add_merchant, free_port
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

import webqris

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "receivers" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("WEBQRIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "kata sandi rahasia"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
UNREAD_WORDING = "Cuan mendarat! {amount} rupiah dari {name} sudah nongkrong di dompet toko"

# Moderate rules that still cost a person their way around the page.
NOTICED_MODERATE = {"landmark-one-main", "page-has-heading-one", "heading-order", "region",
                    "landmark-unique", "landmark-no-duplicate-main", "landmark-complementary-is-top-level"}

expect.set_options(timeout=10_000)


def rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


# --- the screens ------------------------------------------------------------------------------


def open_dialog(trigger: str) -> Callable[[Page], None]:
    def click(page: Page) -> None:
        page.locator(trigger).first.click()
        expect(page.locator("#dialog[open]")).to_be_visible()
        page.wait_for_timeout(200)  # the dialog's own loads (candidates, preview) draw
    return click


def rotate_then_show_secret(page: Page) -> None:
    page.locator("[data-rotate=webhook_secret]").first.click()
    expect(page.locator("#dialog[open]")).to_be_visible()
    page.click("[data-testid=dialog-confirm]")
    expect(page.locator("[data-testid=secret-webhook_secret]")).to_be_visible()


@dataclasses.dataclass(frozen=True)
class Screen:
    name: str
    route: str
    ready: str
    open: Callable[[Page], None] | None = None
    login: bool = True


SCREENS = [
    Screen("login", "/", "#login-form", login=False),
    Screen("overview", "/#/overview", "#today-sum"),
    Screen("payments", "/#/payments", "tbody tr"),
    Screen("payment pending", "/#/payments/{pending}", ".detail[data-status=pending]"),
    Screen("confirm dialog", "/#/payments/{pending}", "#confirm-payment",
           open_dialog("#confirm-payment")),
    Screen("cancel dialog", "/#/payments/{pending}", "#cancel-payment",
           open_dialog("#cancel-payment")),
    Screen("payment paid", "/#/payments/{paid}", ".detail[data-status=paid]"),
    Screen("redeliver dialog", "/#/payments/{paid}", ".redeliver-btn:enabled",
           open_dialog(".redeliver-btn:enabled")),
    Screen("inbox", "/#/notifications", "li.notif.needs-attention"),
    Screen("attach dialog", "/#/notifications", ".attach-btn", open_dialog(".attach-btn")),
    Screen("teach dialog", "/#/notifications", ".teach-btn", open_dialog(".teach-btn")),
    Screen("trust dialog", "/#/notifications", ".trust-btn", open_dialog(".trust-btn")),
    Screen("merchants", "/#/merchants", "article.merchant"),
    Screen("rotate dialog", "/#/merchants", "[data-rotate=webhook_secret]",
           open_dialog("[data-rotate=webhook_secret]")),
    Screen("secret dialog", "/#/merchants", "[data-rotate=webhook_secret]",
           rotate_then_show_secret),
    Screen("merchant form", "/#/merchants/new", "#m-qris"),
    Screen("webhooks", "/#/webhooks", "article.delivery"),
    Screen("audit", "/#/audit", "li.audit-entry"),
    Screen("checkout pending", "/pay/{pending}", "#card[data-status=pending]", login=False),
    Screen("checkout paid", "/pay/{paid}", "#card[data-status=paid]", login=False),
    Screen("checkout paid, redirect", "/pay/{redirecting}", "#card[data-status=paid]",
           login=False),
    Screen("checkout expired", "/pay/{expired}", "#card[data-status=expired]", login=False),
    Screen("checkout cancelled", "/pay/{cancelled}", "#card[data-status=cancelled]",
           login=False),
    Screen("checkout not found", "/pay/INV-0-NOPE", "#card h1", login=False),
]


# --- the world the screens show ---------------------------------------------------------------


@dataclasses.dataclass
class World:
    server: Server
    shop: Merchant
    ids: dict[str, str]


def create(server: Server, merchant: Merchant, amount: int, **extra: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.base_url}/api/payments/qris/create",
                          json={"amount": amount, **extra}, headers=merchant.auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def notify(server: Server, merchant: Merchant, amount: int) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/callback/notify",
                      json={"amount": amount, "sender_name": "JOHN DOE"},
                      headers={"X-Callback-Key": merchant.callback_secret}, timeout=10)


def forward(server: Server, merchant: Merchant, message: str, app: str = "id.dana",
            title: str = "DANA") -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/webhook/payment",
                      json={"app": app, "title": title, "message": message},
                      headers={"Authorization": f"Bearer {merchant.callback_secret}"}, timeout=10)


def with_password(db_path: Path) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    try:
        store.write_now(webqris.put_setting, "admin_password", webqris.hash_password(PASSWORD))
    finally:
        store.close()


@pytest.fixture
def world(db_path: Path, server_factory: Any) -> World:
    """A shop with a bill in every state, money in the inbox that needs the owner (unmatched, an
    unread wording, an app the shop does not trust) and a webhook that could not be delivered."""
    closed_port = free_port()  # nothing listens there: the webhook fails at once
    shop = add_merchant(db_path, "Toko ABC", STATIC_QRIS,
                        webhook_url=f"http://127.0.0.1:{closed_port}/hook")
    with_password(db_path)
    with sqlite3.connect(db_path) as conn:  # the shop lists its wallet: other apps are refused
        conn.execute("UPDATE merchants SET accepted_apps = 'id.dana' WHERE id = ?", (shop.id,))
    server = server_factory(db_path, env={"WEBQRIS_WEBHOOKS_RETRY_DELAYS": "[]"})
    pending = create(server, shop, 25000, merchant_order_id="ORDER-1", customer_name="Ani")
    paid = create(server, shop, 60000)
    assert notify(server, shop, paid["total_amount"]).status_code == 200
    redirecting = create(server, shop, 70000, redirect_url=f"{server.base_url}/healthz")
    assert notify(server, shop, redirecting["total_amount"]).status_code == 200
    expired = create(server, shop, 30000, expires_in=1)
    cancelled = create(server, shop, 40000)
    assert httpx.post(f"{server.base_url}/api/payments/{cancelled['invoice_id']}/cancel",
                      headers=shop.auth, timeout=10).status_code == 200
    assert notify(server, shop, 77777).status_code == 404
    assert forward(server, shop, UNREAD_WORDING.format(amount="12.345", name="BUDI")) \
        .status_code == 422
    assert forward(server, shop, "Kamu berhasil menerima Rp45.000 dari ANI",
                   app="com.bank.baru", title="Bank Baru").status_code == 404
    ids = {"pending": pending["invoice_id"], "paid": paid["invoice_id"],
           "redirecting": redirecting["invoice_id"], "expired": expired["invoice_id"],
           "cancelled": cancelled["invoice_id"]}
    return World(server, shop, ids)


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def contexts(browser: Browser, server_factory: Any) -> Iterator[Callable[..., BrowserContext]]:
    opened: list[BrowserContext] = []

    def open_context(language: str = "id", viewport: dict[str, int] = DESKTOP,
                     **options: Any) -> BrowserContext:
        context = browser.new_context(viewport=viewport, locale="id-ID",
                                      timezone_id="Asia/Jakarta", bypass_csp=True, **options)
        context.set_default_timeout(10_000)
        context.add_init_script(f"localStorage.setItem('webqris.lang', '{language}')")
        opened.append(context)
        return context

    try:
        yield open_context
    finally:
        for context in opened:
            context.close()


def login(page: Page, server: Server) -> None:
    page.goto(server.base_url + "/")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#shell")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "on")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: npm install --prefix tests/receivers")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {
            resultTypes: ['violations'],
            rules: {'label-content-name-mismatch': {enabled: true}}});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                      summary: (n.failureSummary || '').split('\\n').slice(0, 3)
                                               .join(' ')}))}));
    }""")


def describe(where: str, violation: dict[str, Any]) -> str:
    lines = [f"{where}: {violation['id']} ({violation['impact']}) {violation['help']}"]
    for node in violation["nodes"][:5]:
        lines.append(f"    {node['target']}: {node['summary']}")
    if len(violation["nodes"]) > 5:
        lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "390x844"])
def test_every_page_and_dialog_passes_axe(world: World, contexts: Any, language: str,
                                          viewport: dict[str, int]) -> None:
    context = contexts(language, viewport)
    page = context.new_page()
    problems: list[str] = []
    logged_in = False
    for screen in SCREENS:
        if screen.login and not logged_in:
            login(page, world.server)
            logged_in = True
        where = f"{screen.name} [{language} {viewport['width']}px]"
        if not screen.login and screen.route == "/":
            page.goto(world.server.base_url + "/")
        else:
            page.goto(world.server.base_url + screen.route.format(**world.ids))
        expect(page.locator(screen.ready).first).to_be_visible()
        if screen.open:
            screen.open(page)
        page.wait_for_timeout(150)  # transitions end: axe judges colours as drawn
        for violation in axe_violations(page):
            if violation["impact"] in ("serious", "critical") or violation["id"] in NOTICED_MODERATE:
                problems.append(describe(where, violation))
        unfilled = PLACEHOLDER.findall(page.evaluate("document.body.innerText"))
        if unfilled:
            problems.append(f"{where}: unfilled placeholders {unfilled}")
        if screen.open:
            page.keyboard.press("Escape")
            expect(page.locator("#dialog[open]")).to_have_count(0)
    assert not problems, "\n" + "\n".join(problems)
