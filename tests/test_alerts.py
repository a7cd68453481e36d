"""Alerts to the shop owner: a fake Telegram Bot API (a real HTTP server on loopback recording
sendMessage) and a real SMTP server (aiosmtpd) on loopback. Each kind arrives once, in the
owner's language, without a secret; a channel that is down is retried and shown failing;
twenty unmatched notifications in a minute are one message; a silent phone is alerted (and its
return), never outside opening hours; the daily recap says what the day held."""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import Merchant, add_merchant, free_port, make_config
from starlette.testclient import TestClient
from test_webhooks import query, wait_until

import webqris

PASSWORD = "kata sandi rahasia"
BOT_TOKEN = "123456789:AAExampleBotTokenThatMustNeverLeak_xyz"
CHAT_ID = "-1001234567890"
SMTP_PASSWORD = "smtp-password-never-shown"
BASE_URL = "https://bayar.tokoabc.example"
ZONE = webqris.local_zone("Asia/Jakarta")


# --- the fake channels ---------------------------------------------------------------------------


class FakeTelegram:
    """The Bot API's sendMessage on 127.0.0.1: records each message and answers with the next
    status of its plan, then 200 {"ok": true}."""

    def __init__(self, plan: list[int] | None = None) -> None:
        self.plan = list(plan or [])
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with fake.lock:
                    fake.paths.append(self.path)
                    status = fake.plan.pop(0) if fake.plan else 200
                    if status == 200:
                        fake.messages.append(json.loads(body))
                answer = ({"ok": True, "result": {}} if status == 200 else
                          {"ok": False, "error_code": status, "description": "Bad Gateway"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        with self.lock:
            return [message["text"] for message in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps every message delivered."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def texts(self) -> list[str]:
        return [m["Subject"] + "\n" + m.get_payload(decode=True).decode() for m in self.messages]


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    yield fake
    fake.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def alerts_section(telegram: FakeTelegram | None = None, smtp_port: int | None = None,
                   **overrides: Any) -> dict[str, Any]:
    """[alerts] with the fake channels and intervals fit for a test."""
    section: dict[str, Any] = {"poll_seconds": 0.05, "check_seconds": 0.05,
                               "group_seconds": 0.3, "retry_delays": (0.05, 0.05),
                               "timeout_seconds": 5.0}
    if telegram is not None:
        section.update(telegram_bot_token=BOT_TOKEN, telegram_chat_id=CHAT_ID,
                       telegram_api_base=telegram.base)
    if smtp_port is not None:
        section.update(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none",
                       smtp_from="webqris@tokoabc.example", smtp_to="pemilik@tokoabc.example",
                       smtp_password=SMTP_PASSWORD)
    return {**section, **overrides}


def start(app_factory: Callable[..., TestClient], db_path: Path, alerts: dict[str, Any],
          **sections: Any) -> TestClient:
    """A logged-in dashboard client of an app with these alert settings."""
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    store.close()
    sections.setdefault("server", {})
    sections["server"] = {"base_url": BASE_URL, **sections["server"]}
    client = app_factory(alerts=alerts, **sections)
    answer = client.post("/admin/api/login", json={"password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def unmatched(client: TestClient, merchant: Merchant, amount: int) -> None:
    answer = client.post("/api/callback/notify", json={"amount": amount},
                         headers={"X-Callback-Key": merchant.callback_secret})
    assert answer.status_code == 404, answer.text


def pay(client: TestClient, merchant: Merchant, amount: int = 25000) -> dict[str, Any]:
    invoice = client.post("/api/payments/qris/create", json={"amount": amount},
                          headers=merchant.auth).json()
    paid = client.post("/api/callback/notify", json={"amount": invoice["total_amount"]},
                       headers={"X-Callback-Key": merchant.callback_secret})
    assert paid.status_code == 200, paid.text
    return invoice


def heartbeat(client: TestClient, merchant: Merchant, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/webhook/heartbeat", json=body,
                         headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def queue_recap(client: TestClient, at_ms: int, recap_hour: int) -> int:
    """Runs the recap check as the server's loop does, at a chosen time and hour."""
    ctx = client.app.state.ctx
    alerts = webqris.dataclasses.replace(ctx.config.alerts, recap_hour=recap_hour)
    return client.portal.call(ctx.store.write, webqris.queue_due_recaps, at_ms, ZONE, alerts)


def secrets_of(merchant: Merchant) -> list[str]:
    return [BOT_TOKEN, SMTP_PASSWORD, merchant.api_token, merchant.callback_secret,
            merchant.webhook_secret]


# --- each kind, once, in the owner's language -------------------------------------------------


def test_each_kind_arrives_once_on_both_channels_in_indonesian_without_secrets(
        app_factory, db_path: Path, telegram: FakeTelegram, mailbox) -> None:
    box, smtp_port = mailbox
    failing = free_port()  # nothing listens there: every webhook attempt fails
    merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:{failing}/hook?token=x")
    client = start(app_factory, db_path, alerts_section(telegram, smtp_port),
                   admin={"device_silent_seconds": 1},
                   webhooks={"retry_delays": (0.05,)})
    turned_on = client.patch(f"/admin/api/merchants/{merchant.id}/alerts",
                             json={"kinds": {"payment": True}})
    assert turned_on.json()["data"]["kinds"]["payment"] is True

    unmatched(client, merchant, 31_337)
    invoice = pay(client, merchant)
    heartbeat(client, merchant, deviceName="HP Kasir")
    assert client.post(f"/admin/api/merchants/{merchant.id}/alerts/test").status_code == 200
    wait_until(lambda: any("HP diam" in t for t in telegram.texts()), what="the silent alert")
    heartbeat(client, merchant, deviceName="HP Kasir")
    wait_until(lambda: any("HP aktif lagi" in t for t in telegram.texts()), what="back")
    # The phone stays quiet from now on; its next silence is not this test's business.
    client.patch(f"/admin/api/merchants/{merchant.id}/alerts", json={"kinds": {"phone": False}})
    at = webqris.now_ms()
    hour = datetime.datetime.fromtimestamp(at / 1000 + 3600, ZONE).hour
    assert queue_recap(client, at + 7_200_000, hour) == 2  # one per channel

    markers = {"money": "Uang perlu perhatian · Toko ABC", "payment": "Pembayaran masuk",
               "webhook": "Webhook gagal · Toko ABC", "silent": "HP diam", "back": "HP aktif lagi",
               "test": "Tes peringatan", "recap": "Rekap harian"}
    for name, texts in (("Telegram", telegram.texts), ("e-mail", box.texts)):
        wait_until(lambda: all(any(m in t for t in texts()) for m in markers.values()),
                   what=f"every kind on {name}: {texts()}")
        time.sleep(0.5)  # anything sent twice would arrive by now
        sent = texts()
        for marker in markers.values():
            assert sum(marker in text for text in sent) == 1, (marker, sent)
        for text in sent:
            assert not any(secret in text for secret in secrets_of(merchant)), text
            assert "token=x" not in text  # a webhook URL's query is never repeated
    money = next(t for t in telegram.texts() if "Uang perlu perhatian" in t)
    assert "1 pembayaran masuk tidak cocok dengan tagihan mana pun" in money
    assert "Jumlah: Rp31.337" in money
    assert f"Buka kotak masuk: {BASE_URL}/#/notifications" in money
    paid = next(t for t in telegram.texts() if "Pembayaran masuk" in t)
    assert f"1 tagihan lunas: Rp{invoice['total_amount']:,}".replace(",", ".") in paid
    assert invoice["invoice_id"] in paid
    failed = next(t for t in telegram.texts() if "Webhook gagal" in t)
    assert "127.0.0.1" in failed and invoice["invoice_id"] in failed
    silent = next(t for t in telegram.texts() if "HP diam" in t)
    assert "HP HP Kasir" in silent and "WIB" in silent
    assert telegram.messages[0]["chat_id"] == CHAT_ID
    assert all(path == f"/bot{BOT_TOKEN}/sendMessage" for path in telegram.paths)
    mail = box.messages[0]
    assert (mail["From"], mail["To"]) == ("webqris@tokoabc.example", "pemilik@tokoabc.example")
    assert mail["Subject"].startswith("WebQRIS: ")

    def sent() -> list[dict[str, Any]]:
        return [a for a in client.get("/admin/api/alerts?limit=50").json()["data"]
                if a["state"] == "sent"]

    listed = wait_until(lambda: len(sent()) == 2 * len(markers) and sent(),
                        what="every alert recorded as sent")
    assert {a["channel"] for a in listed} == {"telegram", "email"}


def test_an_english_owner_gets_english_and_the_installation_language_stays_for_others(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    other = add_merchant(db_path, name="Warung Sebelah")
    client = start(app_factory, db_path, alerts_section(telegram, group_seconds=0.05))
    client.patch(f"/admin/api/merchants/{merchant.id}/alerts", json={"language": "en"})
    unmatched(client, merchant, 20_000)
    unmatched(client, other, 20_001)
    wait_until(lambda: len(telegram.texts()) == 2, what="two alerts")
    english = next(t for t in telegram.texts() if "Toko ABC" in t)
    indonesian = next(t for t in telegram.texts() if "Warung Sebelah" in t)
    assert "1 payment received matched no bill" in english and "Amount: Rp20.000" in english
    assert "Open the inbox:" in english
    assert "tidak cocok dengan tagihan" in indonesian


def test_a_merchants_own_telegram_chat_replaces_the_installations(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram))
    own_token = "987654321:AAShopOwnBotTokenThatMustNotLeak_abc"
    saved = client.patch(f"/admin/api/merchants/{merchant.id}/alerts", json={
        "telegram_bot_token": own_token, "telegram_chat_id": "55501"})
    data = saved.json()["data"]
    assert own_token not in saved.text
    assert data["telegram_bot_token"] == "••••_abc"
    assert data["channels"] == ["telegram"] and data["own_channels"] is True
    audit = client.get("/admin/api/audit").json()["data"][0]
    assert audit["action"] == "merchant.alerts" and own_token not in json.dumps(audit)
    # The fake answers for any token; a merchant's own bot goes to the same API base.
    client.post(f"/admin/api/merchants/{merchant.id}/alerts/test")
    wait_until(lambda: telegram.messages, what="the test alert")
    assert telegram.messages[0]["chat_id"] == "55501"
    assert telegram.paths == [f"/bot{own_token}/sendMessage"]


def test_the_test_button_mails_nobody_more_than_ten_times_an_hour(
        app_factory, db_path: Path, mailbox) -> None:
    """A shop's e-mail may go out through the installation's SMTP server, to recipients its
    manager names: the test button must not make that server mail anyone as often as clicked."""
    box, smtp_port = mailbox
    merchant, other = add_merchant(db_path), add_merchant(db_path, "Toko Lain")
    client = start(app_factory, db_path, alerts_section(None, smtp_port))
    strangers = ",".join(f"orang{i}@example.com" for i in range(5))
    assert client.patch(f"/admin/api/merchants/{merchant.id}/alerts",
                        json={"smtp_to": strangers}).status_code == 200
    test = f"/admin/api/merchants/{merchant.id}/alerts/test"
    for _ in range(webqris.TEST_ALERTS_PER_HOUR):
        assert client.post(test).status_code == 200
    refused = client.post(test)
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["success"] is False and "test alerts" in body["message"]
    assert 3500 < body["retry_after_seconds"] <= 3600
    # ... which the dashboard words in the owner's language from its code
    assert (body["error_code"], body["error_details"]) == (
        "test_alerts_too_often", {"count": webqris.TEST_ALERTS_PER_HOUR, "minutes": 60})
    # Another shop's button is its own.
    assert client.post(f"/admin/api/merchants/{other.id}/alerts/test").status_code == 200
    wait_until(lambda: len(box.messages) == webqris.TEST_ALERTS_PER_HOUR + 1,
               what="the test mails")
    time.sleep(0.3)  # a few poll intervals: nothing more goes out
    assert len(box.messages) == webqris.TEST_ALERTS_PER_HOUR + 1


def test_a_shop_on_the_installations_mail_server_only_names_its_recipient(
        app_factory, db_path: Path, mailbox) -> None:
    """Through the installation's SMTP server a shop's mail goes with the installation's
    settings: a manager's sender address, login or security are not mixed into them (a shop's
    "none" would send the installation's password unencrypted)."""
    box, smtp_port = mailbox
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(None, smtp_port))
    assert client.patch(f"/admin/api/merchants/{merchant.id}/alerts", json={
        "smtp_to": "kasir@tokoabc.example", "smtp_from": "direktur@bank.example",
        "smtp_user": "someone", "smtp_security": "tls"}).status_code == 200
    assert client.post(f"/admin/api/merchants/{merchant.id}/alerts/test").status_code == 200
    wait_until(lambda: len(box.messages) == 1, what="the test mail")
    [mail] = box.messages
    assert (mail["From"], mail["To"]) == ("webqris@tokoabc.example", "kasir@tokoabc.example")


def test_bad_alert_settings_are_refused_with_a_clear_400(app_factory, db_path: Path) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section())
    path = f"/admin/api/merchants/{merchant.id}/alerts"
    for body in ({"telegram_bot_token": "not a token"}, {"opening_hours": "9 to 5"},
                 {"smtp_to": "owner at example"}, {"smtp_port": 70000},
                 {"kinds": {"money": "yes"}}, {"kinds": {"weather": True}}, {"language": "de"}):
        answer = client.patch(path, json=body)
        assert answer.status_code == 400 and answer.json()["success"] is False, body
    refused = client.post(f"{path}/test")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "no_alert_channel")
    for missing in ("999", "abc"):
        answer = client.get(f"/admin/api/merchants/{missing}/alerts")
        assert (answer.status_code, answer.json()["error_code"]) == (404, "merchant_not_found")


def test_a_switched_off_kind_is_not_sent(app_factory, db_path: Path,
                                         telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram, group_seconds=0.05))
    client.patch(f"/admin/api/merchants/{merchant.id}/alerts", json={"kinds": {"money": False}})
    unmatched(client, merchant, 12_345)
    pay(client, merchant)  # a payment received is off by default
    client.post(f"/admin/api/merchants/{merchant.id}/alerts/test")
    wait_until(lambda: telegram.texts(), what="the test alert")
    time.sleep(0.4)
    assert len(telegram.texts()) == 1 and "Tes peringatan" in telegram.texts()[0]


# --- durable and calm -----------------------------------------------------------------------------


def test_a_channel_that_is_down_is_retried_then_shown_failing_without_its_token(
        app_factory, db_path: Path) -> None:
    down = FakeTelegram(plan=[502, 502, 502])
    try:
        merchant = add_merchant(db_path)
        client = start(app_factory, db_path, alerts_section(down, group_seconds=0.05))
        unmatched(client, merchant, 40_000)

        def failed() -> dict[str, Any] | None:
            rows = client.get("/admin/api/alerts").json()["data"]
            return rows[0] if rows and rows[0]["state"] == "failed" else None

        alert = wait_until(failed, what="the alert to fail")
        assert alert["attempts"] == 3 and len(alert["attempts_log"]) == 3
        assert all(a["error"] == "HTTP 502: Bad Gateway" for a in alert["attempts_log"])
        assert BOT_TOKEN not in json.dumps(alert)
        assert len(down.paths) == 3 and down.messages == []
    finally:
        down.close()


def test_a_channel_that_comes_back_gets_the_alert_on_a_retry(app_factory, db_path: Path) -> None:
    flaky = FakeTelegram(plan=[502])
    try:
        merchant = add_merchant(db_path)
        client = start(app_factory, db_path, alerts_section(flaky, group_seconds=0.05))
        unmatched(client, merchant, 40_000)
        wait_until(lambda: flaky.messages, what="the retried alert")
        alert = wait_until(lambda: next((a for a in client.get("/admin/api/alerts").json()["data"]
                                         if a["state"] == "sent"), None),
                           what="the alert recorded as sent")
        assert alert["attempts"] == 2
        assert alert["attempts_log"][0]["error"].startswith("HTTP 502")
        assert alert["attempts_log"][1]["error"] is None
    finally:
        flaky.close()


def test_an_alert_queued_before_a_restart_is_sent_after_it(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram, group_seconds=3600))
    unmatched(client, merchant, 55_555)  # waits an hour for its group
    client.__exit__(None, None, None)
    conn = webqris.connect(str(db_path))
    conn.execute("UPDATE alerts SET next_attempt_at = 0")
    conn.close()
    start(app_factory, db_path, alerts_section(telegram))
    wait_until(lambda: telegram.texts(), what="the alert after the restart")
    assert "Rp55.555" in telegram.texts()[0]


def test_twenty_unmatched_notifications_in_a_minute_give_one_alert_with_count_and_sum(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram, group_seconds=1.5))
    amounts = [10_000 + i for i in range(20)]
    for amount in amounts:
        unmatched(client, merchant, amount)
    wait_until(lambda: telegram.texts(), what="the grouped alert")
    time.sleep(0.5)
    assert len(telegram.texts()) == 1
    text = telegram.texts()[0]
    assert "20 pembayaran masuk tidak cocok dengan tagihan mana pun" in text
    assert "Jumlah: Rp" + f"{sum(amounts):,}".replace(",", ".") in text
    assert client.get("/admin/api/alerts").json()["data"][0]["count"] == 20


