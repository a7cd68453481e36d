"""Teaching a wording, trusting an app and paying anyway, from the inbox's admin API, over the
real app and a real SQLite file; and `webqris parse --merchant` using the taught wordings."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Merchant, add_merchant
from starlette.testclient import TestClient
from test_admin import PASSWORD, audit_actions, create, set_password

import webqris
from parsers import taught

APP = "id.dana"
TITLE = "DANA"


def wording(amount: str, name: str = "BUDI SANTOSO") -> str:
    return f"Cuan mendarat! {amount} rupiah dari {name} sudah nongkrong di dompet toko"


def spans(note: dict, amount: str, name: str | None = None) -> dict:
    text = taught.shown_text(note["title"], note["message"])
    start = text.index(amount)
    marks = {"amount_span": [start, start + len(amount)]}
    if name:
        begin = text.index(name)
        marks["sender_span"] = [begin, begin + len(name)]
    return marks


@pytest.fixture
def admin(app_factory, merchant: Merchant, db_path: Path) -> TestClient:
    set_password(db_path)
    client = app_factory()
    response = client.post("/admin/api/login", json={"password": PASSWORD})
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def forward(client: TestClient, merchant: Merchant, message: str, app: str | None = APP,
            title: str = TITLE) -> dict:
    body = {"title": title, "message": message}
    if app is not None:
        body["app"] = app
    response = client.post("/api/webhook/payment", json=body,
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    return {"status": response.status_code, **response.json()}


def latest_note(client: TestClient) -> dict:
    return client.get("/admin/api/notifications?limit=1").json()["data"][0]


def status(client: TestClient, merchant: Merchant, invoice_id: str) -> str:
    return client.get(f"/api/payments/{invoice_id}/status",
                      headers=merchant.auth).json()["data"]["status"]


def test_a_taught_wording_pays_this_invoice_and_the_next_identical_wording_by_itself(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    first = create(admin, merchant, 25000)
    total = f"{first['total_amount']:,}".replace(",", ".")
    answer = forward(admin, merchant, wording(total))
    assert answer["status"] == 422  # no parser reads this wording
    note = latest_note(admin)
    assert note["outcome"] == "unparsed"

    preview = admin.post(f"/admin/api/notifications/{note['id']}/teach/preview",
                         json=spans(note, total, "BUDI SANTOSO"))
    assert preview.status_code == 200, preview.text
    assert preview.json()["data"] | {"template": None} == {
        "amount": first["total_amount"], "sender_name": "BUDI SANTOSO", "parser": "taught",
        "wording": "DANA Cuan mendarat! [amount] rupiah dari [name] sudah nongkrong di dompet"
                   " toko", "template": None}
    assert admin.get("/admin/api/wordings").json()["data"] == []  # a preview stores nothing

    taught_now = admin.post(f"/admin/api/notifications/{note['id']}/teach",
                            json=spans(note, total, "BUDI SANTOSO")
                            | {"invoice_id": first["invoice_id"]})
    assert taught_now.status_code == 200, taught_now.text
    assert taught_now.json()["data"]["status"] == "paid"
    assert status(admin, merchant, first["invoice_id"]) == "paid"
    paid_note = latest_note(admin)
    assert (paid_note["parsed_amount"], paid_note["sender_name"], paid_note["parser"],
            paid_note["invoice_id"]) == (first["total_amount"], "BUDI SANTOSO", "taught",
                                         first["invoice_id"])

    second = create(admin, merchant, 70000)
    other = f"{second['total_amount']:,}".replace(",", ".")
    answer = forward(admin, merchant, wording(other, "Siti Aminah"))
    assert answer == {"status": 200, "success": True, "invoice_id": second["invoice_id"],
                      "parsed_amount": second["total_amount"], "sender_name": "Siti Aminah"}
    assert status(admin, merchant, second["invoice_id"]) == "paid"
    # Another app's identical text is not this wording: templates are per app.
    assert forward(admin, merchant, wording(other), app="com.bca")["status"] == 422

    listed = admin.get(f"/admin/api/wordings?merchant_id={merchant.id}").json()["data"]
    assert [(w["app"], w["notification_id"], w["merchant_name"]) for w in listed] == \
        [(APP, note["id"], merchant.name)]
    actions = [a[0] for a in audit_actions(db_path)]
    assert actions[-2:] == ["wording.teach", "notification.attach"]


def test_teaching_without_an_invoice_gives_the_notification_its_amount_to_attach_later(
        admin: TestClient, merchant: Merchant) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    response = admin.post(f"/admin/api/notifications/{note['id']}/teach",
                          json=spans(note, "12.345"))
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["parsed"] == {"amount": 12345, "sender_name": None,
                                         "parser": "taught"}
    waiting = admin.get("/admin/api/notifications?outcome=needs_attention").json()["data"]
    assert [(n["outcome"], n["parsed_amount"]) for n in waiting] == [("unmatched", 12345)]
    again = admin.post(f"/admin/api/notifications/{note['id']}/teach", json=spans(note, "12.345"))
    assert again.status_code == 409
    assert again.json()["error_code"] == "notification_not_teachable"


def test_a_taught_outgoing_wording_is_refused_and_nothing_is_stored(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    forward(admin, merchant, "Kamu mengirim Rp25.042 ke BUDI SANTOSO")
    note = latest_note(admin)
    assert note["outcome"] == "unparsed"
    for path in ("teach/preview", "teach"):
        response = admin.post(f"/admin/api/notifications/{note['id']}/{path}",
                              json=spans(note, "Rp25.042"))
        assert response.status_code == 422
        body = response.json()
        assert body["success"] is False and body["error_code"] == "wording_refused"
        assert body["error_details"] == {"reason": "noise"}
        assert "going out" in body["message"]
    assert admin.get("/admin/api/wordings").json()["data"] == []
    assert "wording.teach" not in [a[0] for a in audit_actions(db_path)]


@pytest.mark.parametrize("body", [
    {}, {"amount_span": "0-5"}, {"amount_span": [0, 10**30]}, {"amount_span": [True, 5]},
    {"amount_span": [3, 1]}, {"amount_span": [15, 21], "sender_span": {"a": 1}},
])
def test_bad_marks_are_a_clear_4xx(admin: TestClient, merchant: Merchant, body: dict) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    response = admin.post(f"/admin/api/notifications/{note['id']}/teach/preview", json=body)
    assert response.status_code == 422
    assert response.json()["success"] is False and response.json()["message"]


def test_a_failed_payment_undoes_the_whole_teaching(admin: TestClient, merchant: Merchant,
                                                     db_path: Path) -> None:
    invoice = create(admin, merchant, 25000)
    forward(admin, merchant, wording("10.000"))
    note = latest_note(admin)
    mismatch = admin.post(f"/admin/api/notifications/{note['id']}/teach",
                          json=spans(note, "10.000") | {"invoice_id": invoice["invoice_id"]})
    assert mismatch.status_code == 409
    assert mismatch.json()["error_code"] == "amount_mismatch"
    assert admin.get("/admin/api/wordings").json()["data"] == []
    assert latest_note(admin)["outcome"] == "unparsed"
    assert status(admin, merchant, invoice["invoice_id"]) == "pending"
    anyway = admin.post(f"/admin/api/notifications/{note['id']}/teach",
                        json=spans(note, "10.000") | {"invoice_id": invoice["invoice_id"],
                                                      "confirm_amount_mismatch": True})
    assert anyway.status_code == 200
    assert status(admin, merchant, invoice["invoice_id"]) == "paid"


def test_only_unreadable_phone_notifications_can_teach(admin: TestClient,
                                                       merchant: Merchant) -> None:
    forward(admin, merchant, "Kamu berhasil menerima Rp25.042 dari JOHN DOE")
    note = latest_note(admin)
    response = admin.post(f"/admin/api/notifications/{note['id']}/teach/preview",
                          json={"amount_span": [0, 3]})
    assert response.status_code == 409
    assert admin.post("/admin/api/notifications/999/teach/preview",
                      json={"amount_span": [0, 3]}).status_code == 404
    assert admin.post("/admin/api/notifications/x/teach", json={}).status_code == 404


def test_teaching_needs_the_admin_and_its_csrf_token(admin: TestClient, merchant: Merchant) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    token = admin.headers.pop("X-CSRF-Token")
    assert admin.post(f"/admin/api/notifications/{note['id']}/teach",
                      json=spans(note, "12.345")).status_code == 403
    assert admin.delete("/admin/api/wordings/1").status_code == 403
    admin.headers["X-CSRF-Token"] = token
    admin.post("/admin/api/logout")
    assert admin.get("/admin/api/wordings").status_code == 401


def test_deleting_a_wording_is_audited_and_stops_it_reading(admin: TestClient,
                                                            merchant: Merchant,
                                                            db_path: Path) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    admin.post(f"/admin/api/notifications/{note['id']}/teach", json=spans(note, "12.345"))
    wording_id = admin.get("/admin/api/wordings").json()["data"][0]["id"]
    assert forward(admin, merchant, wording("5.000"))["status"] == 404  # read, no invoice
    assert admin.delete(f"/admin/api/wordings/{wording_id}").status_code == 200
    assert admin.delete(f"/admin/api/wordings/{wording_id}").status_code == 404
    assert forward(admin, merchant, wording("6.000"))["status"] == 422
    action, target, before, after = audit_actions(db_path)[-1]
    assert (action, target, after) == ("wording.delete", f"merchant:{merchant.id}", None)
    assert json.loads(before)["wording"].startswith("DANA Cuan mendarat! [amount]")


def test_wordings_are_per_merchant(admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    other = add_merchant(db_path, "Toko Lain")
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    admin.post(f"/admin/api/notifications/{note['id']}/teach", json=spans(note, "12.345"))
    assert forward(admin, other, wording("5.000"))["status"] == 422
    assert admin.get(f"/admin/api/wordings?merchant_id={other.id}").json()["data"] == []


# --- pay anyway --------------------------------------------------------------------------------


def test_attaching_to_an_invoice_of_another_total_needs_pay_anyway(
        admin: TestClient, merchant: Merchant, db_path: Path) -> None:
    invoice = create(admin, merchant, 40000)
    forward(admin, merchant, "Kamu berhasil menerima Rp40.000 dari ANI")
    note = latest_note(admin)
    refused = admin.post(f"/admin/api/notifications/{note['id']}/attach",
                         json={"invoice_id": invoice["invoice_id"]})
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "amount_mismatch"
    assert refused.json()["error_details"] == {"notification_amount": 40000,
                                               "invoice_total": invoice["total_amount"]}
    assert status(admin, merchant, invoice["invoice_id"]) == "pending"
    for not_a_yes in ("true", 1):
        response = admin.post(f"/admin/api/notifications/{note['id']}/attach",
                              json={"invoice_id": invoice["invoice_id"],
                                    "confirm_amount_mismatch": not_a_yes})
        assert response.status_code == 400
    anyway = admin.post(f"/admin/api/notifications/{note['id']}/attach",
                        json={"invoice_id": invoice["invoice_id"],
                              "confirm_amount_mismatch": True})
    assert anyway.status_code == 200
    action, target, before, after = audit_actions(db_path)[-1]
    assert (action, target) == ("notification.attach", invoice["invoice_id"])
    assert json.loads(before) == {"notification_id": note["id"], "notification_amount": 40000,
                                  "invoice_total": invoice["total_amount"]}
    assert json.loads(after)["amount_mismatch_confirmed"] is True


# --- trust this app -----------------------------------------------------------------------------


def test_trusting_an_app_makes_its_next_notification_pay(admin: TestClient, merchant: Merchant,
                                                         db_path: Path) -> None:
    admin.patch(f"/admin/api/merchants/{merchant.id}", json={"accepted_apps": [APP]})
    invoice = create(admin, merchant, 30000)
    total = f"{invoice['total_amount']:,}".replace(",", ".")
    message = f"Kamu berhasil menerima Rp{total} dari ANI"
    refused = forward(admin, merchant, message, app="com.bank.baru")
    assert (refused["status"], refused["app_accepted"]) == (404, False)
    note = latest_note(admin)
    assert note["app_not_accepted"] is True
    trusted = admin.post(f"/admin/api/notifications/{note['id']}/trust-app")
    assert trusted.status_code == 200
    assert trusted.json()["app"] == "com.bank.baru"
    assert "com.bank.baru" in trusted.json()["accepted_apps"]
    action, target, before, after = audit_actions(db_path)[-1]
    assert (action, target) == ("merchant.trust_app", f"merchant:{merchant.id}")
    assert "com.bank.baru" not in json.loads(before)["accepted_apps"]
    assert "com.bank.baru" in json.loads(after)["accepted_apps"]
    # Trusting it again changes nothing and audits nothing more.
    audited = len(audit_actions(db_path))
    assert admin.post(f"/admin/api/notifications/{note['id']}/trust-app").status_code == 200
    assert len(audit_actions(db_path)) == audited
    # The refused one still waits to be attached; the next one from that app pays by itself.
    paid = forward(admin, merchant, message.replace("ANI", "BUDI"), app="com.bank.baru")
    assert paid["invoice_id"] == invoice["invoice_id"]


def test_only_a_notification_refused_for_its_app_can_trust_it(admin: TestClient,
                                                               merchant: Merchant) -> None:
    forward(admin, merchant, "Kamu berhasil menerima Rp1.000 dari ANI")
    note = latest_note(admin)
    response = admin.post(f"/admin/api/notifications/{note['id']}/trust-app")
    assert response.status_code == 409
    assert response.json()["error_code"] == "app_already_trusted"
    assert admin.post("/admin/api/notifications/404/trust-app").status_code == 404


@pytest.mark.parametrize("app", ["com.google.android.gm", "com.whatsapp", "com.truecaller",
                                 "com.shopee.id"])
def test_a_mail_chat_or_shop_app_cannot_be_trusted_from_the_inbox(
        admin: TestClient, merchant: Merchant, db_path: Path, app: str) -> None:
    """Anybody can mail or message the shop: one click in the inbox must not make that a way to
    mark orders paid. The merchant's settings still can, with the risk spelled out."""
    forward(admin, merchant, "Kamu berhasil menerima Rp1.000 dari ANI", app=app)
    note = latest_note(admin)
    assert note["app_not_accepted"] is True and note["app_kind"] is not None
    response = admin.post(f"/admin/api/notifications/{note['id']}/trust-app")
    assert response.status_code == 409
    assert response.json()["error_code"] == "not_a_payment_app"
    assert admin.get("/admin/api/merchants").json()["data"][0]["accepted_apps"] == []
    assert "merchant.trust_app" not in [a[0] for a in audit_actions(db_path)]


