"""server.log_format = "json": every line `webqris serve` writes is one JSON object, access
lines carry the request's id, route, status and duration, and no secret is in any of them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import add_merchant, start_server
from websockets.sync.client import connect

import webqris


def test_json_logs_are_one_object_per_line_with_request_fields_and_no_secret(
        tmp_path: Path) -> None:
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    server = start_server(db, env={"WEBQRIS_SERVER_LOG_FORMAT": "json",
                                   "WEBQRIS_SERVER_ACCESS_LOG": "true"})
    try:
        made = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 25000},
                          headers=merchant.auth).json()
        httpx.get(f"{server.base_url}/api/payments/{made['invoice_id']}/status",
                  headers=merchant.auth)
        httpx.post(f"{server.base_url}/api/webhook/payment", json={"message": "hello"},
                   headers={"Authorization": f"Bearer {merchant.callback_secret}"})
        ws_url = server.base_url.replace("http", "ws")
        with connect(f"{ws_url}/ws/merchant?token={merchant.api_token}") as socket:
            socket.send("ping")
            socket.recv(timeout=5)
    finally:
        server.stop()
    text = server.log_path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    # The first start prints the admin password for the owner, on stdout, before logging.
    entries = [json.loads(line) for line in lines if not line.startswith("Admin password")]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "webqris.access"]
    status_line = next(entry for entry in access
                       if entry["route"] == "/api/payments/{invoice_id}/status")
    assert status_line["status"] == 200 and status_line["duration_ms"] >= 0
    assert len(status_line["request_id"]) == 16
    assert len({entry["request_id"] for entry in access}) == len(access)
    assert any(entry["status"] == 422 and entry["route"] == "/api/webhook/payment"
               for entry in access)
    assert any("Uvicorn running" in entry["message"] for entry in entries)
    for secret in (merchant.api_token, merchant.callback_secret, merchant.webhook_secret):
        assert secret not in text


def test_log_format_is_text_or_json() -> None:
    assert webqris.load_config(None, {}).server.log_format == "text"
    with pytest.raises(webqris.ConfigError, match="log_format"):
        webqris.load_config(None, {"WEBQRIS_SERVER_LOG_FORMAT": "xml"})