def test_the_second_apps_copy_of_a_payment_is_alerted_as_a_likely_copy(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    """GoPay Merchant and the GoPay app both post one payment: the owner still hears of the
    second (it could be a customer paying twice), told it is most likely no new money."""
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram))
    phone = {"Authorization": f"Bearer {merchant.callback_secret}"}
    invoice = client.post("/api/payments/qris/create", json={"amount": 25_000},
                          headers=merchant.auth).json()
    rp = "Rp" + f"{invoice['total_amount']:,}".replace(",", ".")
    assert client.post("/api/webhook/payment", headers=phone, json={
        "app": "com.gojek.gopaymerchant", "title": "Pembayaran diterima",
        "message": f"Pembayaran QRIS {rp}"}).status_code == 200
    assert client.post("/api/webhook/payment", headers=phone, json={
        "app": "com.gojek.gopay", "title": "GoPay",
        "message": f"Kamu menerima {rp} dari Budi via QRIS"}).status_code == 404
    money = wait_until(lambda: [t for t in telegram.texts() if "Uang perlu perhatian" in t],
                       what="the money alert")[0]
    assert "1 pembayaran masuk tidak cocok dengan tagihan mana pun" in money
    assert "1 di antaranya sepertinya salinan pembayaran yang sudah tercatat" in money
    unmatched(client, merchant, 77_000)  # other money: no such line
    other = wait_until(lambda: [t for t in telegram.texts() if "Rp77.000" in t],
                       what="the second money alert")[0]
    assert "salinan" not in other