# --- the CLI ------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "webqris.py"), *args], capture_output=True,
                          text=True, timeout=60)


def test_parse_with_a_merchant_uses_its_taught_wordings(admin: TestClient, merchant: Merchant,
                                                        db_path: Path) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    admin.post(f"/admin/api/notifications/{note['id']}/teach",
               json=spans(note, "12.345", "BUDI SANTOSO"))
    args = ["parse", "--app", APP, "--title", TITLE, "--message", wording("8.000", "ANI")]
    without = run_cli(*args)
    assert (without.returncode, json.loads(without.stdout)["amount"]) == (1, None)
    taught_run = run_cli(*args, "--merchant", str(merchant.id), "--db", str(db_path))
    assert taught_run.returncode == 0, taught_run.stderr
    assert json.loads(taught_run.stdout) == {"amount": 8000, "sender_name": "ANI",
                                             "parser": "taught", "trusted": True,
                                             "reason": None}
    # Wordings are per app; and trust is the merchant's: an app it does not trust is read but
    # would not pay, until the merchant accepts it.
    chat = ["parse", "--app", "com.example.chat", "--message", "Kamu berhasil menerima Rp8.000",
            "--merchant", str(merchant.id), "--db", str(db_path)]
    assert json.loads(run_cli(*chat[:3], "--title", TITLE, "--message", wording("8.000"),
                              *chat[5:]).stdout)["amount"] is None
    refused = json.loads(run_cli(*chat).stdout)
    assert (refused["amount"], refused["trusted"]) == (8000, False) and refused["reason"]
    admin.patch(f"/admin/api/merchants/{merchant.id}", json={"accepted_apps": ["com.example.chat"]})
    assert json.loads(run_cli(*chat).stdout)["trusted"] is True
    missing = run_cli(*args, "--merchant", "99", "--db", str(db_path))
    assert missing.returncode != 0 and "no merchant with id 99" in missing.stderr


