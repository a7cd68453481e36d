"""GET /metrics: Prometheus' text format, values that follow what happens (a create, a payment,
a failed webhook), latency per route template, and no numbers for a remote client without the
token."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from conftest import add_merchant, free_port, start_server
from prometheus_client.parser import text_string_to_metric_families

SCRAPER = {"Authorization": "Bearer scrape-secret"}


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_values_follow_a_create_a_payment_and_a_failed_webhook(db_path: Path,
                                                               app_factory) -> None:
    # A webhook URL where nothing listens: every attempt fails.
    merchant = add_merchant(db_path, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    client = app_factory(metrics={"token": "scrape-secret"},
                         webhooks={"retry_delays": (60.0,)})
    before = scrape(client)
    assert value(before, "webqris_invoices_created_total") == 0

    made = client.post("/api/payments/qris/create", json={"amount": 25000},
                       headers=merchant.auth).json()
    client.get(f"/api/payments/{made['invoice_id']}/status", headers=merchant.auth)
    after_create = scrape(client)
    assert value(after_create, "webqris_invoices_created_total") == 1
    assert value(after_create, "webqris_invoices", status="pending") == 1
    status_route = "/api/payments/{invoice_id}/status"
    assert value(after_create, "webqris_request_duration_seconds_count", route=status_route,
                 method="GET") == 1
    # The histogram's buckets are cumulative, their bounds written as Prometheus' own client
    # writes them (le="10.0"): the one check is in every bucket from its time up.
    buckets = [value(after_create, "webqris_request_duration_seconds_bucket",
                     route=status_route, method="GET", le=bound)
               for bound in ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                             "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")]
    assert buckets == sorted(buckets) and buckets[-2:] == [1, 1]
    assert 0 < value(after_create, "webqris_request_duration_seconds_sum", route=status_route,
                     method="GET") < 10
    assert not any(made["invoice_id"] in str(labels) for _, labels in after_create)

    total = f"{made['total_amount']:,}".replace(",", ".")
    paid = client.post("/api/webhook/payment", json={
        "app": "id.dana", "device_id": "kasir-1",
        "message": f"Kamu berhasil menerima Rp{total} dari BUDI"},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert paid.status_code == 200, paid.text
    deadline = time.monotonic() + 10
    while True:
        after_pay = scrape(client)
        if value(after_pay, "webqris_webhook_attempts_total", result="failed") >= 1:
            break
        assert time.monotonic() < deadline, "the webhook was never attempted"
        time.sleep(0.05)
    assert value(after_pay, "webqris_invoices_paid_total") == 1
    assert value(after_pay, "webqris_invoices", status="pending") == 0
    assert value(after_pay, "webqris_notifications_total", outcome="matched", parser="dana") == 1
    assert value(after_pay, "webqris_webhook_backlog") == 1  # waiting for its retry
    assert value(after_pay, "webqris_webhook_oldest_pending_age_seconds") >= 0
    heard = value(after_pay, "webqris_device_last_heard_seconds", merchant=str(merchant.id),
                  device="kasir-1")
    assert 0 <= heard < 10

    client.post("/api/webhook/payment", json={"app": "id.dana", "message": "Saldo Rp10.000"},
                headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    unmatched = scrape(client)
    assert sum(v for (name, labels), v in unmatched.items()
               if name == "webqris_notifications_total" and ("outcome", "matched") not in labels
               ) == 1


def test_a_client_that_is_not_local_needs_the_token(db_path: Path, app_factory) -> None:
    add_merchant(db_path)
    # The test client's address is "testclient": not one of the loopback addresses.
    client = app_factory(metrics={"token": "scrape-secret"})
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json() == {"success": False, "message": "Metrics are for loopback clients,"
                              " or a Bearer token (metrics.token)"}
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=SCRAPER).status_code == 200
    no_token = app_factory()  # no token configured: only loopback clients
    assert no_token.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_served_metrics_answer_loopback_and_refuse_another_address(tmp_path: Path) -> None:
    db = tmp_path / "webqris.db"
    add_merchant(db)
    server = start_server(db)
    try:
        local = httpx.get(f"{server.base_url}/metrics")
        assert local.status_code == 200 and "webqris_websocket_clients 0.0" in local.text
        # 127.0.0.2 is this machine too, but not in metrics.allowed_addresses: it stands for a
        # remote scraper.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as remote:
            refused = remote.get(f"{server.base_url}/metrics")
        assert refused.status_code == 401
        assert refused.json()["success"] is False
    finally:
        server.stop()


def test_a_request_through_a_proxy_on_the_same_machine_needs_the_token(db_path: Path,
                                                                      server_factory) -> None:
    # Behind nginx or Caddy without server.proxy_headers every visitor's request comes from
    # 127.0.0.1: /metrics answered anyone on the internet.
    add_merchant(db_path)
    server = server_factory(db_path, env={"WEBQRIS_METRICS_TOKEN": "scrape-secret"})
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
                   {"X-Real-IP": "203.0.113.9"}):
        refused = httpx.get(f"{server.base_url}/metrics", headers=header)
        assert refused.status_code == 401, header
        assert refused.json()["success"] is False
        assert httpx.get(f"{server.base_url}/metrics",
                         headers={**header, **SCRAPER}).status_code == 200
    assert httpx.get(f"{server.base_url}/metrics").status_code == 200  # a local scraper