def test_an_alert_never_delays_a_payment(app_factory, db_path: Path) -> None:
    """A Telegram that hangs holds the sender, never the API."""
    class Hangs(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(5)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    hanging = ThreadingHTTPServer(("127.0.0.1", 0), Hangs)
    threading.Thread(target=hanging.serve_forever, daemon=True).start()
    try:
        merchant = add_merchant(db_path)
        base = f"http://127.0.0.1:{hanging.server_address[1]}"
        client = start(app_factory, db_path, {**alerts_section(group_seconds=0),
                                              "telegram_bot_token": BOT_TOKEN,
                                              "telegram_chat_id": CHAT_ID,
                                              "telegram_api_base": base,
                                              "timeout_seconds": 3.0})
        unmatched(client, merchant, 1_000)
        time.sleep(0.2)  # the alert is being sent now, and hangs
        started = time.monotonic()
        pay(client, merchant)
        assert time.monotonic() - started < 1.0
    finally:
        hanging.shutdown()
        hanging.server_close()


# --- the phone heartbeat ----------------------------------------------------------------------


def test_heartbeat_accepts_every_spelling_of_the_secret_and_any_body(
        app_factory, db_path: Path) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section())
    secret = merchant.callback_secret
    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    answers = [
        client.post("/api/webhook/heartbeat", headers={"Authorization": f"Bearer {secret}"}),
        client.post("/api/webhook/heartbeat", headers={"X-API-Key": secret},
                    json={"deviceId": "android-1a2b"}),
        client.post(f"/api/webhook/heartbeat?token={secret}",
                    data={"device_mark": "Redmi Kasir"}),
        client.post("/api/webhook/heartbeat", headers={"Authorization": f"Basic {basic}"},
                    json={"device": {"model": "SM-A105"}}),
        client.post("/api/webhook/heartbeat", json={"secret": secret, "deviceName": "Oppo"}),
    ]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["device_id"] for a in answers] == [
        None, "android-1a2b", "Redmi Kasir", None, "Oppo"]
    assert answers[0].json()["merchant"] == "Toko ABC"
    wrong = client.post("/api/webhook/heartbeat", headers={"X-Callback-Key": "wqc_wrong"})
    assert wrong.status_code == 401 and wrong.json()["success"] is False
    devices = client.get("/admin/api/merchants").json()["data"][0]["devices"]
    assert {d["device_id"] for d in devices} == {"", "android-1a2b", "Redmi Kasir", "Oppo"}
    assert all(d["last_heartbeat_at"] and not d["silent"] for d in devices)