def test_a_merchant_moves_to_another_installation_with_its_wordings(
        admin: TestClient, merchant: Merchant, db_path: Path, tmp_path: Path) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    admin.post(f"/admin/api/notifications/{note['id']}/teach",
               json=spans(note, "12.345", "BUDI SANTOSO"))
    admin.patch(f"/admin/api/merchants/{merchant.id}",
                json={"accepted_apps": ["com.example.kasir"], "accept_unnamed_app": True})
    exported = run_cli("merchant", "export", str(merchant.id), "--db", str(db_path))
    assert exported.returncode == 0, exported.stderr
    assert merchant.api_token not in exported.stdout
    assert merchant.callback_secret not in exported.stdout
    assert merchant.webhook_secret not in exported.stdout
    shop = json.loads(exported.stdout)
    assert shop["accepted_apps"] == ["com.example.kasir"] and shop["accept_unnamed_app"] is True
    assert [w["app"] for w in shop["taught_wordings"]] == [APP]

    elsewhere = tmp_path / "elsewhere.db"
    export_file = tmp_path / "shop.json"
    export_file.write_text(exported.stdout)
    imported = run_cli("merchant", "import", str(export_file), "--json", "--db", str(elsewhere))
    assert imported.returncode == 0, imported.stderr
    moved = json.loads(imported.stdout)
    assert moved["callback_secret"] != merchant.callback_secret
    # The new installation reads the taught wording and trusts what the old one trusted.
    args = ["parse", "--app", APP, "--title", TITLE, "--message", wording("8.000", "ANI"),
            "--merchant", str(moved["id"]), "--db", str(elsewhere)]
    assert json.loads(run_cli(*args).stdout)["parser"] == "taught"
    again = run_cli("merchant", "export", str(moved["id"]), "--db", str(elsewhere))
    assert json.loads(again.stdout) == shop
    with sqlite3.connect(elsewhere) as conn:
        actions = [row[0] for row in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["merchant.create", "wording.import"]

    # A broken file imports nothing, in plain words.
    broken = tmp_path / "broken.json"
    for content, words in (("{", "not JSON"), ('{"format": "x"}', "not a WebQRIS merchant"),
                           (json.dumps({**shop, "taught_wordings": [{"app": APP,
                                                                     "template": {"x": 1}}]}),
                            "taught wording 1")):
        broken.write_text(content)
        refused = run_cli("merchant", "import", str(broken), "--db", str(elsewhere))
        assert refused.returncode != 0 and words in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    with sqlite3.connect(elsewhere) as conn:
        assert conn.execute("SELECT count(*) FROM merchants").fetchone()[0] == 1


def test_the_migration_keeps_one_copy_of_a_wording(db_path: Path, merchant: Merchant) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    try:
        template = taught.derive_template("", "Ada saldo baru Rp5.000 untuk tokomu", (15, 22))
        first = store.write_now(webqris.insert_taught_wording, merchant.id, APP, template, None,
                                1, "test")
        again = store.write_now(webqris.insert_taught_wording, merchant.id, APP, template, None,
                                2, "test")
        assert first == (first[0], True) and again == (first[0], False)
    finally:
        store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM taught_wordings").fetchone()[0] == 1


def test_a_wording_outlives_the_notification_it_was_taught_from(admin: TestClient,
                                                                merchant: Merchant,
                                                                db_path: Path) -> None:
    forward(admin, merchant, wording("12.345"))
    note = latest_note(admin)
    admin.post(f"/admin/api/notifications/{note['id']}/teach", json=spans(note, "12.345"))
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        with conn:
            conn.execute("DELETE FROM notification_keys WHERE notification_id = ?", (note["id"],))
            conn.execute("DELETE FROM notifications WHERE id = ?", (note["id"],))
    finally:
        conn.close()
    assert [w["notification_id"] for w in admin.get("/admin/api/wordings").json()["data"]] \
        == [None]
    assert forward(admin, merchant, wording("5.000"))["status"] == 404  # read, no invoice
