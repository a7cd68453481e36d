"""Every popular forwarder app, as installed: its default payload and the ways it can send the
callback secret pay an invoice over the real app; a wrong or ambiguous secret is a 401; the
secret never reaches the database, an answer or a log line."""

from __future__ import annotations

import base64
import io
import json
import logging
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import Merchant, add_merchant
from starlette.testclient import TestClient
from test_notifications import stored

import webqris

PAYMENT = "/api/webhook/payment"


def rupiah(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def create(client: TestClient, merchant: Merchant, amount: int = 25000) -> dict:
    response = client.post("/api/payments/qris/create", json={"amount": amount},
                           headers=merchant.auth)
    assert response.status_code == 200, response.text
    return response.json()


def dana_text(invoice: dict, payer: str = "JOHN DOE") -> str:
    return f"Kamu berhasil menerima Rp{rupiah(invoice['total_amount'])} dari {payer}"


def status_of(client: TestClient, merchant: Merchant, invoice: dict) -> str:
    response = client.get(f"/api/payments/{invoice['invoice_id']}/status", headers=merchant.auth)
    return response.json()["data"]["status"]


def assert_paid(client: TestClient, merchant: Merchant, invoice: dict,
                response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["invoice_id"] == invoice["invoice_id"]
    assert status_of(client, merchant, invoice) == "paid"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- one test per app, with its default payload and auth ----------------------------------------


def test_smsforwarder_default_form_template(client: TestClient, merchant: Merchant,
                                            db_path: Path) -> None:
    """pppscn/SmsForwarder with an empty body template: form `from`, `content`, `timestamp`
    (ms), `sign` (utils/sender/WebhookUtils.kt). `content` is the default template of
    entity/MsgInfo.kt getContentForSend: package, text, title, "UID：<uid>", receive time,
    device name. The secret travels as the password of `https://user:pass@host/` (HTTP Basic,
    BasicAuthInterceptor)."""
    invoice = create(client, merchant)
    text = dana_text(invoice)
    content = f"id.dana\n{text}\nDANA\nUID：10234\n2026-03-21 10:15:23\nPixel 7"
    response = client.post(PAYMENT, data={"from": "id.dana", "content": content,
                                          "timestamp": "1774088123000", "sign": "abc%3D"},
                           auth=("smsf", merchant.callback_secret))
    assert_paid(client, merchant, invoice, response)
    row = stored(db_path)[-1]
    assert (row["app"], row["title"], row["message"], row["device_id"], row["notif_id"]) == \
        ("id.dana", "DANA", text, "Pixel 7", None)  # the UID is the app's, not a notification's


def test_smsforwarder_older_template_and_a_text_of_several_lines(
        client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """Before the UID line (MsgInfo.kt of 2022) the template ended with the time and the device
    name, which may be blank; the text itself (EXTRA_BIG_TEXT) can span lines."""
    invoice = create(client, merchant)
    text = f"{dana_text(invoice)}\nSaldo kamu bertambah"
    response = client.post(PAYMENT, data={"from": "id.dana",
                                          "content": f"id.dana\n{text}\nDANA\n2026-03-21 10:15:23",
                                          "timestamp": "1774088123000"},
                           headers={"X-Callback-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoice, response)
    assert (stored(db_path)[-1]["title"], stored(db_path)[-1]["message"]) == ("DANA", text)


def test_smsforwarder_json_template(client: TestClient, merchant: Merchant,
                                    db_path: Path) -> None:
    """SmsForwarder's JSON body template with its tags [from], [content] (the templated text),
    [title] and [timestamp] (WebhookUtils.kt), and a custom header."""
    invoice = create(client, merchant)
    text = dana_text(invoice)
    body = {"from": "id.dana", "title": "DANA", "timestamp": 1774088123000,
            "content": f"id.dana\n{text}\nDANA\nUID：10234\n2026-03-21 10:15:23\n"}
    response = client.post(PAYMENT, json=body, headers={"X-API-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoice, response)
    assert stored(db_path)[-1]["message"] == text
    raw = create(client, merchant)  # [org_content]: the notification's own text
    response = client.post(PAYMENT, json={**body, "content": dana_text(raw)},
                           headers={"X-API-Key": merchant.callback_secret})
    assert_paid(client, merchant, raw, response)


def test_notiforwarder_secret_in_the_body(client: TestClient, merchant: Merchant,
                                          db_path: Path) -> None:
    """ar4kiara/PG-Notifikasi (NotiForwarder), README "payment_listener": the secret in the
    body, the package in `source`, the text in `notification`. The secret is neither stored
    nor echoed."""
    invoice = create(client, merchant)
    body = {"secret": merchant.callback_secret, "amount": invoice["total_amount"],
            "currency": "IDR",
            "source": {"package": "id.dana", "appName": "DANA", "patternName": "Dana sukses",
                       "patternRegex": "Kamu berhasil menerima Rp[\\d\\.,]+"},
            "notification": {"title": "Kamu berhasil menerima", "text": dana_text(invoice),
                             "timestamp": 1732176000000},
            "device": {"manufacturer": "Xiaomi", "model": "M2101K6G", "sdk": 35}}
    response = client.post(PAYMENT, json=body)
    assert_paid(client, merchant, invoice, response)
    assert merchant.callback_secret not in response.text
    row = stored(db_path)[-1]
    assert (row["app"], row["message"], row["posted_at"]) == \
        ("id.dana", dana_text(invoice), "1732176000000")
    assert not any(merchant.callback_secret in str(value) for value in tuple(row))
    unreadable = client.post(PAYMENT, json={**body, "notification": {"text": "halo"}})
    assert unreadable.status_code == 422
    assert merchant.callback_secret not in unreadable.text


@pytest.mark.parametrize("auth", ["bearer", "api_key", "basic"])
def test_payhook(client: TestClient, merchant: Merchant, db_path: Path, auth: str) -> None:
    """PayHook (darmariduan/docs-payhook index.html, "Format Payload" and "Autentikasi"):
    `package_name`, `notification_title`, `notification_text`, `reference` "PH-<ms>"; the
    token as Bearer, X-API-Key or Basic base64(<token>), with no user name or colon."""
    invoice = create(client, merchant)
    secret = merchant.callback_secret
    headers = {"bearer": {"Authorization": f"Bearer {secret}"},
               "api_key": {"X-API-Key": secret},
               "basic": {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()},
               }[auth]
    body = {"amount": invoice["total_amount"], "source": "DANA", "reference": "PH-1774088123000",
            "timestamp": "2026-03-26 10:26:00", "package_name": "id.dana",
            "notification_title": "DANA", "notification_text": dana_text(invoice),
            "sent_by": "PayHook"}
    response = client.post(PAYMENT, json=body, headers={"User-Agent": "PayHook-Android/1.0",
                                                         **headers})
    assert_paid(client, merchant, invoice, response)
    row = stored(db_path)[-1]
    assert (row["app"], row["title"], row["notif_id"]) == ("id.dana", "DANA", "PH-1774088123000")


def test_fadzpay_v2(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """Matsumiko/fadzPay install_fadzpay_v2.sh (forwarder.sh post_json): the token in
    X-Forwarder-Token, with X-Forwarder-Pin, X-Device-Id, X-TS and X-Signature; the body from
    termux-notification-list: `package`, `title`, `content`, `when`, `key`."""
    invoice = create(client, merchant)
    content = f"Pembayaran QRIS Rp {rupiah(invoice['total_amount'])}"
    body = {"source": "gopay_merchant", "package": "com.gojek.gopaymerchant",
            "title": "Pembayaran diterima", "content": content, "when": "2025-12-29 10:30:00",
            "key": "0|com.gojek.gopaymerchant|1234|null|10180", "fingerprint": "9f" * 32,
            "amount": invoice["total_amount"], "device_id": "S8-WIFI"}
    response = client.post(PAYMENT, content=json.dumps(body), headers={
        "Content-Type": "application/json", "X-Forwarder-Token": merchant.callback_secret,
        "X-Forwarder-Pin": "123456", "X-Device-Id": "S8-WIFI", "X-TS": "1767000000000",
        "X-Signature": "00" * 32})
    assert_paid(client, merchant, invoice, response)
    row = stored(db_path)[-1]
    assert (row["app"], row["notif_id"], row["device_id"]) == \
        ("com.gojek.gopaymerchant", "0|com.gojek.gopaymerchant|1234|null|10180", "S8-WIFI")


def test_fadzpay_first_version_token_in_the_url(client: TestClient, merchant: Merchant) -> None:
    """Matsumiko/fadzPay install_fadzpay.sh: WEBHOOK_URL="${API_BASE}/webhook/payment?token=…"
    and a body of package, title, content, when, key, fingerprint, type."""
    invoice = create(client, merchant)
    body = {"package": "id.dana", "title": "DANA", "content": dana_text(invoice),
            "when": "2025-10-01 09:15:00", "key": "0|id.dana|99|null|10234",
            "fingerprint": "0f" * 16, "type": "incoming"}
    response = client.post(f"{PAYMENT}?token={merchant.callback_secret}", json=body)
    assert_paid(client, merchant, invoice, response)


def test_itsazni_notification_forwarder(client: TestClient, merchant: Merchant,
                                        db_path: Path) -> None:
    """ItsAzni/NotificationForwarder network/WebhookClient.kt: the default JSON body (no
    template) and the Bearer auth option."""
    invoice = create(client, merchant)
    body = {"deviceId": "a1b2c3d4e5f60718", "packageName": "id.dana", "appName": "DANA",
            "title": "DANA", "text": dana_text(invoice), "postedAt": 1732176000000,
            "notificationKey": "0|id.dana|7|null|10234"}
    response = client.post(PAYMENT, json=body,
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert_paid(client, merchant, invoice, response)
    row = stored(db_path)[-1]
    assert (row["notif_id"], row["device_id"]) == ("0|id.dana|7|null|10234", "a1b2c3d4e5f60718")


def test_notification_fwder(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """glogiotatidis/notification-fwder webhook/WebhookPayload.kt serialized by Gson (which
    leaves out null fields): packageName, appName, title, text, subText, bigText, priority,
    timestamp, iconBase64 and a device object; the secret in a custom header."""
    invoice = create(client, merchant)
    body = {"packageName": "id.dana", "appName": "DANA", "title": "DANA",
            "text": dana_text(invoice), "priority": 0, "timestamp": 1767225600000,
            "iconBase64": base64.b64encode(b"\x89PNG" + bytes(600)).decode(),
            "device": {"androidVersion": "14", "deviceModel": "Pixel 7",
                       "deviceManufacturer": "Google"}}
    response = client.post(PAYMENT, json=body,
                           headers={"X-Callback-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoice, response)
    assert stored(db_path)[-1]["device_id"] is None  # the device object names no device


def test_filterbox(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """FilterBox's webhook template as its users publish it (starudream/notify-filterbox
    README): the notification's extras by their Android names, WHEN as a number."""
    invoice = create(client, merchant)
    body = {"android.title": "DANA", "android.text": dana_text(invoice),
            "android.bigText": "", "filterbox.field.APP_NAME": "DANA",
            "filterbox.field.PACKAGE_NAME": "id.dana",
            "filterbox.field.CHANNEL_ID": "transaction", "filterbox.field.WHEN": 1767225600000}
    response = client.post(PAYMENT, json=body,
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert_paid(client, merchant, invoice, response)
    assert stored(db_path)[-1]["posted_at"] == "1767225600000"


def allow_unnamed_apps(db_path: Path, merchant: Merchant) -> None:
    """The merchant opts in to notifications that carry no package, as a shop using Incoming
    SMS & Notifications Gateway must (for an app's notification it sends no package)."""
    result = subprocess.run([sys.executable, "-m", "webqris", "merchant", "update",
                             str(merchant.id), "--accept-unnamed-app", "--db", str(db_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_incoming_sms_gateway_sends_the_title_as_from(client: TestClient, merchant: Merchant,
                                                      db_path: Path) -> None:
    """bogkonstantin/android_income_sms_gateway_webhook: the default JSON template
    (ForwardingConfig.getDefaultJsonTemplate) is from/text/sentStamp/receivedStamp/sim, and
    for an app's notification `from` is its title, or its package when the title is blank
    (NotificationListener.java), `sim` is "notification". Custom headers carry the secret."""
    allow_unnamed_apps(db_path, merchant)
    first, second = create(client, merchant), create(client, merchant)
    headers = {"User-agent": "SMS Forwarder App", "X-Callback-Key": merchant.callback_secret}
    for sender, invoice in (("DANA", first), ("id.dana", second)):
        body = {"from": sender, "text": dana_text(invoice), "sentStamp": 1767225600000,
                "receivedStamp": 1767225600412, "sim": "notification"}
        assert_paid(client, merchant, invoice, client.post(PAYMENT, json=body, headers=headers))
    titled, untitled = stored(db_path)[-2:]
    assert (titled["app"], titled["title"]) == (None, "DANA")
    assert (untitled["app"], untitled["title"]) == ("id.dana", None)


def test_macrodroid_and_tasker_templates(client: TestClient, merchant: Merchant) -> None:
    """Hand-made HTTP Request actions: everything in the query string of a POST without a body
    (the secret too), a form, or JSON with the seed's names."""
    invoices = [create(client, merchant) for _ in range(3)]
    query = client.post(PAYMENT, params={"token": merchant.callback_secret, "app": "id.dana",
                                         "title": "DANA", "text": dana_text(invoices[0])})
    assert_paid(client, merchant, invoices[0], query)
    form = client.post(PAYMENT, data={"app": "id.dana", "title": "DANA",
                                      "message": dana_text(invoices[1])},
                       headers={"X-Callback-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoices[1], form)
    body = client.post(PAYMENT, params={"secret": merchant.callback_secret},
                       json={"app": "id.dana", "title": "DANA",
                             "message": dana_text(invoices[2])})
    assert_paid(client, merchant, invoices[2], body)


def test_notif_forwarder_monmed26(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """MonMed26/NOTIF-Forwarder data/remote/client/HttpClient.kt forwardNotification: JSON
    sourceType, packageName, appLabel, title, text, postTime, the notification's extras, and
    the time of sending as `timestamp`; the rule's custom headers carry the secret."""
    invoice = create(client, merchant)
    text = dana_text(invoice)
    body = {"sourceType": "NOTIFICATION", "packageName": "id.dana", "appLabel": "DANA",
            "title": "DANA", "text": text, "postTime": 1767225600000,
            "extras": {"android.title": "DANA", "android.text": text, "android.bigText": text,
                       "android.showWhen": True},
            "timestamp": 1767225600350}
    response = client.post(PAYMENT, json=body, headers={
        "X-Callback-Key": merchant.callback_secret, "User-Agent": "SMS-Forwarder/1.0",
        "X-Source-Type": "NOTIFICATION"})
    assert_paid(client, merchant, invoice, response)
    assert (stored(db_path)[-1]["app"], stored(db_path)[-1]["title"]) == ("id.dana", "DANA")


def test_tq_notifier_secret_in_its_url(client: TestClient, merchant: Merchant) -> None:
    """fdciabdul/Android-Notification-Forwarder NotificationListenerService.kt: JSON package,
    title, text to the server URL of its settings, with no header: the secret goes in that
    URL."""
    invoice = create(client, merchant)
    response = client.post(f"{PAYMENT}?token={merchant.callback_secret}",
                           json={"package": "id.dana", "title": "DANA",
                                 "text": dana_text(invoice)})
    assert_paid(client, merchant, invoice, response)


def test_notiflistener_lower_case_packagename(client: TestClient, merchant: Merchant,
                                              db_path: Path) -> None:
    """41524120021/notification_listener (NotifListener) lib/services/transaction_service.dart:
    a form of nilaitransaksi, text and `packagename` (lower case) to <base URL> +
    "api/notif_api/insert_data"; its settings add a trailing "/" to the base URL. A base URL
    of ".../api/webhook/payment?token=SECRET&path=" puts the secret and its path in the
    query. The package was lost to its spelling, so DANA's notification paid nothing."""
    invoice = create(client, merchant)
    response = client.post(
        f"{PAYMENT}?token={merchant.callback_secret}&path=/api/notif_api/insert_data",
        data={"nilaitransaksi": str(invoice["total_amount"]), "text": dana_text(invoice),
              "packagename": "id.dana"})
    assert_paid(client, merchant, invoice, response)
    assert stored(db_path)[-1]["app"] == "id.dana"


def test_field_names_in_any_case_and_the_exact_spelling_first(client: TestClient,
                                                              merchant: Merchant,
                                                              db_path: Path) -> None:
    invoice = create(client, merchant)
    response = client.post(PAYMENT, json={"PackageName": "id.dana", "Title": "DANA",
                                          "Text": dana_text(invoice), "title": "Dana masuk"},
                           headers={"X-Callback-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoice, response)
    # Two titles that differ are both kept (a field that decides a payment is never one text
    # chosen among several), the exact spelling first.
    assert (stored(db_path)[-1]["app"], stored(db_path)[-1]["title"]) == ("id.dana",
                                                                         "Dana masuk | DANA")


def test_fadzpay_shopeepay_variant(client: TestClient, merchant: Merchant) -> None:
    """Matsumiko/fadzPay install_fadzpay_shopee.sh: the amount is in the title ("Pembayaran
    sebesar Rp… diterima"), a transaction id in the text, and its default package list is
    com.shopeepay.id and com.shopee.id. The Shopee shopping app is no payment app: its
    notification waits in the inbox for the owner, who may trust it."""
    invoice, other = create(client, merchant), create(client, merchant)
    headers = {"X-Forwarder-Token": merchant.callback_secret, "X-Forwarder-Pin": "123456"}

    def body(package: str, invoice: dict) -> dict:
        amount = rupiah(invoice["total_amount"])
        return {"source": "shopeepay", "package": package,
                "title": f"Pembayaran sebesar Rp{amount} diterima",
                "content": (f"Pembayaran sebesar Rp{amount} telah diterima pada transaksi"
                            f" 1335678746810{invoice['total_amount']}."),
                "when": "1767225600000", "key": f"0|{package}|1|null|10111",
                "fingerprint": "ab" * 32, "amount": invoice["total_amount"],
                "txid": f"1335678746810{invoice['total_amount']}", "device_id": "S8"}

    paid = client.post(PAYMENT, json=body("com.shopeepay.id", invoice), headers=headers)
    assert_paid(client, merchant, invoice, paid)
    shop = client.post(PAYMENT, json=body("com.shopee.id", other), headers=headers)
    assert shop.status_code == 404 and shop.json()["app_accepted"] is False
    assert status_of(client, merchant, other) == "pending"


def test_qris_hook(client: TestClient, merchant: Merchant, db_path: Path) -> None:
    """suriyadi15/qrishook README "Webhook Payload" and WebhookPayloadBuilderTest.kt: the
    package as `source_package`, the notification's words nested in `notification`, an
    `event_id` kept on its retries; the secret in `X-Webhook-Secret`. The header was not read
    (401), nor the package (no app: nothing paid)."""
    invoice = create(client, merchant)
    notification = {"source_package": "com.interactive.qrisid", "source_app": "InterActive QRIS",
                    "title": "Transaksi InterActive QRIS",
                    "text": (f"Pembayaran QRIS sebesar Rp {rupiah(invoice['total_amount'])}"
                             " Jhon Doe - Mandiri telah diterima"),
                    "big_text": "", "received_at": "2026-05-21T12:00:00Z"}
    body = {"event_id": "3f1c9a52-7d0e-4c55-9b0a-2f7f3e0d9a11", "type": "qris.payment.success",
            "merchant_id": "interactive_qris", "source_package": "com.interactive.qrisid",
            "source_app": "InterActive QRIS", "received_at": "2026-05-21T12:00:00+07:00",
            "notification": notification,
            "payment": {"amount": invoice["total_amount"], "currency": "IDR",
                        "sender_name": "Jhon Doe", "payment_source": "Mandiri"},
            "raw": notification}
    headers = {"X-Webhook-Secret": merchant.callback_secret}
    response = client.post(PAYMENT, json=body, headers=headers)
    assert_paid(client, merchant, invoice, response)
    row = stored(db_path)[-1]
    assert (row["app"], row["title"], row["event_hash"]) == (
        "com.interactive.qrisid", "Transaksi InterActive QRIS",
        "3f1c9a52-7d0e-4c55-9b0a-2f7f3e0d9a11")
    retry = client.post(PAYMENT, json=body, headers=headers)
    assert retry.json()["message"] == "Duplicate notification"
    wrong = client.post(PAYMENT, json=body, headers={"X-Webhook-Secret": merchant.webhook_secret})
    assert wrong.status_code == 401


def test_incoming_activity_gateway_pastes_text_unescaped(client: TestClient, merchant: Merchant,
                                                         db_path: Path) -> None:
    """we-digital/android-nomad-gateway: a push-notification rule's default template is app /
    message / timestamp / title (ForwardingRuleEditActivity.setDefaultTemplateValues), and
    ForwardingConfig.prepareNotificationMessage pastes "<title>: <text>" into it without
    escaping: a text of two lines is a raw line break inside a JSON string, which was refused
    as invalid JSON (400) and the payment was lost."""
    invoice = create(client, merchant)
    text = f"DANA: {dana_text(invoice)}\nSaldo kamu bertambah"
    body = ('{\n  "app": "id.dana",\n  "message": "' + text + '",\n'
            '  "timestamp": "1767225600000",\n  "title": "DANA"\n}')
    response = client.post(PAYMENT, content=body.encode(), headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Android-activity-gateway App",
        "X-Callback-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoice, response)
    assert stored(db_path)[-1]["message"] == text
    # Elsewhere JSON stays strict.
    strict = client.post("/api/payments/qris/create", content=b'{"amount": 1000, "x": "a\nb"}',
                         headers={**merchant.auth, "Content-Type": "application/json"})
    assert strict.status_code == 400


# Each app's "test" button, as its source builds it.
TEST_BUTTONS = {
    # pppscn/SmsForwarder fragment/senders/WebhookFragment.kt: MsgInfo("sms", test_phone_num,
    # test_sender_sms, Date(), test_sim_info) through the default form template.
    "smsforwarder": lambda secret: {
        "data": {"from": "19999999999", "timestamp": "1774088123000", "sign": "abc%3D",
                 "content": "19999999999\n【Webhook】恭喜您，该发送通道测试成功，"
                            "请继续添加转发规则！\nSIM1_测试运营商_18888888888\nSubId：0\n"
                            "2026-03-21 10:15:23"},
        "auth": ("smsf", secret)},
    "smsforwarder english": lambda secret: {
        "data": {"from": "19999999999", "timestamp": "1774088123000",
                 "content": "19999999999\n[Webhook] Congratulations, the sender test is"
                            " successful, please continue to add forwarding rules!\n"
                            "SIM1_TestOperator_18888888888\nSubId：0\n2026-03-21 10:15:23\n"
                            "Pixel 7"},
        "headers": {"X-Callback-Key": secret}},
    # ItsAzni/NotificationForwarder MainActivity.kt onTestWebhook.
    "notificationforwarder": lambda secret: {
        "json": {"deviceId": "test-device", "packageName": "com.test.package",
                 "appName": "Webhook Test", "title": "Test Notification",
                 "text": "This is a test payload", "postedAt": 1774088123000,
                 "notificationKey": "test-1774088123000"},
        "headers": {"Authorization": f"Bearer {secret}"}},
    # we-digital/android-nomad-gateway ForwardingRuleEditActivity.testConfig through the default
    # push template.
    "incoming activity gateway": lambda secret: {
        "json": {"app": "com.example.testapp", "message": "Test Title: Test Message",
                 "timestamp": "1774088123000", "title": "Test Title"},
        "headers": {"User-Agent": "Android-activity-gateway App", "X-Callback-Key": secret}},
    # bogkonstantin/android_income_sms_gateway_webhook ForwardingConfigDialog.java testConfig
    # through the default JSON template.
    "incoming sms gateway": lambda secret: {
        "json": {"from": "123456789", "text": "test message", "sentStamp": 1774088123000,
                 "receivedStamp": 1774088123412, "sim": "sim1"},
        "headers": {"User-agent": "SMS Forwarder App", "X-Callback-Key": secret}},
}


@pytest.mark.parametrize("app", TEST_BUTTONS)
def test_an_apps_test_button_is_a_connection_test(client: TestClient, merchant: Merchant,
                                                  db_path: Path, app: str) -> None:
    """A test button got 422 "no amount", which the app shows as a failed test, and waited in
    the inbox as unreadable money with an alert to the owner."""
    invoice = create(client, merchant)
    response = client.post(PAYMENT, **TEST_BUTTONS[app](merchant.callback_secret))
    assert response.status_code == 200, response.text
    assert response.json()["test"] is True
    assert status_of(client, merchant, invoice) == "pending"
    assert [row["outcome"] for row in stored(db_path)] == ["test"]
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
        # A test button's placeholder phone ("test-device") is not a phone to watch.
        assert conn.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
    finally:
        conn.close()
    refused = client.post(PAYMENT, **{**TEST_BUTTONS[app]("wqc_" + "x" * 32)})
    assert refused.status_code == 401


def test_a_test_button_updates_a_known_phone(client: TestClient, merchant: Merchant,
                                             db_path: Path) -> None:
    invoice = create(client, merchant)
    headers = {"X-Callback-Key": merchant.callback_secret}
    client.post(PAYMENT, json={"app": "id.dana", "message": dana_text(invoice),
                               "device_id": "Pixel 7"}, headers=headers)
    answer = client.post(PAYMENT, **TEST_BUTTONS["smsforwarder english"](
        merchant.callback_secret))
    assert answer.json()["test"] is True
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT device_id, last_test_at IS NOT NULL FROM devices"
                            ).fetchall() == [("Pixel 7", 1)]
    finally:
        conn.close()
    row = stored(db_path)[-1]
    assert (row["title"], row["message"]) == (
        "SIM1_TestOperator_18888888888",
        "[Webhook] Congratulations, the sender test is successful, please continue to add"
        " forwarding rules!")


@pytest.mark.parametrize("body", [
    # A payment app's unreadable words are money the owner must see, whatever they say.
    {"app": "id.dana", "title": "DANA", "message": "Test pembayaran diterima"},
    # Words that read as money are never a test, from any app.
    {"app": "com.test.package", "title": "Test", "message": "Kamu berhasil menerima Rp25.000"
                                                            " dari JOHN DOE"},
    # No test words: an unreadable notification as before.
    {"app": "com.test.package", "title": "Halo", "message": "Apa kabar?"},
])
def test_what_is_not_a_test_button(client: TestClient, merchant: Merchant, db_path: Path,
                                   body: dict) -> None:
    response = client.post(PAYMENT, json=body,
                           headers={"X-Callback-Key": merchant.callback_secret})
    assert response.status_code in (404, 422)
    assert "test" not in response.json()
    assert stored(db_path)[-1]["outcome"] in ("unparsed", "unmatched")


def test_a_test_button_from_an_app_the_shop_trusts_stays_in_the_inbox(
        client: TestClient, merchant: Merchant, db_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "webqris", "merchant", "update",
                             str(merchant.id), "--accept-app", "com.test.package", "--db",
                             str(db_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    response = client.post(PAYMENT, **TEST_BUTTONS["notificationforwarder"](
        merchant.callback_secret))
    assert response.status_code == 422
    assert stored(db_path)[-1]["outcome"] == "unparsed"


# --- where the secret may be, and what a wrong one gets -----------------------------------------

SPELLINGS = {
    "bearer": lambda s: {"headers": {"Authorization": f"Bearer {s}"}},
    "x-callback-key": lambda s: {"headers": {"X-Callback-Key": s}},
    "x-api-key": lambda s: {"headers": {"X-API-Key": s}},
    "x-forwarder-token": lambda s: {"headers": {"X-Forwarder-Token": s}},
    "x-webhook-secret": lambda s: {"headers": {"X-Webhook-Secret": s}},
    "basic password": lambda s: {"headers": {"Authorization": basic("any-user", s)}},
    "basic token only": lambda s: {"headers": {
        "Authorization": "Basic " + base64.b64encode(s.encode()).decode()}},
    "token query": lambda s: {"params": {"token": s}},
    "secret query": lambda s: {"params": {"secret": s}},
    "secret body field": lambda s: {"body": {"secret": s}},
    "token body field": lambda s: {"body": {"token": s}},
    "nested body field": lambda s: {"body": {"auth": {"token": s}}},
}


def send(client: TestClient, spelling: str, secret: str, body: dict) -> httpx.Response:
    where = SPELLINGS[spelling](secret)
    return client.post(PAYMENT, json={**body, **where.get("body", {})},
                       headers=where.get("headers"), params=where.get("params"))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_place_of_the_secret_pays(client: TestClient, merchant: Merchant,
                                        spelling: str) -> None:
    invoice = create(client, merchant)
    response = send(client, spelling, merchant.callback_secret,
                    {"app": "id.dana", "message": dana_text(invoice)})
    assert_paid(client, merchant, invoice, response)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_wrong_secret_in_each_place_is_401(client: TestClient, merchant: Merchant,
                                             spelling: str) -> None:
    invoice = create(client, merchant)
    response = send(client, spelling, "wqc_" + "x" * 32,
                    {"app": "id.dana", "message": dana_text(invoice)})
    assert response.status_code == 401
    assert response.json() == {"success": False,
                               "message": "Unauthorized: invalid callback secret"}
    assert status_of(client, merchant, invoice) == "pending"


def test_no_secret_anywhere_keeps_the_seeds_message(client: TestClient) -> None:
    response = client.post(PAYMENT, json={"app": "id.dana", "message": "x"},
                           headers={"Authorization": "Bearer ", "X-API-Key": ""},
                           params={"token": ""})
    assert response.status_code == 401
    assert response.json()["message"] == ("Unauthorized: missing Authorization: Bearer header"
                                          " with the Callback Secret")


@pytest.mark.parametrize("other", ["bearer", "token query", "secret body field", "x-api-key"])
def test_secrets_that_disagree_are_401_even_when_one_is_right(
        client: TestClient, merchant: Merchant, db_path: Path, other: str) -> None:
    """One right and one wrong secret is not "one of them is right": trying them in turn would
    let a request guess many secrets at once."""
    invoice = create(client, merchant)
    wrong = SPELLINGS[other]("wqc_" + "y" * 32)
    response = client.post(PAYMENT, params=wrong.get("params"),
                           json={"app": "id.dana", "message": dana_text(invoice),
                                 **wrong.get("body", {})},
                           headers={"X-Forwarder-Token" if other != "x-api-key"
                                    else "X-Callback-Key": merchant.callback_secret,
                                    **wrong.get("headers", {})})
    assert response.status_code == 401
    assert "different callback secrets" in response.json()["message"]
    assert status_of(client, merchant, invoice) == "pending"
    assert stored(db_path) == []


def test_the_same_secret_in_two_places_pays(client: TestClient, merchant: Merchant) -> None:
    invoice = create(client, merchant)
    response = client.post(PAYMENT, params={"token": merchant.callback_secret},
                           json={"app": "id.dana", "message": dana_text(invoice)},
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert_paid(client, merchant, invoice, response)


@pytest.mark.parametrize("path", [PAYMENT, "/api/callback/notify"])
def test_a_backends_api_token_beside_the_callback_secret_is_no_rival(
        client: TestClient, merchant: Merchant, path: str) -> None:
    """A backend's HTTP client that sends its API token with every request (the API's own
    Authorization: Bearer) and adds X-Callback-Key for the callback still pays."""
    invoice = create(client, merchant)
    response = client.post(path, json={"app": "id.dana", "message": dana_text(invoice),
                                       "amount": invoice["total_amount"]},
                           headers={**merchant.auth, "X-Callback-Key": merchant.callback_secret})
    assert_paid(client, merchant, invoice, response)
    alone = client.post(path, json={"amount": 1000, "message": "x"}, headers=merchant.auth)
    assert alone.status_code == 401 and "API token" in alone.json()["message"]


def test_another_merchants_secret_with_ours_is_refused(client: TestClient, merchant: Merchant,
                                                       db_path: Path) -> None:
    other = add_merchant(db_path, name="Toko Lain")
    invoice = create(client, merchant)
    response = client.post(PAYMENT, json={"app": "id.dana", "message": dana_text(invoice),
                                          "secret": other.callback_secret},
                           headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert response.status_code == 401
    assert status_of(client, merchant, invoice) == "pending"


def test_a_body_that_cannot_be_read_is_judged_after_the_secret(client: TestClient,
                                                                merchant: Merchant) -> None:
    garbage = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    assert client.post(PAYMENT, **garbage).status_code == 401
    garbage["headers"]["X-Callback-Key"] = merchant.callback_secret
    answer = client.post(PAYMENT, **garbage)
    assert (answer.status_code, answer.json()["message"]) == (400, "Invalid JSON body")
    empty = client.post(PAYMENT, headers={"X-Callback-Key": merchant.callback_secret})
    assert empty.status_code == 400


def test_callback_notify_takes_the_same_spellings(client: TestClient, merchant: Merchant) -> None:
    invoice = create(client, merchant)
    response = client.post("/api/callback/notify", json={"amount": invoice["total_amount"]},
                           headers={"X-API-Key": merchant.callback_secret})
    assert response.json() == {"success": True, "invoice_id": invoice["invoice_id"]}
    missing = client.post("/api/callback/notify", json={"amount": 1000})
    assert missing.json()["message"] == ("Unauthorized: missing X-Callback-Key header with the"
                                         " Callback Secret")


# --- logs ------------------------------------------------------------------------------------


SECRET_NAMES = ["token", "TOKEN", "Token", "%74oken", "%2574oken", "%54%4F%4B%45%4E", "secret",
                "Secret", "key", "api_key", "API_KEY", "callback_key", "x-callback-key",
                "password", "pass", "%70assword", "access_token", "auth"]


def test_redaction_of_every_spelling() -> None:
    secret = "s3cr3t-VALUE"
    for name in SECRET_NAMES:
        for line in (f"POST /api/webhook/payment?{name}={secret} HTTP/1.1",
                     f"GET /x?a=1&{name}={secret}&b=2", f"/x?a=1;{name}={secret}",
                     f"/x?a=1%26{name}%3D{secret}"):
            assert secret not in webqris.redact_secrets(line), line
    for line in (f"https://user:{secret}@shop.example/hook", f"http://{secret}@10.0.0.2/",
                 f"Authorization: Bearer {secret}", f"authorization: basic {secret}"):
        assert secret not in webqris.redact_secrets(line), line
    prefixed = "wqc_" + "Ab-_9" * 6
    for line in (f"/x?anything={prefixed}", f"/x/{prefixed}/y", f"{prefixed.upper()}",
                 "/x?v=%77%71%63%5F" + prefixed[4:], "/x?v=wqc%255F" + prefixed[4:],
                 "whsec_" + base64.b64encode(bytes(32)).decode()):
        assert "Ab-_9Ab" not in webqris.redact_secrets(line) and "AAAA" not in \
            webqris.redact_secrets(line), line
    untouched = "POST /api/webhook/payment?app=id.dana&amount=25042 HTTP/1.1"
    assert webqris.redact_secrets(untouched) == untouched


@pytest.mark.parametrize("unit", ["%26", "%2526", "%3F", "a%3D", "%77", "%25", "&a", "a=%2525",
                                  "a.", ".a", "a+"])
def test_redacting_a_hostile_request_line_takes_linear_time(unit: str) -> None:
    """Every request line is redacted when the access log is on: a target made of encoded
    separators once took seconds per request (a regular expression that backtracked), one of
    dotted words a tenth of a second (a URL scheme of any length)."""
    line = "POST /api/webhook/payment?" + unit * (32768 // len(unit)) + " HTTP/1.1"
    started = time.perf_counter()
    webqris.redact_secrets(line)
    assert time.perf_counter() - started < 0.5


def test_every_log_record_is_redacted_whoever_logs_it() -> None:
    """Our logger, another library's, a message's arguments of any type, a traceback."""
    secret = "wqc_" + "Zz9" * 10
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    previous_factory = logging.getLogRecordFactory()
    loggers = [logging.getLogger("webqris"), logging.getLogger("some.library")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        webqris.redact_every_log_record()
        loggers[0].warning("webhook to %s failed: %s (attempt %d)",
                           httpx.URL(f"https://shop:{secret}@shop.example/hook"),
                           f"GET /hook?api_key={secret}", 3)
        loggers[0].error(RuntimeError(f"cannot reach https://shop.example/?token={secret}"))
        try:
            raise ValueError(f"bad credentials {secret}")
        except ValueError:
            loggers[1].exception("while reading /x?Token=%s", secret)
    finally:
        logging.setLogRecordFactory(previous_factory)
        for logger in loggers:
            logger.removeHandler(handler)
    text = output.getvalue()
    assert "(attempt 3)" in text and "ValueError: bad credentials" in text
    assert "cannot reach https://shop.example/?token=[redacted]" in text
    assert secret not in text and secret[4:] not in text


def test_no_secret_appears_in_the_servers_log(tmp_path: Path, server_factory) -> None:
    """`webqris serve` with the access log on: the secret in the query string under every
    spelling, and the merchant socket's token, never reach its output."""
    db_path = tmp_path / "webqris.db"
    merchant = add_merchant(db_path)
    server = server_factory(db_path, env={"WEBQRIS_SERVER_ACCESS_LOG": "true"})
    secret = merchant.callback_secret
    encoded = "".join(f"%{ord(c):02X}" for c in secret)
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for name in SECRET_NAMES:
            for value in (secret, encoded):
                http.post(f"{PAYMENT}?{name}={value}",
                          json={"app": "id.dana", "message": "test", "event_hash": "test"})
        http.post(f"{PAYMENT}?x={secret}", json={"message": "m"})
        http.get(f"/ws/merchant?%74oken={merchant.api_token}")
        http.get(f"/ws/merchant?token={merchant.api_token}")
    server.stop()
    output = server.log_path.read_text()
    assert '"POST /api/webhook/payment?token=[redacted] HTTP/1.1" 200' in output
    for leaked in (secret, encoded, secret[4:], merchant.api_token, merchant.api_token[4:]):
        assert leaked not in output