def devices_of(client: TestClient) -> dict[str, dict[str, Any]]:
    return {d["device_id"]: d for d in
            client.get("/admin/api/merchants").json()["data"][0]["devices"]}


def test_payhooks_heartbeat_counts_only_while_its_listener_reads_notifications(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    """PayHook's "Heartbeat Monitoring" (darmariduan/docs-payhook, index.html): JSON with
    `device_id` and `listener_connected`, its auth header (Bearer, X-API-Key or Basic
    base64(token)) and, when a secret is set, X-Payhook-Timestamp and X-Payhook-Signature. A
    phone whose listener is off still pings, but forwards nothing: it is alerted as silent."""
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram),
                   admin={"device_silent_seconds": 1})

    def ping(listening: bool, auth: dict[str, str]) -> dict[str, Any]:
        at = int(time.time() * 1000)
        answer = client.post("/api/webhook/heartbeat", json={
            "type": "heartbeat", "device_id": "ph-a1b2c3d4e5f6", "app_version": "1.5.0",
            "listener_connected": listening, "battery_optimized": False,
            "last_event_at": at - 120_000, "sent_at": at},
            headers={**auth, "User-Agent": "PayHook-Android/2.0",
                     "X-Payhook-Timestamp": str(at // 1000),
                     "X-Payhook-Signature": "sha256=" + "0" * 64})
        assert answer.status_code == 200, answer.text
        return answer.json()

    basic = base64.b64encode(merchant.callback_secret.encode()).decode()
    alive = ping(True, {"Authorization": f"Basic {basic}"})
    assert alive == {"success": True, "message": "Heartbeat diterima", "merchant": "Toko ABC",
                     "device_id": "ph-a1b2c3d4e5f6", "listening": True}
    heard = devices_of(client)["ph-a1b2c3d4e5f6"]["last_heartbeat_at"]
    assert heard is not None
    deaf = ping(False, {"X-API-Key": merchant.callback_secret})
    assert deaf["listening"] is False and "tidak dihitung aktif" in deaf["message"]
    deadline = time.monotonic() + 5
    while not telegram.texts():  # it keeps pinging, listener off, and is alerted all the same
        assert time.monotonic() < deadline, "no silent alert for a phone that reads nothing"
        ping(False, {"X-API-Key": merchant.callback_secret})
        time.sleep(0.1)
    assert "HP ph-a1b2c3d4e5f6 tidak mengirim notifikasi" in telegram.texts()[0]
    assert devices_of(client)["ph-a1b2c3d4e5f6"]["last_heartbeat_at"] == heard


def test_sms_gateway_for_androids_system_ping_is_a_heartbeat(app_factory, db_path: Path) -> None:
    """SMS Gateway for Android (capcom6/android-sms-gateway) sends a `system:ping` webhook every
    Settings -> Ping interval: its JSON envelope (WebHookEventDTO.kt: id, webhookId, event,
    deviceId, payload) with the health check (HealthResponse.kt). It cannot set a header, so
    the secret is in the registered URL; its own X-Signature is for its signing key."""
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section())
    ping = {"id": "Ey6ECgOkVVFjz3CL48B8C", "webhookId": "LreFUt-Z3sSq0JufY9uWB",
            "event": "system:ping", "deviceId": "PyDmBQZZXYmyxMwED8Fzy",
            "payload": {"health": {
                "status": "pass", "version": "1.40.0", "releaseId": 1400,
                "checks": {"battery:level": {"status": "pass", "observedValue": 85,
                                             "observedUnit": "percent",
                                             "description": "Battery level in percent"},
                           "connection:status": {"status": "pass", "observedValue": 1,
                                                 "observedUnit": "boolean",
                                                 "description": "Internet connection status"}}}}}
    answer = client.post(f"/api/webhook/heartbeat?token={merchant.callback_secret}",
                         content=json.dumps(ping),
                         headers={"Content-Type": "application/json; charset=UTF-8",
                                  "User-Agent": "me.capcom.smsgateway/1.40.0",
                                  "X-Timestamp": str(int(time.time())),
                                  "X-Signature": "ab" * 32})
    assert answer.status_code == 200, answer.text
    assert answer.json()["device_id"] == "PyDmBQZZXYmyxMwED8Fzy"
    assert devices_of(client)["PyDmBQZZXYmyxMwED8Fzy"]["last_heartbeat_at"] is not None


