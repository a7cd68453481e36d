"""Staff accounts and roles: every admin route as every role on its own and another shop's
things, the live socket's scope, the `user` commands, the upgrade from one admin password,
sessions that end with a password change, and the audit log naming the account."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from conftest import ROOT, STAFF_PASSWORD, Merchant, add_account, add_merchant
from playwright.sync_api import expect
from starlette.testclient import TestClient
from test_dashboard import Pages, browser, pages  # noqa: F401 (fixtures used by name)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import webqris
from parsers import taught

PHONE_390 = {"width": 390, "height": 844}
ADMIN_PASSWORD = "admin password 1"

# Who may call each admin route. A route missing here fails the matrix below: a new route
# must say who may use it, in the app (admin_endpoint's roles) and here.
ADMIN, MANAGERS, STAFF = {"admin"}, {"admin", "manager"}, {"admin", "manager", "cashier"}
EXPECTED_ROLES: dict[tuple[str, str], set[str]] = {
    ("POST", "/admin/api/logout"): STAFF,
    ("GET", "/admin/api/session"): STAFF,
    ("POST", "/admin/api/password"): STAFF,
    ("GET", "/admin/api/overview"): MANAGERS,
    ("GET", "/admin/api/payments"): STAFF,
    ("GET", "/admin/api/payments/{invoice_id}"): STAFF,
    ("POST", "/admin/api/payments/{invoice_id}/confirm"): MANAGERS,
    # A cashier's only for the counter's bills of today: test_counter walks it.
    ("POST", "/admin/api/payments/{invoice_id}/cancel"): STAFF,
    ("GET", "/admin/api/notifications"): MANAGERS,
    ("POST", "/admin/api/notifications/{notification_id}/attach"): MANAGERS,
    ("POST", "/admin/api/notifications/{notification_id}/resolve"): MANAGERS,
    ("POST", "/admin/api/notifications/{notification_id}/reopen"): MANAGERS,
    ("POST", "/admin/api/notifications/{notification_id}/teach/preview"): MANAGERS,
    ("POST", "/admin/api/notifications/{notification_id}/teach"): MANAGERS,
    ("POST", "/admin/api/notifications/{notification_id}/trust-app"): MANAGERS,
    ("GET", "/admin/api/wordings"): MANAGERS,
    ("DELETE", "/admin/api/wordings/{wording_id}"): MANAGERS,
    ("GET", "/admin/api/merchants"): MANAGERS,
    ("POST", "/admin/api/merchants"): ADMIN,
    ("PATCH", "/admin/api/merchants/{merchant_id}"): MANAGERS,
    ("POST", "/admin/api/merchants/{merchant_id}/rotate"): MANAGERS,
    ("POST", "/admin/api/merchants/{merchant_id}/test-webhook"): MANAGERS,
    ("POST", "/admin/api/qris/preview"): MANAGERS,
    ("GET", "/admin/api/webhooks"): MANAGERS,
    ("GET", "/admin/api/webhooks/{delivery_id}/attempts"): MANAGERS,
    ("POST", "/admin/api/webhooks/{delivery_id}/redeliver"): MANAGERS,
    ("GET", "/admin/api/audit"): MANAGERS,
    ("GET", "/admin/api/accounts"): ADMIN,
    ("POST", "/admin/api/accounts"): ADMIN,
    ("PATCH", "/admin/api/accounts/{account_id}"): ADMIN,
    ("DELETE", "/admin/api/accounts/{account_id}"): ADMIN,
    ("POST", "/admin/api/accounts/{account_id}/password"): ADMIN,
    ("GET", "/admin/api/payments.csv"): MANAGERS,
    ("GET", "/admin/api/notifications.csv"): MANAGERS,
    ("GET", "/admin/api/alerts"): MANAGERS,
    ("GET", "/admin/api/merchants/{merchant_id}/alerts"): MANAGERS,
    ("PATCH", "/admin/api/merchants/{merchant_id}/alerts"): MANAGERS,
    ("POST", "/admin/api/merchants/{merchant_id}/alerts/test"): MANAGERS,
    ("POST", "/admin/api/merchants/{merchant_id}/invoices"): STAFF,
    ("GET", "/admin/api/kasir"): STAFF,
}
LISTS = {"/admin/api/payments", "/admin/api/notifications", "/admin/api/wordings",
         "/admin/api/webhooks", "/admin/api/payments.csv", "/admin/api/notifications.csv",
         "/admin/api/alerts", "/admin/api/kasir"}


def write(db_path: Path, fn: Any, *args: Any) -> Any:
    store = webqris.Store(str(db_path))
    store.open()
    try:
        return store.write_now(fn, *args)
    finally:
        store.close()


class Dashboard:
    """One logged-in dashboard over a shared test client (or an httpx client of a real
    server): its own session cookie and CSRF token (one client, because each TestClient that
    is entered runs the app's lifespan)."""

    def __init__(self, client: TestClient | httpx.Client) -> None:
        self.client = client
        self.app = getattr(client, "app", None)
        self.token: str | None = None
        self.csrf = ""

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.client.cookies.clear()
        if self.token:
            self.client.cookies.set("wq_session", self.token)
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        response = self.client.request(method, url, headers=headers, **kwargs)
        if "wq_session" in response.cookies:  # a login or a password change
            self.token = response.cookies["wq_session"]
            self.csrf = response.json().get("csrf_token", self.csrf)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def login(client: TestClient | httpx.Client, username: str,
          password: str = STAFF_PASSWORD) -> Dashboard:
    dashboard = Dashboard(client)
    response = dashboard.post("/admin/api/login",
                              json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return dashboard


@pytest.fixture
def shops(db_path: Path) -> tuple[Merchant, Merchant]:
    """Two shops, and an admin, a manager and a cashier of the first."""
    # Their webhooks go to a closed port: a test webhook is queued, and simply fails.
    own, other = (add_merchant(db_path, name, webhook_url="http://127.0.0.1:9/hook")
                  for name in ("Toko Sendiri", "Toko Lain"))
    write(db_path, webqris.put_admin_account, webqris.hash_password(ADMIN_PASSWORD))
    add_account(db_path, "mira", "manager", (own.id,))
    add_account(db_path, "kasir1", "cashier", (own.id,))
    return own, other


def clients(app_factory: Any) -> dict[str, Dashboard]:
    """A logged-in dashboard per role, on one app."""
    client = app_factory()
    return {role: login(client, username, password)
            for role, username, password in (("admin", "admin", ADMIN_PASSWORD),
                                             ("manager", "mira", STAFF_PASSWORD),
                                             ("cashier", "kasir1", STAFF_PASSWORD))}


_amounts = itertools.count(10_000, 7)


def wording(amount: int) -> str:
    """A taught wording's template as stored (the owner marked the amount)."""
    unique = "".join("abcdefghij"[int(digit)] for digit in str(amount))  # a wording per amount
    text = f"Dana masuk Rp{amount} dari pelanggan {unique}"
    start = text.index("Rp")
    return json.dumps(taught.derive_template("", text, (start, start + 2 + len(str(amount)))))


def things_of(admin: Dashboard, merchant: Merchant, db_path: Path) -> dict[str, str]:
    """A fresh thing of each kind a path can name, all of `merchant`."""
    invoice = admin.post("/api/payments/qris/create", json={"amount": next(_amounts)},
                         headers=merchant.auth).json()
    unmatched = admin.post("/api/callback/notify", json={"amount": 1},
                           headers={"X-Callback-Key": merchant.callback_secret})
    assert unmatched.status_code == 404
    conn = sqlite3.connect(db_path)
    try:
        notification_id = conn.execute("SELECT max(id) FROM notifications WHERE merchant_id = ?",
                                       (merchant.id,)).fetchone()[0]
        wording_id = conn.execute(
            "INSERT INTO taught_wordings (merchant_id, app, template, created_at)"
            " VALUES (?, 'id.dana', ?, 0) RETURNING id",
            (merchant.id, wording(next(_amounts)))).fetchone()[0]
        conn.commit()
    finally:
        conn.close()
    delivery = admin.post(f"/admin/api/merchants/{merchant.id}/test-webhook")
    return {"invoice_id": invoice["invoice_id"], "notification_id": str(notification_id),
            "wording_id": str(wording_id), "delivery_id": str(delivery.json()["delivery_id"]),
            "merchant_id": str(merchant.id)}


def admin_routes(app: Any) -> list[tuple[str, str]]:
    return [(method, route.path) for route in app.routes
            if getattr(route, "path", "").startswith("/admin/api/")
            and route.path != "/admin/api/login" for method in sorted(route.methods - {"HEAD"})]


def test_every_admin_route_says_who_may_call_it(app_factory: Any, shops: Any) -> None:
    app = app_factory().app
    found = {}
    for route in app.routes:
        if getattr(route, "path", "").startswith("/admin/api/") \
                and route.path != "/admin/api/login":
            for method in route.methods - {"HEAD"}:
                found[(method, route.path)] = set(route.endpoint.roles)
    assert found == EXPECTED_ROLES
    # An account limited to some shops is checked on what the path names: a route open to it
    # may only name things whose shop can be told.
    for (method, path), roles in found.items():
        if roles != ADMIN:
            assert set(re.findall(r"{(\w+)}", path)) <= set(webqris.PATH_OWNERS), path


def test_every_route_as_every_role_on_its_own_and_another_shops_things(
        app_factory: Any, shops: tuple[Merchant, Merchant], db_path: Path) -> None:
    own, other = shops
    by_role = clients(app_factory)
    admin = by_role["admin"]
    checked = 0
    for method, path in admin_routes(admin.app):
        if path == "/admin/api/logout":
            continue  # below, last: it ends the session the others use
        allowed = EXPECTED_ROLES[(method, path)]
        for role, client in by_role.items():
            for side, merchant in (("own", own), ("other", other)):
                things = things_of(admin, merchant, db_path)
                if "{account_id}" in path:
                    things["account_id"] = str(add_account(db_path, f"korban{checked}",
                                                           "cashier", (own.id,)))
                url = re.sub(r"{(\w+)}", lambda m: things[m.group(1)], path)
                if path in LISTS and side == "other":
                    url += f"?merchant_id={other.id}"
                answer = client.request(method, url, json={})
                where = (method, path, role, side, answer.status_code, answer.text[:200])
                assert answer.status_code != 500, where
                if answer.headers["content-type"].startswith("text/csv"):
                    assert answer.status_code == 200, where  # a download: the rows below
                else:
                    assert answer.json()["success"] is False or answer.status_code == 200, where
                if role not in allowed:
                    assert answer.status_code == 403, where
                    assert answer.json() == {"success": False, "message":
                                             f"Forbidden: a {role} account cannot do this"}
                elif role != "admin" and side == "other" and ("{" in path or path in LISTS) \
                        and "{account_id}" not in path:
                    assert answer.status_code == 404, where
                    assert answer.json()["message"].endswith("not found"), where
                elif role == "cashier" and path.endswith("/cancel"):
                    # Its own shop's bill, made through the API: not the counter's to cancel.
                    assert answer.status_code == 403, where
                    assert "counter" in answer.json()["message"], where
                else:
                    assert answer.status_code not in (401, 403, 404), where
                checked += 1
    assert checked >= 6 * 29
    for role, client in by_role.items():
        assert client.post("/admin/api/logout").status_code == 200
        assert client.get("/admin/api/session").status_code == 401


def test_a_managers_lists_hold_only_its_shops(app_factory: Any, shops: Any,
                                             db_path: Path) -> None:
    own, other = shops
    by_role = clients(app_factory)
    for merchant in (own, other):
        things_of(by_role["admin"], merchant, db_path)
    manager = by_role["manager"]
    for path in ("payments", "notifications", "webhooks", "wordings", "merchants"):
        everyone = by_role["admin"].get(f"/admin/api/{path}").json()["data"]
        mine = manager.get(f"/admin/api/{path}").json()["data"]
        key = "id" if path == "merchants" else "merchant_id"
        assert {row[key] for row in everyone} == {own.id, other.id}, path
        assert mine and {row[key] for row in mine} == {own.id}, path
    overview = manager.get("/admin/api/overview").json()
    assert {row["merchant_id"] for row in overview["recent"]} == {own.id}
    session = manager.get("/admin/api/session").json()["account"]
    assert session == {"id": session["id"], "username": "mira", "role": "manager",
                       "merchants": [{"id": own.id, "name": "Toko Sendiri"}]}


def test_a_cashier_sees_its_shops_payments_of_today_without_secrets(
        app_factory: Any, shops: Any, db_path: Path) -> None:
    own, other = shops
    by_role = clients(app_factory)
    cashier = by_role["cashier"]
    # Invoices are numbered in the order they are made: yesterday's comes first.
    yesterday = things_of(by_role["admin"], own, db_path)["invoice_id"]
    today = things_of(by_role["admin"], own, db_path)["invoice_id"]
    things_of(by_role["admin"], other, db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE invoices SET created_at = created_at - 2 * 86400000"
                 " WHERE invoice_id = ?", (yesterday,))
    conn.commit()
    conn.close()
    listed = [row["invoice_id"] for row in cashier.get("/admin/api/payments").json()["data"]]
    assert listed == [today]
    assert cashier.get(f"/admin/api/payments/{yesterday}").status_code == 404
    detail = cashier.get(f"/admin/api/payments/{today}").json()["data"]
    assert "deliveries" not in detail and "notifications" not in detail
    assert by_role["manager"].get(f"/admin/api/payments/{yesterday}").status_code == 200
    assert cashier.get("/admin/api/merchants").status_code == 403


# --- login, passwords, sessions -----------------------------------------------------------------


def test_login_by_username_and_the_password_alone_is_the_admin(app_factory: Any,
                                                              shops: Any) -> None:
    client = Dashboard(app_factory())
    alone = client.post("/admin/api/login", json={"password": ADMIN_PASSWORD})
    assert alone.status_code == 200
    assert client.get("/admin/api/session").json()["account"]["username"] == "admin"
    named = client.post("/admin/api/login", json={"username": "Mira", "password": STAFF_PASSWORD})
    assert named.status_code == 200  # a name is the same whatever its letter case
    assert client.get("/admin/api/session").json()["account"]["role"] == "manager"
    for body in ({"username": "mira", "password": "wrong password"},
                 {"username": "nobody", "password": STAFF_PASSWORD}):
        refused = client.post("/admin/api/login", json=body)
        assert refused.status_code == 401
        assert refused.json() == {"success": False, "message": "Wrong username or password"}
    assert client.post("/admin/api/login", json={"password": STAFF_PASSWORD}).json() == {
        "success": False, "message": "Wrong password"}
    assert client.post("/admin/api/login", json={"username": 5, "password": "x"}
                       ).status_code == 400


def test_guesses_on_one_username_are_limited_from_every_address(app_factory: Any,
                                                                 shops: Any) -> None:
    client = Dashboard(app_factory(admin={"login_max_failures": 100,
                                        "login_max_failures_per_username": 3}))
    for _ in range(3):
        assert client.post("/admin/api/login", json={"username": "mira", "password": "guess"}
                           ).status_code == 401
    assert client.post("/admin/api/login", json={"username": "mira",
                                                  "password": STAFF_PASSWORD}).status_code == 429
    # Another account is not held up by guesses on this one.
    assert client.post("/admin/api/login", json={"username": "kasir1",
                                                  "password": STAFF_PASSWORD}).status_code == 200


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(app_factory: Any,
                                                              shops: Any) -> None:
    by_role = clients(app_factory)
    accounts = by_role["admin"].get("/admin/api/accounts").json()["data"]
    mira = next(a for a in accounts if a["username"] == "mira")
    changed = by_role["admin"].patch(f"/admin/api/accounts/{mira['id']}", json={"disabled": True})
    assert changed.json()["data"]["disabled"] is True
    assert by_role["manager"].get("/admin/api/session").status_code == 401
    again = by_role["manager"].post("/admin/api/login",
                                    json={"username": "mira", "password": STAFF_PASSWORD})
    assert again.status_code == 403
    assert again.json() == {"success": False, "message": "This account is disabled",
                            "error_code": "account_disabled"}


def test_changing_a_password_ends_only_that_accounts_sessions(app_factory: Any,
                                                             shops: Any) -> None:
    by_role = clients(app_factory)
    second = login(by_role["admin"].client, "mira")
    changed = by_role["manager"].post("/admin/api/password", json={
        "current_password": STAFF_PASSWORD, "new_password": "a new staff password"})
    assert changed.status_code == 200
    assert by_role["manager"].get("/admin/api/session").status_code == 200  # the new session
    assert second.get("/admin/api/session").status_code == 401
    assert by_role["cashier"].get("/admin/api/session").status_code == 200
    assert by_role["admin"].get("/admin/api/session").status_code == 200
    mira = by_role["manager"].get("/admin/api/session").json()["account"]["id"]
    password = by_role["admin"].post(f"/admin/api/accounts/{mira}/password").json()["password"]
    assert len(password) >= 12
    assert by_role["manager"].get("/admin/api/session").status_code == 401
    login(by_role["admin"].client, "mira", password)


def test_accounts_are_managed_from_the_dashboard(app_factory: Any, shops: Any) -> None:
    own, other = shops
    admin = clients(app_factory)["admin"]
    made = admin.post("/admin/api/accounts", json={"username": "Budi", "role": "cashier",
                                                   "merchant_ids": [other.id]})
    assert made.status_code == 200, made.text
    assert made.json()["data"] | {"id": 0, "created_at": ""} == {
        "id": 0, "username": "budi", "role": "cashier", "merchant_ids": [other.id],
        "disabled": False, "created_at": ""}
    budi = login(admin.client, "budi", made.json()["password"])
    assert budi.get("/admin/api/session").json()["account"]["merchants"] == [
        {"id": other.id, "name": "Toko Lain"}]
    refusals = {
        ("POST", "/admin/api/accounts", json.dumps({"username": "budi", "role": "cashier",
                                                    "merchant_ids": [own.id]})): 409,
        ("POST", "/admin/api/accounts", json.dumps({"username": "x y", "role": "cashier",
                                                    "merchant_ids": [own.id]})): 400,
        ("POST", "/admin/api/accounts", json.dumps({"username": "two", "role": "cashier",
                                                    "merchant_ids": [own.id, other.id]})): 400,
        ("POST", "/admin/api/accounts", json.dumps({"username": "none", "role": "manager",
                                                    "merchant_ids": []})): 400,
        ("POST", "/admin/api/accounts", json.dumps({"username": "ghost", "role": "manager",
                                                    "merchant_ids": [999]})): 400,
        ("POST", "/admin/api/accounts", json.dumps({"username": "boss", "role": "owner"})): 400,
        ("PATCH", "/admin/api/accounts/999", "{}"): 404,
        ("DELETE", "/admin/api/accounts/abc", "{}"): 404,
    }
    for (method, path, body), status in refusals.items():
        answer = admin.request(method, path, content=body,
                               headers={"Content-Type": "application/json"})
        assert answer.status_code == status, (method, path, body, answer.text)
        assert answer.json()["success"] is False
    promoted = admin.patch(f"/admin/api/accounts/{made.json()['data']['id']}",
                           json={"role": "manager", "merchant_ids": [own.id, other.id]})
    assert promoted.json()["data"]["merchant_ids"] == sorted([own.id, other.id])
    assert budi.get("/admin/api/session").status_code == 401  # a new role: log in again
    assert admin.delete(f"/admin/api/accounts/{made.json()['data']['id']}").status_code == 200
    assert [a["username"] for a in admin.get("/admin/api/accounts").json()["data"]] == [
        "admin", "mira", "kasir1"]


def test_the_last_admin_cannot_be_removed_disabled_or_demoted(app_factory: Any,
                                                             shops: Any) -> None:
    admin = clients(app_factory)["admin"]
    me = admin.get("/admin/api/session").json()["account"]["id"]
    for method, body in (("DELETE", None), ("PATCH", {"disabled": True}),
                         ("PATCH", {"role": "manager", "merchant_ids": [shops[0].id]})):
        refused = admin.request(method, f"/admin/api/accounts/{me}", json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error_code"] == "last_admin"
    second = admin.post("/admin/api/accounts", json={"username": "admin2", "role": "admin"})
    assert second.status_code == 200
    assert admin.delete(f"/admin/api/accounts/{me}").status_code == 200
    assert admin.get("/admin/api/session").status_code == 401


def test_the_audit_log_names_the_account(app_factory: Any, shops: Any, db_path: Path) -> None:
    own, _ = shops
    by_role = clients(app_factory)
    invoice = things_of(by_role["admin"], own, db_path)["invoice_id"]
    assert by_role["manager"].post(f"/admin/api/payments/{invoice}/confirm").status_code == 200
    everything = by_role["admin"].get("/admin/api/audit").json()["data"]
    confirm = next(entry for entry in everything if entry["action"] == "payment.confirm")
    assert confirm["actor"] == "mira" and confirm["target"] == invoice
    assert {(e["action"], e["actor"]) for e in everything} >= {
        ("admin.login", "admin"), ("admin.login", "mira"), ("admin.login", "kasir1"),
        ("payment.confirm", "mira")}
    own_entries = by_role["manager"].get("/admin/api/audit").json()["data"]
    assert {e["actor"] for e in own_entries} == {"mira"}
    assert {e["action"] for e in own_entries} == {"admin.login", "payment.confirm"}


# --- the upgrade ----------------------------------------------------------------------------


def test_the_admin_password_of_an_older_database_becomes_the_account_admin(
        db_path: Path, app_factory: Any) -> None:
    """A database as the release before accounts left it (its migrations only), with its
    admin password and an open dashboard session."""
    accounts = next(number for number, sql in enumerate(webqris.MIGRATIONS)
                    if "CREATE TABLE accounts" in sql)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations"
                 " (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
    for version, sql in enumerate(webqris.MIGRATIONS[:accounts], start=1):
        conn.executescript(f"BEGIN;{sql};INSERT INTO schema_migrations VALUES ({version}, 0);"
                           "COMMIT;")
    conn.execute("INSERT INTO settings VALUES ('admin_password', ?)",
                 (webqris.hash_password(ADMIN_PASSWORD),))
    token = "an-open-session-token"
    conn.execute("INSERT INTO admin_sessions VALUES (?, 'csrf', 0, ?)",
                 (webqris.hash_secret(token), webqris.now_ms() + 3_600_000))
    conn.execute("INSERT INTO audit_log (at, action, target) VALUES (0, 'admin.login', 'admin')")
    conn.close()

    client = app_factory()
    client.cookies.set("wq_session", token)
    session = client.get("/admin/api/session")
    assert session.status_code == 200  # the open session is the admin's now
    assert session.json()["account"]["username"] == "admin"
    assert session.json()["account"]["role"] == "admin"
    client.cookies.clear()
    assert client.post("/admin/api/login", json={"password": ADMIN_PASSWORD}).status_code == 200
    assert client.post("/admin/api/login", json={"username": "admin",
                                                  "password": ADMIN_PASSWORD}).status_code == 200
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT count(*) FROM settings WHERE key = 'admin_password'"
                            ).fetchone() == (0,)
        assert conn.execute("SELECT actor FROM audit_log ORDER BY id").fetchall() == [
            (None,), ("admin",), ("admin",)]
    finally:
        conn.close()


def test_a_new_database_gets_no_account_until_serve_makes_the_admin(db_path: Path) -> None:
    write(db_path, webqris.put_setting, "unrelated", "x")
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
    conn.close()


# --- the command line ---------------------------------------------------------------------------


def test_user_commands(db_path: Path, shops: tuple[Merchant, Merchant]) -> None:
    own, other = shops
    runner = CliRunner()
    db = ["--db", str(db_path)]

    added = runner.invoke(webqris.cli, ["user", "add", "Sari", "--role", "cashier",
                                        "--merchant", str(own.id), *db])
    assert added.exit_code == 0, added.output
    password = re.search(r"Password \(shown once\): (\S+)", added.output).group(1)
    conn = sqlite3.connect(db_path)
    stored = conn.execute("SELECT password_hash FROM accounts WHERE username = 'sari'"
                          ).fetchone()[0]
    conn.close()
    assert webqris.verify_password(password, stored) and password not in stored

    piped = runner.invoke(webqris.cli, ["user", "add", "joko", "--role", "manager",
                                        "--merchant", str(own.id), "--merchant", str(other.id),
                                        "--password-stdin", *db], input="joko's password\n")
    assert piped.exit_code == 0, piped.output
    assert "shown once" not in piped.output

    listed = json.loads(runner.invoke(webqris.cli, ["user", "list", "--json", *db]).output)
    assert [(a["username"], a["role"], a["merchant_ids"]) for a in listed] == [
        ("admin", "admin", []), ("mira", "manager", [own.id]), ("kasir1", "cashier", [own.id]),
        ("sari", "cashier", [own.id]), ("joko", "manager", sorted([own.id, other.id]))]
    plain = runner.invoke(webqris.cli, ["user", "list", *db]).output
    assert "joko\tmanager\tmerchants=" in plain and "admin\tadmin\tmerchants=all" in plain
    assert "scrypt" not in plain

    refused = runner.invoke(webqris.cli, ["user", "add", "kasir2", "--role", "cashier", *db])
    assert refused.exit_code == 1 and "exactly one merchant" in refused.output
    again = runner.invoke(webqris.cli, ["user", "add", "SARI", "--role", "admin", *db])
    assert again.exit_code == 1 and "exists already" in again.output

    changed = runner.invoke(webqris.cli, ["user", "set-password", "sari", *db],
                            input="a better password\n")
    assert changed.exit_code == 0, changed.output
    short = runner.invoke(webqris.cli, ["user", "set-password", "sari", *db], input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    assert runner.invoke(webqris.cli, ["user", "remove", "sari", *db]).exit_code == 0
    missing = runner.invoke(webqris.cli, ["user", "remove", "sari", *db])
    assert missing.exit_code == 1 and "no account named sari" in missing.output
    last = runner.invoke(webqris.cli, ["user", "remove", "admin", *db])
    assert last.exit_code == 1 and "last admin" in last.output

    conn = sqlite3.connect(db_path)
    try:
        audited = conn.execute("SELECT action, target, address, actor FROM audit_log"
                               " ORDER BY id").fetchall()
    finally:
        conn.close()
    assert audited == [("account.create", "account:sari", "command line", None),
                       ("account.create", "account:joko", "command line", None),
                       ("account.reset_password", "account:sari", "command line", None),
                       ("account.remove", "account:sari", "command line", None)]


def test_user_add_as_a_real_command_then_that_account_logs_in(db_path: Path, shops: Any,
                                                            server_factory: Any) -> None:
    own, _ = shops
    script = Path(sys.executable).parent / "webqris"
    command = [str(script)] if script.exists() else [sys.executable, str(ROOT / "webqris.py")]
    done = subprocess.run([*command, "user", "add", "dewi", "--role", "manager", "--merchant",
                           str(own.id), "--db", str(db_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    password = re.search(r"Password \(shown once\): (\S+)", done.stdout).group(1)
    server = server_factory(db_path)
    with httpx.Client(base_url=server.base_url) as http:
        assert http.post("/admin/api/login", json={"username": "dewi", "password": password}
                         ).status_code == 200
        assert http.get("/admin/api/session").json()["account"]["role"] == "manager"


# --- the live socket ----------------------------------------------------------------------------


def ws_url(server: Any, path: str) -> str:
    return server.base_url.replace("http://", "ws://") + path


async def events_within(ws: Any, seconds: float) -> list[dict]:
    seen = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
    return seen


def test_each_accounts_socket_hears_only_its_shops(db_path: Path, shops: Any,
                                                   server_factory: Any) -> None:
    own, other = shops
    server = server_factory(db_path)

    def cookie(username: str, password: str = STAFF_PASSWORD) -> str:
        answer = httpx.post(f"{server.base_url}/admin/api/login",
                            json={"username": username, "password": password})
        assert answer.status_code == 200
        return f"wq_session={answer.cookies['wq_session']}"

    cookies = {"admin": cookie("admin", ADMIN_PASSWORD), "manager": cookie("mira"),
               "cashier": cookie("kasir1")}

    async def main() -> dict[str, list[dict]]:
        sockets = {role: await connect(ws_url(server, "/ws"), origin=server.base_url,
                                       additional_headers={"Cookie": value})
                   for role, value in cookies.items()}
        try:
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                for merchant in (other, own):
                    created = (await http.post("/api/payments/qris/create",
                                               json={"amount": 25000},
                                               headers=merchant.auth)).json()
                    await http.post("/api/callback/notify",
                                    json={"amount": created["total_amount"]},
                                    headers={"X-Callback-Key": merchant.callback_secret})
                    await http.post("/api/callback/notify", json={"amount": 7},
                                    headers={"X-Callback-Key": merchant.callback_secret})
            return {role: await events_within(ws, 1.0) for role, ws in sockets.items()}
        finally:
            for ws in sockets.values():
                await ws.close()

    heard = asyncio.run(main())
    names = {role: {(e["event"], e["data"].get("merchant_name")) for e in events}
             for role, events in heard.items()}
    assert ("payment_paid", "Toko Lain") in names["admin"]
    assert ("payment_paid", "Toko Sendiri") in names["admin"]
    assert ("notification_needs_attention", "Toko Lain") in names["admin"]
    assert ("payment_paid", "Toko Sendiri") in names["manager"]
    assert ("notification_needs_attention", "Toko Sendiri") in names["manager"]
    assert ("payment_paid", "Toko Sendiri") in names["cashier"]
    for role in ("manager", "cashier"):
        assert all(name != "Toko Lain" for _, name in names[role]), names[role]
        new = [e for e in heard[role] if e["event"] == "new_payment"]
        assert len(new) == 1, heard[role]
    # A cashier hears payments, not the inbox (whatever the phone showed).
    assert all(event != "notification_needs_attention" for event, _ in names["cashier"])


def test_a_reset_password_closes_that_accounts_socket_within_a_second(
        db_path: Path, shops: Any, server_factory: Any) -> None:
    server = server_factory(db_path)
    with httpx.Client(base_url=server.base_url) as admin, \
            httpx.Client(base_url=server.base_url) as manager:
        csrf = admin.post("/admin/api/login", json={"password": ADMIN_PASSWORD}).json()
        admin.headers["X-CSRF-Token"] = csrf["csrf_token"]
        assert manager.post("/admin/api/login", json={"username": "mira",
                                                      "password": STAFF_PASSWORD}
                            ).status_code == 200
        mira = next(a for a in admin.get("/admin/api/accounts").json()["data"]
                    if a["username"] == "mira")

        async def main() -> tuple[float, int, bool]:
            def socket(client: httpx.Client) -> Any:
                return connect(ws_url(server, "/ws"), origin=server.base_url,
                               additional_headers={
                                   "Cookie": f"wq_session={client.cookies['wq_session']}"})
            async with socket(manager) as theirs, socket(admin) as mine:
                await theirs.send("ping")
                await theirs.recv()
                started = time.monotonic()
                await asyncio.to_thread(admin.post, f"/admin/api/accounts/{mira['id']}/password")
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(1.0):
                        while True:
                            await theirs.recv()
                await mine.send("ping")
                still_open = json.loads(await mine.recv())["event"] == "pong"
                return time.monotonic() - started, closed.value.rcvd.code, still_open

        took, code, admin_still_open = asyncio.run(main())
    assert took < 1.0 and code == 1008
    assert admin_still_open


# --- the dashboard in Chromium ------------------------------------------------------------------


def test_admin_adds_a_cashier_who_then_sees_only_its_shop(
        pages: Pages,  # noqa: F811 (the fixture imported above)
        db_path: Path, shops: tuple[Merchant, Merchant], server_factory: Any,
        tmp_path: Path) -> None:
    own, other = shops
    server = server_factory(db_path)
    invoices = {}
    for merchant in (own, other):
        answer = httpx.post(f"{server.base_url}/api/payments/qris/create",
                            json={"amount": 25000}, headers=merchant.auth, timeout=10)
        invoices[merchant.name] = answer.json()["invoice_id"]

    admin = pages.open()
    admin.goto(server.base_url + "/")
    expect(admin.locator("#login-username")).to_have_value("admin")
    admin.fill("#login-password", ADMIN_PASSWORD)
    admin.click("#login-submit")
    expect(admin.locator(".nav-link[data-route=accounts]")).to_be_visible()
    admin.click(".nav-link[data-route=accounts]")
    expect(admin.locator("#view h1")).to_have_text("Akun")
    expect(admin.locator("tr[data-account=mira]")).to_contain_text("Pengelola toko")
    admin.click("[data-testid=account-new]")
    admin.fill("#account-username", "sari")
    admin.select_option("#account-role", "cashier")
    admin.check(f"#account-shop-{own.id}")
    admin.click("[data-testid=dialog-confirm]")
    password = admin.locator("[data-testid=secret-password]").inner_text()
    assert len(password) >= 12
    admin.click("[data-testid=dialog-confirm]")
    row = admin.locator("tr[data-account=sari]")
    expect(row).to_contain_text("Kasir")
    expect(row).to_contain_text("Toko Sendiri")
    expect(row.get_by_role("button", name="Atur ulang kata sandi sari")).to_be_visible()

    cashier = pages.open(PHONE_390)
    cashier.goto(server.base_url + "/")
    cashier.fill("#login-username", "sari")
    cashier.fill("#login-password", password)
    cashier.click("#login-submit")
    expect(cashier.locator("#view h1")).to_have_text("Tagihan")
    expect(cashier.locator(".nav-link")).to_have_count(1)
    expect(cashier.locator(f"tr[data-invoice='{invoices['Toko Sendiri']}']")).to_be_visible()
    expect(cashier.locator(f"tr[data-invoice='{invoices['Toko Lain']}']")).to_have_count(0)
    cashier.screenshot(path=str(tmp_path / "cashier.png"))
    cashier.goto(server.base_url + "/#/merchants")  # not offered; the payments again
    expect(cashier.locator("#view")).to_have_attribute("data-view", "payments")

    cashier.click("#my-password")
    cashier.fill("#pw-current", password)
    cashier.fill("#pw-new", "sari's own password")
    cashier.fill("#pw-repeat", "sari's own password")
    cashier.click("[data-testid=dialog-confirm]")
    expect(cashier.locator(".toast")).to_contain_text("Kata sandi diganti.")
    cashier.reload()  # the new session carries on
    expect(cashier.locator("#view h1")).to_have_text("Tagihan")
    assert httpx.post(f"{server.base_url}/admin/api/login", json={
        "username": "sari", "password": "sari's own password"}).status_code == 200


def test_a_shop_manager_opens_the_alerts_page_of_its_own_shops_only(
        pages: Pages,  # noqa: F811 (the fixture imported above)
        db_path: Path, shops: tuple[Merchant, Merchant], server_factory: Any) -> None:
    """Both shops have their own Telegram and a test alert each, and the installation an alert
    of its own (replication lag): the manager of one shop reads and changes only that shop's
    settings and alerts, whatever shop the address names."""
    own, other = shops
    server = server_factory(db_path, env={  # the alerts go to a closed port, and fail
        "WEBQRIS_ALERTS_TELEGRAM_API_BASE": "http://127.0.0.1:9",
        "WEBQRIS_ALERTS_POLL_SECONDS": "0.05"})
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        admin = login(http, "admin", ADMIN_PASSWORD)
        for merchant, chat in ((own, "-1001111111111"), (other, "-1002222222222")):
            settings = f"/admin/api/merchants/{merchant.id}/alerts"
            assert admin.patch(settings, json={
                "telegram_bot_token": "123456789:AAExampleBotTokenOfEachShop_xyz",
                "telegram_chat_id": chat}).status_code == 200
            assert admin.post(f"{settings}/test").status_code == 200
        conn = sqlite3.connect(db_path)
        with conn:
            conn.execute("INSERT INTO alerts (merchant_id, kind, channel, language, facts,"
                         " state, next_attempt_at, created_at) VALUES (NULL,"
                         " 'replication_lag', 'telegram', 'id', '{\"lag_seconds\": 90}',"
                         " 'failed', 0, 0)")
        conn.close()
        everyone = admin.get("/admin/api/alerts").json()["data"]
        assert sorted(a["merchant_id"] or 0 for a in everyone) == [0, own.id, other.id]

        manager = login(http, "mira")
        mine = manager.get("/admin/api/alerts").json()["data"]
        assert [(a["merchant_id"], a["kind"]) for a in mine] == [(own.id, "test")]
        assert manager.get(f"/admin/api/merchants/{own.id}/alerts").json()["data"][
            "telegram_chat_id"] == "-1001111111111"
        foreign = f"/admin/api/merchants/{other.id}/alerts"
        for answer in (manager.get(foreign),
                       manager.get(f"/admin/api/alerts?merchant_id={other.id}"),
                       manager.patch(foreign, json={"telegram_chat_id": "-1003333333333"}),
                       manager.post(f"{foreign}/test")):
            assert answer.status_code == 404 and answer.json()["success"] is False
        assert admin.get(foreign).json()["data"]["telegram_chat_id"] == "-1002222222222"
        assert len(admin.get("/admin/api/alerts").json()["data"]) == 3  # no test was queued

    page = pages.open()
    page.goto(server.base_url + "/")
    page.fill("#login-username", "mira")
    page.fill("#login-password", STAFF_PASSWORD)
    page.click("#login-submit")
    expect(page.locator(".nav-link[data-route=alerts]")).to_be_visible()
    page.goto(f"{server.base_url}/#/alerts?merchant={other.id}")  # another shop's address
    expect(page.locator("#view h1")).to_have_text("Peringatan")
    expect(page.locator("#al-shop option")).to_have_text(["Toko Sendiri"])
    expect(page.locator("#al-chat-id")).to_have_value("-1001111111111")
    expect(page.locator(".alert-row")).to_have_count(1)
    expect(page.locator(".alert-row")).to_have_attribute("data-kind", "test")
    assert "Toko Lain" not in page.content() and "-1002222222222" not in page.content()


def test_only_the_admin_chooses_where_the_server_connects(
        app_factory: Any, shops: Any, db_path: Path,
        pages: Pages,  # noqa: F811 (the fixture imported above)
        server_factory: Any) -> None:
    """The server POSTs to a webhook URL and shows the first bytes of each answer: a shop
    manager who could set it would read what the server reaches (its loopback, its private
    network). So does the SMTP server of a shop's alerts (the refusal of any host and port). A
    manager keeps every other setting of its shop, and its forms may send those back unchanged."""
    own, _ = shops
    by_role = clients(app_factory)
    manager, admin = by_role["manager"], by_role["admin"]
    path = f"/admin/api/merchants/{own.id}"
    for url in ("http://127.0.0.1:22/", None):
        refused = manager.patch(path, json={"webhook_url": url, "name": "Toko Baru"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_code"] == "webhook_url_admin_only"

    def shown(dashboard: Dashboard) -> dict:
        return next(m for m in dashboard.get("/admin/api/merchants").json()["data"]
                    if m["id"] == own.id)

    assert shown(admin)["name"] == "Toko Sendiri"  # nothing of the refused change was saved
    kept = manager.patch(path, json={"webhook_url": "http://127.0.0.1:9/hook",
                                     "name": "Toko Baru"})
    assert kept.status_code == 200, kept.text
    assert admin.patch(path, json={"webhook_url": "http://127.0.0.1:8/hook"}).status_code == 200
    assert (shown(admin)["webhook_url"], shown(admin)["name"]) == ("http://127.0.0.1:8/hook",
                                                                   "Toko Baru")
    # The same holds for the mail server a shop's alerts go through.
    alerts = f"/admin/api/merchants/{own.id}/alerts"
    for server_change in ({"smtp_host": "127.0.0.1"}, {"smtp_port": 22}):
        refused = manager.patch(alerts, json={**server_change, "smtp_to": "pemilik@toko.example"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_code"] == "smtp_server_admin_only"
    assert manager.patch(alerts, json={"smtp_host": None, "smtp_to": "pemilik@toko.example"}
                         ).status_code == 200
    assert admin.patch(alerts, json={"smtp_host": "mail.toko.example", "smtp_port": 587}
                       ).status_code == 200

    server = server_factory(db_path)
    page = pages.open()
    page.goto(server.base_url + "/")
    page.fill("#login-username", "mira")
    page.fill("#login-password", STAFF_PASSWORD)
    page.click("#login-submit")
    page.goto(f"{server.base_url}/#/merchants/{own.id}")
    expect(page.locator("#m-webhook")).to_have_value("http://127.0.0.1:8/hook")
    expect(page.locator("#m-webhook")).to_have_attribute("readonly", "")
    expect(page.locator("#m-webhook-help")).to_contain_text("Hanya admin")
    page.fill("#m-name", "Toko Sendiri")
    page.keyboard.press("Enter")  # the form saves the name; the URL goes back unchanged
    expect(page).to_have_url(re.compile(r"#/merchants$"))
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert shown(login(http, "admin", ADMIN_PASSWORD))["name"] == "Toko Sendiri"
    page.goto(f"{server.base_url}/#/alerts?merchant={own.id}")
    expect(page.locator("#al-smtp-host")).to_have_value("mail.toko.example")
    expect(page.locator("#al-smtp-host")).to_have_attribute("readonly", "")
    expect(page.locator("#al-smtp-server-help")).to_contain_text("Hanya admin")
    # The rest of the group goes with that server only (alert_routes): the page says so.
    expect(page.locator("#al-smtp-own-help")).to_contain_text("hanya dipakai bersama server ini")
    page.fill("#al-smtp-to", "kasir@toko.example")
    page.locator("#al-smtp-to").press("Enter")  # saves: the server stays the admin's
    # (The shop form's "Perubahan disimpan." may still show beside it.)
    expect(page.locator(".toast", has_text="Pengaturan peringatan disimpan")).to_be_visible()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        saved = login(http, "admin", ADMIN_PASSWORD).get(alerts).json()["data"]
    assert (saved["smtp_to"], saved["smtp_host"]) == ("kasir@toko.example", "mail.toko.example")
