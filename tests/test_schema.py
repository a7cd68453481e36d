"""/openapi.json tells the truth: schemathesis generates requests from it (valid and invalid
ones), sends them to a live `webqris serve` with a real merchant's credentials, and checks that
no answer is a 5xx and that every answer's status, content type, headers and body are the ones
the schema documents. Regression tests for what the schema work found follow."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import Merchant, Server, add_merchant, start_server
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

import webqris

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, ignored_auth]


@dataclasses.dataclass
class Live:
    """A live server, its merchant, and invoices in each state to aim generated requests at."""
    server: Server
    merchant: Merchant
    invoice_ids: list[str]
    amounts: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(10_000, 7))
    # (operation, status) of every answer schemathesis checked, to show the 200s were reached
    answered: collections.Counter[tuple[str, int]] = dataclasses.field(
        default_factory=collections.Counter)

    def create(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.server.base_url}/api/payments/qris/create",
                              json={"amount": next(self.amounts), **body},
                              headers=self.merchant.auth)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db_path = tmp_path_factory.mktemp("schema") / "webqris.db"
    # A webhook URL where nothing listens: paid invoices queue deliveries that fail, as they
    # do for a shop whose server is down.
    merchant = add_merchant(db_path, webhook_url="http://127.0.0.1:9/webhook")
    # Hundreds of generated requests a second to the checkout pages are this test's own
    # flood, not an attacker's: the public rate limit has its own tests.
    server = start_server(db_path, env={"WEBQRIS_SERVER_PUBLIC_REQUESTS_PER_SECOND": "100000",
                                        "WEBQRIS_SERVER_PUBLIC_BURST": "100000"})
    try:
        live = Live(server, merchant, [])
        base, secret = server.base_url, {"X-Callback-Key": merchant.callback_secret}
        pending = live.create(merchant_order_id="ORDER-1", customer_name="John Doe",
                              redirect_url="https://shop.example/thanks")
        paid = live.create()
        assert httpx.post(f"{base}/api/callback/notify", json={"amount": paid["total_amount"]},
                          headers=secret).json()["success"] is True
        cancelled = live.create()
        assert httpx.post(f"{base}/api/payments/{cancelled['invoice_id']}/cancel",
                          headers=merchant.auth).status_code == 200
        expired = live.create(expires_in=1)  # reads "expired" a second later
        live.invoice_ids += [pending["invoice_id"], paid["invoice_id"], cancelled["invoice_id"],
                             expired["invoice_id"]]
        yield live
    finally:
        server.stop()


def credentials(operation: Any, merchant: Merchant) -> dict[str, str]:
    """The headers each operation's security scheme asks for, with the real merchant's
    secrets: the API token, the callback secret as a bearer (the phone), or X-Callback-Key."""
    schemes = {name for requirement in operation.definition.raw.get("security", [])
               for name in requirement}
    headers = {}
    if "apiToken" in schemes:
        headers["Authorization"] = f"Bearer {merchant.api_token}"
    if "callbackSecret" in schemes:
        headers["Authorization"] = f"Bearer {merchant.callback_secret}"
    if "callbackKey" in schemes:
        headers["X-Callback-Key"] = merchant.callback_secret
    return headers


def aim_at_real_invoices(case: Any, live: Live) -> None:
    """A random invoice id is unknown (404) and a random amount pays nothing: to check the
    success answers too, part of the cases get a real invoice id (a fresh one to cancel), or
    pay a fresh invoice with otherwise valid fields. Which cases is decided by the generated
    data itself, so Hypothesis can replay and shrink a failure."""
    path_parameters = case.path_parameters or {}
    generated_id = path_parameters.get("invoice_id")
    if isinstance(generated_id, str):
        pick = len(generated_id) % (len(live.invoice_ids) + 1)
        if pick < len(live.invoice_ids):
            path_parameters["invoice_id"] = live.invoice_ids[pick]
        if pick == 0 and case.operation.path.endswith("/cancel"):
            path_parameters["invoice_id"] = live.create()["invoice_id"]
    body = case.body
    if not isinstance(body, dict) or len(json.dumps(body, default=str)) % 3 == 0:
        return
    unique = f"aimed-{next(live.amounts)}"
    if case.operation.path == "/api/callback/notify":
        body.update(amount=live.create()["total_amount"], sender_name="BUDI", reference=unique)
    elif case.operation.path == "/api/webhook/payment":
        rupiah = f"{live.create()['total_amount']:,}".replace(",", ".")
        body.update(app="id.dana", title="DANA", notif_id=unique, event_hash=unique,
                    message=f"Kamu berhasil menerima Rp{rupiah} dari JOHN DOE")


# The document a server with the default configuration serves (test_served_schema_is_this_one
# checks that the live server serves exactly this), loaded at collection so that each operation
# is a test of its own.
DEFAULT_CONFIG = webqris.load_config(None, {})
schema = schemathesis.openapi.from_dict(webqris.build_openapi(DEFAULT_CONFIG))


@schema.parametrize()
@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_conforms_to_its_schema(case: Any, live: Live) -> None:
    aim_at_real_invoices(case, live)
    response = case.call_and_validate(base_url=live.server.base_url,
                                      headers=credentials(case.operation, live.merchant),
                                      checks=CHECKS)
    paid = (case.operation.path in ("/api/webhook/payment", "/api/callback/notify")
            and response.status_code == 200 and "invoice_id" in response.json())
    live.answered[case.operation.label, 201 if paid else response.status_code] += 1


def test_served_schema_is_this_one(live: Live) -> None:
    served = httpx.get(f"{live.server.base_url}/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(webqris.build_openapi(DEFAULT_CONFIG)))


def test_generated_requests_reached_every_success_answer(live: Live) -> None:
    """The aiming above works: every operation's 200 was checked against the schema, and both
    notification endpoints paid invoices (counted as 201 here). Runs after the schemathesis
    test, in file order."""
    if not live.answered:
        pytest.skip("needs test_api_conforms_to_its_schema to run first, in the same session")
    for operation in schema.get_all_operations():
        label = operation.ok().label
        assert live.answered[label, 200] + live.answered[label, 201], (label, live.answered)
    for path in ("/api/webhook/payment", "/api/callback/notify"):
        assert live.answered[f"POST {path}", 201], (path, live.answered)


# --- what the schema work found ---------------------------------------------------------------


def test_schema_states_this_installations_limits(app_factory, merchant: Merchant) -> None:
    client = app_factory(payments={"min_amount": 1000, "max_amount": 500_000},
                         server={"max_body_bytes": 4096})
    served = client.get("/openapi.json").json()
    create = served["paths"]["/api/payments/qris/create"]["post"]
    amount = create["requestBody"]["content"]["application/json"]["schema"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (1000, 500_000)
    assert "4096 bytes" in create["responses"]["413"]["description"]
    assert client.post("/api/payments/qris/create", json={"amount": 999},
                       headers=merchant.auth).status_code == 400


@pytest.mark.parametrize("limit", ["²", "١", "9" * 5000, "-1", " 5", "5.0"])
def test_list_limit_that_is_not_ascii_digits_is_400(client: TestClient, merchant: Merchant,
                                                    limit: str) -> None:
    # "²".isdigit() is true and int() refuses it; int() refuses 4301+ digits: both were 500s.
    response = client.get("/api/payments", params={"limit": limit}, headers=merchant.auth)
    assert response.status_code == 400
    assert response.json() == {"success": False,
                               "message": "limit must be an integer between 1 and 200"}


@pytest.mark.parametrize("declared", ["²", "9" * 5000])
def test_odd_content_length_is_a_clean_4xx(client: TestClient, merchant: Merchant,
                                           declared: str) -> None:
    # uvicorn refuses these before the app; any other ASGI server might not.
    response = client.post("/api/payments/qris/create", content=b'{"amount": 1000}',
                           headers={**merchant.auth, "Content-Type": "application/json",
                                    "Content-Length": declared.encode("latin-1")})
    assert response.status_code in (400, 413)
    assert response.json()["success"] is False


LONE_SURROGATE_BODIES = [
    ("/api/payments/qris/create", b'{"amount": 5000, "merchant_order_id": "A\\ud800"}'),
    ("/api/payments/qris/create", b'{"amount": 5000, "customer_name": "\\udfff"}'),
    ("/api/callback/notify", b'{"amount": 5000, "sender_name": "JOHN \\ud83d"}'),
]


@pytest.mark.parametrize("path,body", LONE_SURROGATE_BODIES)
def test_lone_surrogate_in_api_json_is_400(client: TestClient, merchant: Merchant, path: str,
                                           body: bytes) -> None:
    # A lone UTF-16 surrogate cannot be stored in SQLite nor sent back as UTF-8: it was a 500.
    response = client.post(path, content=body, headers={
        **merchant.auth, "X-Callback-Key": merchant.callback_secret,
        "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "surrogate" in response.json()["message"]


def test_notification_cut_mid_emoji_is_still_recorded_and_pays(client: TestClient,
                                                               merchant: Merchant,
                                                               db_path) -> None:
    """A phone's notification text with half an emoji (a lone surrogate, escaped in JSON) was
    a 500 and never stored; it is money the shop received, so it pays with U+FFFD in place."""
    invoice = client.post("/api/payments/qris/create", json={"amount": 25000},
                          headers=merchant.auth).json()
    rupiah = f"{invoice['total_amount']:,}".replace(",", ".")
    body = ('{"app": "id.dana", "title": "DANA \\ud83c", "message": "Kamu berhasil menerima Rp'
            + rupiah + ' dari JOHN DOE \\ud83d"}').encode()
    response = client.post("/api/webhook/payment", content=body, headers={
        "Authorization": f"Bearer {merchant.callback_secret}", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["invoice_id"] == invoice["invoice_id"]
    conn = sqlite3.connect(db_path)
    title, message = conn.execute("SELECT title, message FROM notifications").fetchone()
    conn.close()
    assert title == "DANA \ufffd" and message.endswith("JOHN DOE \ufffd")
    unparsed = client.post("/api/webhook/payment", content=b'{"message": "halo \\udc00"}',
                           headers={"Authorization": f"Bearer {merchant.callback_secret}",
                                    "Content-Type": "application/json"})
    assert unparsed.status_code == 422
    assert unparsed.json()["raw_message"] == "halo \ufffd"


def test_multipart_form_from_a_forwarder_is_read(client: TestClient, merchant: Merchant) -> None:
    """The forwarder endpoint claimed multipart/form-data support, but it always answered 400
    (Starlette's parser needs python-multipart and the body had been read already)."""
    phone = {"Authorization": f"Bearer {merchant.callback_secret}"}
    invoice = client.post("/api/payments/qris/create", json={"amount": 30000},
                          headers=merchant.auth).json()
    rupiah = f"{invoice['total_amount']:,}".replace(",", ".")
    fields = {"packageName": (None, "id.dana"), "title": (None, "DANA"),
              "text": (None, f"Kamu berhasil menerima Rp{rupiah} dari SITI")}
    paid = client.post("/api/webhook/payment", files=fields, headers=phone)
    assert paid.status_code == 200, paid.text
    assert paid.json()["invoice_id"] == invoice["invoice_id"]
    assert paid.json()["sender_name"] == "SITI"
    test = client.post("/api/webhook/payment", headers=phone,
                       files={"message": (None, "test"), "event_hash": (None, "test")})
    assert test.status_code == 200 and test.json()["test"] is True
    broken = client.post("/api/webhook/payment", content=b"--x\r\nnot a part",
                         headers={**phone, "Content-Type": "multipart/form-data"})
    assert broken.status_code == 400
    assert broken.json() == {"success": False, "message": "Invalid form body"}


def test_qr_in_another_format_is_404(client: TestClient, merchant: Merchant) -> None:
    """qr.{format} served a PNG for any format (qr.gif, qr.exe); only svg and png exist."""
    invoice = client.post("/api/payments/qris/create", json={"amount": 5000},
                          headers=merchant.auth).json()
    base = f"/pay/{invoice['invoice_id']}"
    assert client.get(f"{base}/qr.svg").headers["content-type"].startswith("image/svg+xml")
    assert client.get(f"{base}/qr.png").headers["content-type"] == "image/png"
    for other in ("gif", "exe", "PNG"):
        response = client.get(f"{base}/qr.{other}")
        assert response.status_code == 404
        assert response.json() == {"success": False, "message": "Not found"}