def test_fadzpays_heartbeat_is_heard_on_its_own_path_by_its_pin(app_factory,
                                                               db_path: Path) -> None:
    """fadzPay HeartBeat (Matsumiko/fadzPay, install_fadzpay_heartbeat.sh) POSTs to
    STATUS_BASE_URL + "/status/heartbeat" with its PIN in X-Forwarder-Pin, X-TS and an
    X-Signature of its own secret; the phone is `device.name`, and `forwarder.running` says
    whether the Termux forwarder still runs."""
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section())

    def ping(running: int) -> dict[str, Any]:
        at = int(time.time() * 1000)
        body = {"app": "fadzPay",
                "device": {"model": "SM-A105F", "android": "11", "id": "3f9a1c2b7d4e",
                           "name": "dev-1", "uid": "9c0ffee1234abcd5"},
                "status_base": "https://bayar.tokoabc.example",
                "probe": {"http_code": 404, "latency_ms": 80},
                "forwarder": {"tmux_running": running, "running": running},
                "wifi": {}, "telephony": {}, "ts_ms": at}
        answer = client.post("/status/heartbeat", content=json.dumps(body, separators=(",", ":")),
                             headers={"Content-Type": "application/json",
                                      "X-Forwarder-Pin": merchant.callback_secret,
                                      "X-TS": str(at), "X-Signature": "cd" * 32})
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert ping(1)["device_id"] == "dev-1"
    heard = devices_of(client)["dev-1"]["last_heartbeat_at"]
    assert heard is not None
    assert ping(0)["listening"] is False
    assert devices_of(client)["dev-1"]["last_heartbeat_at"] == heard
    wrong = client.post("/status/heartbeat", json={}, headers={"X-Forwarder-Pin": "1234"})
    assert wrong.status_code == 401 and wrong.json()["success"] is False


