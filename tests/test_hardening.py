"""Hardening: secrets never reach the logs; an unexpected error is a clean 500."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
from conftest import add_merchant
from websockets.asyncio.client import connect

import webqris

PASSWORD = "a very secret admin password"


def test_full_flow_logs_no_secret(db_path: Path, server_factory) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_setting, "admin_password", webqris.hash_password(PASSWORD))
    store.close()
    merchant = add_merchant(db_path, webhook_url="http://127.0.0.1:9/unreachable")
    server = server_factory(db_path, env={"WEBQRIS_SERVER_ACCESS_LOG": "true",
                                          "WEBQRIS_WEBHOOKS_RETRY_DELAYS": "0.05"})
    base = server.base_url

    async def flow() -> None:
        async with httpx.AsyncClient(base_url=base) as http, \
                connect(base.replace("http", "ws") + f"/ws/merchant?token={merchant.api_token}"):
            invoice = (await http.post("/api/payments/qris/create", json={"amount": 5000},
                                       headers=merchant.auth)).json()
            await http.get(f"/api/payments/{invoice['invoice_id']}/status",
                           headers=merchant.auth)
            await http.post("/api/webhook/payment", json={"message": "test", "event_hash": "test"},
                            headers={"Authorization": f"Bearer {merchant.callback_secret}"})
            await http.post("/api/callback/notify", json={"amount": invoice["total_amount"]},
                            headers={"X-Callback-Key": merchant.callback_secret})
            # Wrong credentials too: a mistyped secret is still a secret.
            await http.post("/api/payments/qris/create", json={"amount": 1},
                            headers={"Authorization": f"Bearer {merchant.api_token}x"})
            login = await http.post("/admin/api/login", json={"password": PASSWORD})
            assert login.status_code == 200
            await http.post("/admin/api/login", json={"password": PASSWORD + "typo"})
            await asyncio.sleep(0.5)  # let the webhook fail and retry, and be logged

    asyncio.run(flow())
    server.stop()
    log = server.log_path.read_text()
    assert "/ws/merchant" in log and "/api/payments/qris/create" in log  # the access log ran
    assert "webhook" in log.lower()
    for secret in (merchant.api_token, merchant.callback_secret, merchant.webhook_secret,
                   PASSWORD):
        assert secret not in log
        assert secret[:-1] not in log


def test_unexpected_error_is_a_clean_500(db_path: Path, server_factory) -> None:
    merchant = add_merchant(db_path)
    server = server_factory(db_path)
    invoice = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 5000},
                         headers=merchant.auth).json()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE invoices SET paid_at = 'garbage' WHERE invoice_id = ?",
                 (invoice["invoice_id"],))
    conn.commit()
    conn.close()
    response = httpx.get(f"{server.base_url}/api/payments/{invoice['invoice_id']}/status",
                         headers=merchant.auth)
    assert response.status_code == 500
    assert response.json() == {"success": False, "message": "Internal server error"}
    assert "Traceback" not in response.text
    # The server keeps serving.
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