def test_smsforwarders_scheduled_task_is_a_heartbeat_named_by_its_template(
        app_factory, db_path: Path) -> None:
    """SmsForwarder (pppscn/SmsForwarder) pings with a task: a cron condition
    (CronWorker.kt: MsgInfo type "task", from and card slot = the task's name, content = its
    description) and a Webhook sender, whose default POST is the form from, content (the
    default template, MsgInfo.getContentForSend: from, text, card slot, receive time, device
    name) and timestamp (WebhookUtils.kt); headers are the sender's own."""
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section())
    content = "\n".join(["Heartbeat WebQRIS", "setiap 15 menit", "Heartbeat WebQRIS",
                         "2026-11-30 10:15:00", "Redmi Kasir"])
    answer = client.post("/api/webhook/heartbeat", data={
        "from": "Heartbeat WebQRIS", "content": content, "timestamp": "1796000000000"},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["device_id"] == "Redmi Kasir"
    assert devices_of(client)["Redmi Kasir"]["last_heartbeat_at"] is not None


def test_a_silent_phone_is_alerted_after_the_configured_time_and_again_when_back(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram),
                   admin={"device_silent_seconds": 1})
    heartbeat(client, merchant, deviceId="HP-Kasir")
    last_heard = time.time()
    time.sleep(0.5)
    assert telegram.texts() == []  # not yet silent
    silent = wait_until(lambda: telegram.texts(), what="the silent alert")[0]
    assert time.time() - last_heard >= 1.0
    heard = datetime.datetime.fromtimestamp(last_heard, ZONE).strftime("%d-%m-%Y %H:%M WIB")
    assert f"HP HP-Kasir tidak mengirim notifikasi atau tanda hidup sejak {heard}" in silent
    assert f"Lihat toko: {BASE_URL}/#/merchants/{merchant.id}" in silent
    time.sleep(0.3)
    assert len(telegram.texts()) == 1  # once per silence, not at every check
    answer = client.post("/api/webhook/payment", json={
        "app": "id.dana", "message": "Kamu berhasil menerima Rp10.000 dari BUDI",
        "device_id": "HP-Kasir"}, headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert answer.status_code == 404  # a notification says the phone is alive too
    back = wait_until(lambda: telegram.texts()[1:], what="the back alert")[0]
    assert "HP HP-Kasir mengirim lagi sejak" in back
    assert client.get("/admin/api/merchants").json()["data"][0]["devices"][0]["silent"] is False


def test_nothing_is_sent_for_a_phone_silent_outside_opening_hours(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram),
                   admin={"device_silent_seconds": 1})
    now = datetime.datetime.now(ZONE)
    opens, closes = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=4)
    hours = f"{opens:%H}:00-{closes:%H}:00"
    saved = client.patch(f"/admin/api/merchants/{merchant.id}/alerts",
                         json={"opening_hours": hours})
    assert saved.json()["data"]["opening_hours"] == hours
    heartbeat(client, merchant, deviceId="HP-Kasir")
    time.sleep(1.6)
    assert telegram.texts() == []
    # The same silence, counted from the opening, is alerted once the shop is open.
    client.patch(f"/admin/api/merchants/{merchant.id}/alerts", json={"opening_hours": None})
    wait_until(lambda: telegram.texts(), what="the alert once hours no longer exclude now")


def test_opening_hours_count_a_nights_silence_from_the_opening() -> None:
    at = int(datetime.datetime(2026, 11, 30, 8, 10, tzinfo=ZONE).timestamp() * 1000)
    opened = webqris.opened_at("08:00-21:00", at, ZONE)
    assert opened == int(datetime.datetime(2026, 11, 30, 8, 0, tzinfo=ZONE).timestamp() * 1000)
    assert webqris.opened_at("08:00-21:00", at - 3_600_000, ZONE) is None  # 07:10: closed
    late = int(datetime.datetime(2026, 12, 1, 1, 0, tzinfo=ZONE).timestamp() * 1000)
    assert webqris.opened_at("18:00-02:00", late, ZONE) == int(
        datetime.datetime(2026, 11, 30, 18, 0, tzinfo=ZONE).timestamp() * 1000)
    assert webqris.opened_at(None, at, ZONE) == 0


def test_the_demos_simulated_phone_is_never_alerted_as_silent(
        db_path: Path, telegram: FakeTelegram) -> None:
    """`serve --demo` pays its checkout's bills as the phone "demo-simulator", heard once per
    demo payment: it must not wake the owner as a silent phone, while a real phone of the same
    shop, as quiet, is alerted."""
    merchant = add_merchant(db_path, name="Toko Demo")

    def demo_app(**sections: Any) -> TestClient:  # what `serve --demo` runs
        app = webqris.create_app(make_config(db_path, **sections), demo_merchant_id=merchant.id)
        return stack.enter_context(TestClient(app))

    with contextlib.ExitStack() as stack:
        client = start(demo_app, db_path, alerts_section(telegram),
                       admin={"device_silent_seconds": 1})
        invoice = client.post("/api/payments/qris/create", json={"amount": 25_000},
                              headers=merchant.auth).json()
        assert client.post(f"/pay/{invoice['invoice_id']}/simulate").status_code == 200
        heartbeat(client, merchant, deviceId="HP-Kasir")
        silent = wait_until(lambda: telegram.texts(), what="the real phone's silent alert")
        time.sleep(0.3)  # a few more checks: the simulator would have been alerted by now
        assert len(telegram.texts()) == 1 and "HP HP-Kasir" in silent[0], telegram.texts()
        devices = {d["device_id"]: d for d in
                   client.get("/admin/api/merchants").json()["data"][0]["devices"]}
    assert devices["demo-simulator"]["last_notification_at"] is not None
    assert devices["demo-simulator"]["silent"] is False and devices["HP-Kasir"]["silent"]


# --- the daily recap ------------------------------------------------------------------------------


def test_the_recap_tells_the_days_payments_money_waiting_and_failed_webhooks_once(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    failing = free_port()
    merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:{failing}/hook")
    client = start(app_factory, db_path, alerts_section(telegram),
                   webhooks={"retry_delays": (0.05,)})
    by_dana = client.post("/api/payments/qris/create", json={"amount": 50_000},
                          headers=merchant.auth).json()
    dana = client.post("/api/webhook/payment", json={
        "app": "id.dana",
        "message": f"Kamu berhasil menerima Rp{by_dana['total_amount']:,} dari BUDI".replace(
            ",", ".")}, headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert dana.status_code == 200, dana.text
    by_callback = pay(client, merchant, 25_000)
    unmatched(client, merchant, 77_000)
    unmatched(client, merchant, 88_000)  # resolved by the owner: it no longer waits
    [resolved, _] = client.get("/admin/api/notifications?outcome=needs_attention").json()["data"]
    assert resolved["parsed_amount"] == 88_000
    assert client.post(f"/admin/api/notifications/{resolved['id']}/resolve",
                       json={"resolution": "no_bill"}).status_code == 200
    wait_until(lambda: len(query(db_path, "SELECT 1 FROM webhook_deliveries"
                                          " WHERE state = 'failed'")) == 2,
               what="both webhooks to fail for good")
    telegram.messages.clear()  # the money and webhook alerts of the day

    at = webqris.now_ms()
    hour = datetime.datetime.fromtimestamp(at / 1000 + 3600, ZONE).hour
    assert queue_recap(client, at + 7_200_000, hour) == 1
    recap = wait_until(lambda: [t for t in telegram.texts() if "Rekap harian" in t],
                       what="the recap")[0]
    total = by_dana["total_amount"] + by_callback["total_amount"]
    rp = "Rp" + f"{total:,}".replace(",", ".")
    lines = recap.splitlines()
    assert lines[0].startswith("Rekap harian ") and lines[0].endswith(" · Toko ABC")
    assert f"Lunas: 2 tagihan, {rp}" in lines
    by_app = next(line for line in lines if line.startswith("Per aplikasi: "))
    assert "id.dana 1 (Rp" + f"{by_dana['total_amount']:,}".replace(",", ".") + ")" in by_app
    assert "callback 1" in by_app
    assert "Uang perlu perhatian: 1 notifikasi (Rp77.000)" in lines
    assert "Webhook gagal: 2" in lines
    assert f"Dasbor: {BASE_URL}/#/overview" in lines
    # Once a day: asking again, and after a restart, queues nothing.
    assert queue_recap(client, at + 7_300_000, hour) == 0
    client.__exit__(None, None, None)
    again = start(app_factory, db_path, alerts_section(telegram))
    assert queue_recap(again, at + 7_400_000, hour) == 0


def test_the_recap_of_a_quiet_day_reads_naturally_in_english(
        app_factory, db_path: Path, telegram: FakeTelegram) -> None:
    merchant = add_merchant(db_path)
    client = start(app_factory, db_path, alerts_section(telegram, language="en"),
                   server={"base_url": ""})
    at = webqris.now_ms()
    hour = datetime.datetime.fromtimestamp(at / 1000 + 3600, ZONE).hour
    queue_recap(client, at + 7_200_000, hour)
    recap = wait_until(lambda: telegram.texts(), what="the recap")[0]
    assert "No bill paid yet." in recap and "No money needs attention." in recap
    assert "Dashboard:" not in recap  # no base_url: no half a link
    assert merchant.name in recap


def test_telegram_bot_tokens_are_redacted_from_logs() -> None:
    line = f"HTTP Request: POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    assert BOT_TOKEN not in webqris.redact_secrets(line)
    assert "/bot[redacted]/sendMessage" in webqris.redact_secrets(line)


# --- replication lag -----------------------------------------------------------------------------


def test_a_replica_falling_behind_is_alerted_once_to_the_installations_channels(
        tmp_path: Path, telegram: FakeTelegram) -> None:
    import os
    import signal

    from conftest import start_server
    from test_replicate import FAST_SYNC, children, wait_until_replicated

    db = tmp_path / "webqris.db"
    add_merchant(db)
    server = start_server(db, env={
        "WEBQRIS_REPLICATE_URL": f"file://{tmp_path / 'offsite'}", **FAST_SYNC,
        "WEBQRIS_ALERTS_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "WEBQRIS_ALERTS_TELEGRAM_CHAT_ID": CHAT_ID,
        "WEBQRIS_ALERTS_TELEGRAM_API_BASE": telegram.base,
        "WEBQRIS_ALERTS_CHECK_SECONDS": "0.05", "WEBQRIS_ALERTS_POLL_SECONDS": "0.05",
        "WEBQRIS_ALERTS_REPLICATION_LAG_SECONDS": "0.3"})
    try:
        wait_until_replicated(server.base_url)
        time.sleep(0.3)
        # Its first sync may take longer than 0.3 s on a busy machine: that was lag too.
        before = len(telegram.texts())
        time.sleep(0.3)
        assert len(telegram.texts()) == before  # caught up: nothing more to say
        [litestream] = children(server.process.pid)
        os.kill(litestream, signal.SIGKILL)  # restarted after a second: behind meanwhile
        wait_until(lambda: len(telegram.texts()) == before + 1, what="the replication alert")
        alert = telegram.texts()[-1]
        assert alert.startswith("Replikasi tertinggal\nSalinan database di file://")
        assert re.search(r" tertinggal [1-9][0-9]* detik\. Periksa Litestream", alert)
        wait_until_replicated(server.base_url)
        time.sleep(0.3)
        assert len(telegram.texts()) == before + 1  # once per time it falls behind
        assert BOT_TOKEN not in server.log_path.read_text()
    finally:
        server.stop()
