"""The seed document's own client snippets work against us, changing only base URL and
secrets. The snippets below are copied verbatim from the public API docs."""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import add_merchant, free_port

SEED_BASE = "https://webqris.com"

CURL_CREATE = """curl -X POST 'https://webqris.com/api/payments/qris/create' -H 'Authorization: Bearer YOUR_API_TOKEN' -H 'Content-Type: application/json' -d '{
"amount": 25000,
"merchant_order_id": "ORDER-001",
"customer_name": "John Doe"
}'"""  # noqa: E501
CURL_STATUS = """curl -X GET 'https://webqris.com/api/payments/INV-1710000000-abc123/status' -H 'Authorization: Bearer YOUR_API_TOKEN'"""  # noqa: E501
CURL_TEST_EVENT = """curl -X POST 'https://webqris.com/api/webhook/payment' -H 'Authorization: Bearer YOUR_CALLBACK_SECRET' -H 'Content-Type: application/json' -d '{
"message": "test",
"event_hash": "test"
}'"""  # noqa: E501
SEED_DANA_BODY = """{
"app": "com.dana.id",
"title": "DANA",
"message": "Kamu berhasil menerima Rp25.042 dari JOHN DOE",
"timestamp": "2026-03-21T10:15:23.000Z",
"device_id": "device-01",
"notif_id": "1234567890",
"event_hash": "..."
}"""
CURL_CALLBACK = """curl -X POST 'https://webqris.com/api/callback/notify' -H 'X-Callback-Key: YOUR_CALLBACK_SECRET' -H 'Content-Type: application/json' -d '{
"amount": 25042,
"sender_name": "JOHN DOE",
"reference": "optional-reference"
}'"""  # noqa: E501

# The seed's plain-PHP snippets (create, then status), printing what they got.
PHP_CREATE_AND_STATUS = r"""<?php
$payload = json_encode([
'amount' => 25000,
'merchant_order_id' => 'ORDER-001',
'customer_name' => 'John Doe',
]);
$ch = curl_init('https://webqris.com/api/payments/qris/create');
curl_setopt_array($ch, [
CURLOPT_POST => true,
CURLOPT_RETURNTRANSFER => true,
CURLOPT_HTTPHEADER => [
'Authorization: Bearer YOUR_API_TOKEN',
'Content-Type: application/json',
],
CURLOPT_POSTFIELDS => $payload,
]);
$response = curl_exec($ch);
$status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
curl_close($ch);
$data = json_decode($response, true);
$created = ['status' => $status, 'data' => $data];

$invoiceId = $data['invoice_id'];
$ch = curl_init('https://webqris.com/api/payments/' . urlencode($invoiceId) . '/status');
curl_setopt_array($ch, [
CURLOPT_RETURNTRANSFER => true,
CURLOPT_HTTPHEADER => [
'Authorization: Bearer YOUR_API_TOKEN',
],
]);
$response = curl_exec($ch);
$status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
curl_close($ch);
$data = json_decode($response, true);
echo json_encode(['created' => $created, 'status' => ['status' => $status, 'data' => $data]]);
"""

# The seed's plain-PHP callback snippet, then what it got.
PHP_CALLBACK = r"""<?php
$payload = json_encode([
'amount' => 25042,
'sender_name' => 'JOHN DOE',
'reference' => 'optional-reference',
]);
$ch = curl_init('https://webqris.com/api/callback/notify');
curl_setopt_array($ch, [
CURLOPT_POST => true,
CURLOPT_RETURNTRANSFER => true,
CURLOPT_HTTPHEADER => [
'X-Callback-Key: YOUR_CALLBACK_SECRET',
'Content-Type: application/json',
],
CURLOPT_POSTFIELDS => $payload,
]);
$response = curl_exec($ch);
curl_close($ch);
echo $response;
"""

# The seed's three Express handlers (create, status, callback-notify), verbatim, in an app.
EXPRESS_SHOP = """const express = require('express');
const app = express();
app.use(express.json());
app.post('/payments/create-qris', async (req, res) => {
const response = await fetch('https://webqris.com/api/payments/qris/create', {
method: 'POST',
headers: {
'Authorization': 'Bearer ' + process.env.WEBQRIS_API_TOKEN,
'Content-Type': 'application/json',
},
body: JSON.stringify({
amount: req.body.amount,
merchant_order_id: req.body.merchant_order_id,
customer_name: req.body.customer_name,
}),
});
const data = await response.json();
return res.status(response.status).json(data);
});
app.get('/payments/:invoiceId/status', async (req, res) => {
const response = await fetch(
'https://webqris.com/api/payments/' + encodeURIComponent(req.params.invoiceId) + '/status',
{
headers: {
'Authorization': 'Bearer ' + process.env.WEBQRIS_API_TOKEN,
},
}
);
const data = await response.json();
return res.status(response.status).json(data);
});
app.post('/forward-qris-notify', async (req, res) => {
const response = await fetch('https://webqris.com/api/callback/notify', {
method: 'POST',
headers: {
'X-Callback-Key': process.env.WEBQRIS_CALLBACK_SECRET,
'Content-Type': 'application/json',
},
body: JSON.stringify({
amount: req.body.amount,
sender_name: req.body.sender_name,
reference: req.body.reference,
}),
});
const data = await response.json();
return res.status(response.status).json(data);
});
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('READY'));
"""

# The seed's Next.js route handlers (TypeScript), verbatim.
NEXTJS_CREATE = """// app/api/webqris/create/route.ts
export async function POST(request: Request) {
const body = await request.json();
const response = await fetch('https://webqris.com/api/payments/qris/create', {
method: 'POST',
headers: {
'Authorization': 'Bearer ' + process.env.WEBQRIS_API_TOKEN,
'Content-Type': 'application/json',
},
body: JSON.stringify(body),
});
return Response.json(await response.json(), { status: response.status });
}"""
NEXTJS_STATUS = """// app/api/webqris/status/[invoiceId]/route.ts
export async function GET(
_request: Request,
{ params }: { params: { invoiceId: string } }
) {
const response = await fetch(
'https://webqris.com/api/payments/' + encodeURIComponent(params.invoiceId) + '/status',
{
headers: {
'Authorization': 'Bearer ' + process.env.WEBQRIS_API_TOKEN,
},
cache: 'no-store',
}
);
return Response.json(await response.json(), { status: response.status });
}"""
NEXTJS_CALLBACK = """// app/api/webqris/callback-notify/route.ts
export async function POST(request: Request) {
const body = await request.json();
const response = await fetch('https://webqris.com/api/callback/notify', {
method: 'POST',
headers: {
'X-Callback-Key': process.env.WEBQRIS_CALLBACK_SECRET || '',
'Content-Type': 'application/json',
},
body: JSON.stringify(body),
});
return Response.json(await response.json(), { status: response.status });
}"""
# Their type annotations, which plain Node cannot run (it would fail on any left); nothing
# else is changed.
TYPE_ANNOTATION = re.compile(
    r"(\w+|\{ params \}): (?:Request|\{ params: \{ invoiceId: string \} \})")


def nextjs_route(typescript: str, base_url: str) -> str:
    """The route handler as Next.js runs it once compiled: without its types."""
    javascript, count = TYPE_ANNOTATION.subn(r"\1", typescript)
    assert count >= 1
    return javascript.replace(SEED_BASE, base_url)


# The seed's Node snippet (the body of its Express handler), run as a script with Node's fetch.
NODE_CREATE = """
const req = { body: { amount: 25000, merchant_order_id: 'ORDER-001', customer_name: 'John Doe' } };
(async () => {
const response = await fetch('https://webqris.com/api/payments/qris/create', {
method: 'POST',
headers: {
'Authorization': 'Bearer ' + process.env.WEBQRIS_API_TOKEN,
'Content-Type': 'application/json',
},
body: JSON.stringify({
amount: req.body.amount,
merchant_order_id: req.body.merchant_order_id,
customer_name: req.body.customer_name,
}),
});
const data = await response.json();
console.log(JSON.stringify({ status: response.status, data }));
})();
"""

# The seed's WebSocket example, verbatim. It JSON-parses every message, pongs included.
SEED_WEBSOCKET = """const ws = new WebSocket('wss://webqris.com/ws/merchant?token=YOUR_API_TOKEN');
ws.onmessage = (e) => {
const { event, data } = JSON.parse(e.data);
if (event === 'payment_paid') {
console.log('Pembayaran masuk:', data.invoice_id, data.total_amount);
}
};
// Keep-alive
setInterval(() => ws.send('ping'), 30000);"""
RECEIVERS = Path(__file__).resolve().parent / "receivers"
# Around the snippet, not in it: Node's `ws` package as the WebSocket, a keep-alive every 20 ms
# instead of 30 s (so a test sees hundreds of pongs) that starts once the socket is open (30 s
# leave time to connect; 20 ms do not), and a line when it opens.
NODE_WEBSOCKET_HARNESS = """const WebSocket = require('ws');
const everyFewMs = setInterval;
globalThis.setInterval = (callback) => everyFewMs(() => ws.readyState === 1 && callback(), 20);
let pongs = 0;
%s
ws.on('open', () => console.log('OPEN'));
ws.on('message', (raw) => {
  if (JSON.parse(raw).event === 'pong' && ++pongs %% 100 === 0) console.log('PONGS', pongs);
});
"""


def curl(command: str, base_url: str, **replacements: str) -> dict:
    command = command.replace(SEED_BASE, base_url)
    for placeholder, value in replacements.items():
        command = command.replace(placeholder, value)
    result = subprocess.run(shlex.split(command) + ["-s", "-w", "\n%{http_code}"],
                            capture_output=True, text=True, timeout=30)
    body, _, status = result.stdout.rpartition("\n")
    return {"status": int(status), "body": json.loads(body)}


@pytest.fixture
def seed_server(db_path: Path, server_factory):
    # One unique code so the seed's own example total (Rp25.042) is what the invoice asks for.
    merchant = add_merchant(db_path)
    server = server_factory(db_path, env={"WEBQRIS_PAYMENTS_UNIQUE_CODE_MIN": "42",
                                          "WEBQRIS_PAYMENTS_UNIQUE_CODE_MAX": "42"})
    return server, merchant


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_seed_curl_commands(seed_server) -> None:
    server, merchant = seed_server
    created = curl(CURL_CREATE, server.base_url, YOUR_API_TOKEN=merchant.api_token)
    assert created["status"] == 200 and created["body"]["total_amount"] == 25042
    invoice_id = created["body"]["invoice_id"]
    status = curl(CURL_STATUS.replace("INV-1710000000-abc123", invoice_id), server.base_url,
                  YOUR_API_TOKEN=merchant.api_token)
    assert status["body"]["data"]["status"] == "pending"
    test_event = curl(CURL_TEST_EVENT, server.base_url,
                      YOUR_CALLBACK_SECRET=merchant.callback_secret)
    assert test_event["body"]["message"] == "Koneksi berhasil! Auth valid ✓ (Merchant: Toko ABC)"
    dana = curl(CURL_TEST_EVENT.replace("""'{
"message": "test",
"event_hash": "test"
}'""", "'" + SEED_DANA_BODY + "'"), server.base_url,
                YOUR_CALLBACK_SECRET=merchant.callback_secret)
    assert dana == {"status": 200, "body": {"success": True, "invoice_id": invoice_id,
                                            "parsed_amount": 25042, "sender_name": "JOHN DOE"}}
    paid = curl(CURL_STATUS.replace("INV-1710000000-abc123", invoice_id), server.base_url,
                YOUR_API_TOKEN=merchant.api_token)
    assert paid["body"]["data"]["status"] == "paid"
    assert paid["body"]["data"]["payment_method"] == "com.dana.id"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_seed_callback_curl(seed_server) -> None:
    server, merchant = seed_server
    created = curl(CURL_CREATE, server.base_url, YOUR_API_TOKEN=merchant.api_token)
    result = curl(CURL_CALLBACK, server.base_url, YOUR_CALLBACK_SECRET=merchant.callback_secret)
    assert result == {"status": 200, "body": {"success": True,
                                              "invoice_id": created["body"]["invoice_id"]}}


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("php") is None,
                    reason="curl or php is not installed")
def test_seed_callback_snippets_pay_every_invoice_of_a_recurring_total(
        db_path: Path, server_factory, tmp_path: Path) -> None:
    """The seed's callback snippets send the same amount and the literal 'optional-reference'
    every time. Once the grace period has passed (1 s here, 15 min by default) the total comes
    back on a new invoice, and the second snippet's payment of it was a "Duplicate
    notification": the invoice stayed pending and the money was in no inbox."""
    merchant = add_merchant(db_path)
    server = server_factory(db_path, env={"WEBQRIS_PAYMENTS_UNIQUE_CODE_MIN": "42",
                                          "WEBQRIS_PAYMENTS_UNIQUE_CODE_MAX": "42",
                                          "WEBQRIS_PAYMENTS_LATE_GRACE_SECONDS": "1",
                                          "WEBQRIS_PAYMENTS_DEDUPE_WINDOW_SECONDS": "1"})
    first = curl(CURL_CREATE, server.base_url, YOUR_API_TOKEN=merchant.api_token)["body"]
    assert curl(CURL_CALLBACK, server.base_url, YOUR_CALLBACK_SECRET=merchant.callback_secret
                )["body"] == {"success": True, "invoice_id": first["invoice_id"]}
    time.sleep(1.1)
    second = curl(CURL_CREATE.replace("ORDER-001", "ORDER-002"), server.base_url,
                  YOUR_API_TOKEN=merchant.api_token)["body"]
    assert second["total_amount"] == 25042
    script = tmp_path / "callback.php"
    script.write_text(PHP_CALLBACK.replace(SEED_BASE, server.base_url)
                      .replace("YOUR_CALLBACK_SECRET", merchant.callback_secret))
    result = subprocess.run(["php", str(script)], capture_output=True, text=True, timeout=30)
    assert json.loads(result.stdout) == {"success": True, "invoice_id": second["invoice_id"]}
    status = curl(CURL_STATUS.replace("INV-1710000000-abc123", second["invoice_id"]),
                  server.base_url, YOUR_API_TOKEN=merchant.api_token)
    assert status["body"]["data"]["status"] == "paid"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_seed_node_create(seed_server) -> None:
    server, merchant = seed_server
    result = subprocess.run(["node", "-e", NODE_CREATE.replace(SEED_BASE, server.base_url)],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "WEBQRIS_API_TOKEN": merchant.api_token})
    output = json.loads(result.stdout)
    assert output["status"] == 200
    assert output["data"]["success"] is True and output["data"]["amount"] == 25000


@pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed")
def test_seed_php_create_and_status(seed_server, tmp_path: Path) -> None:
    server, merchant = seed_server
    script = tmp_path / "client.php"
    script.write_text(PHP_CREATE_AND_STATUS.replace(SEED_BASE, server.base_url)
                      .replace("YOUR_API_TOKEN", merchant.api_token))
    result = subprocess.run(["php", str(script)], capture_output=True, text=True, timeout=30)
    output = json.loads(result.stdout)
    assert output["created"]["status"] == 200
    assert output["created"]["data"]["total_amount"] == 25042
    assert output["status"]["status"] == 200
    assert output["status"]["data"]["data"]["status"] == "pending"


def _shop_backend_pays(shop: str, create_path: str, status_path: str, notify_path: str) -> None:
    """A shop's backend made of the seed's snippets, called as the seed's React component calls
    it, passes on our answers: the invoice, its status (`status_path` has {} for the invoice
    id), the payment, and our errors as they are (status code and JSON)."""
    created = httpx.post(shop + create_path,
                         json={"amount": 25000, "merchant_order_id": "ORDER-001"})
    assert created.status_code == 200, created.text
    invoice = created.json()
    assert {"success": True, "amount": 25000, "unique_code": 42,
            "total_amount": 25042}.items() <= invoice.items()
    assert invoice["qris_payload"].startswith("000201") and invoice["expired_at"]
    status = httpx.get(shop + status_path.format(invoice["invoice_id"]))
    assert status.status_code == 200 and status.json()["data"]["status"] == "pending"
    paid = httpx.post(shop + notify_path, json=json.loads(
        '{"amount": 25042, "sender_name": "JOHN DOE", "reference": "optional-reference"}'))
    assert (paid.status_code, paid.json()) == (
        200, {"success": True, "invoice_id": invoice["invoice_id"]})
    data = httpx.get(shop + status_path.format(invoice["invoice_id"])).json()["data"]
    assert (data["status"], data["payment_method"]) == ("paid", "callback")
    missing = httpx.get(shop + status_path.format("INV-1710000000-abc123"))
    assert (missing.status_code, missing.json()) == (
        404, {"success": False, "message": "Payment not found"})


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_seed_express_handlers(seed_server, tmp_path: Path) -> None:
    if not (RECEIVERS / "node_modules" / "express").is_dir():
        pytest.fail("express is not installed: run `npm install --prefix tests/receivers"
                    " --no-audit --no-fund`")
    server, merchant = seed_server
    script = tmp_path / "shop.js"
    script.write_text(EXPRESS_SHOP.replace(SEED_BASE, server.base_url))
    port = free_port()
    process = subprocess.Popen(
        ["node", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NODE_PATH": str(RECEIVERS / "node_modules"), "PORT": str(port),
             "WEBQRIS_API_TOKEN": merchant.api_token,
             "WEBQRIS_CALLBACK_SECRET": merchant.callback_secret})
    try:
        _read_line_with(process, "READY", 15)
        _shop_backend_pays(f"http://127.0.0.1:{port}", "/payments/create-qris",
                           "/payments/{}/status",
                           "/forward-qris-notify")
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_seed_nextjs_route_handlers(seed_server, tmp_path: Path) -> None:
    """The seed's Next.js create, status and callback-notify routes."""
    server, merchant = seed_server
    routes = {"/api/webqris/create": NEXTJS_CREATE,
              "/api/webqris/status/[invoiceId]": NEXTJS_STATUS,
              "/api/webqris/callback-notify": NEXTJS_CALLBACK}
    specs = []
    for number, (pattern, typescript) in enumerate(routes.items()):
        module = tmp_path / f"route{number}.mjs"
        module.write_text(nextjs_route(typescript, server.base_url))
        specs.append(f"{pattern}={module}")
    port = free_port()
    process = subprocess.Popen(
        ["node", str(RECEIVERS / "nextjs_routes.mjs"), str(port), *specs],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "WEBQRIS_API_TOKEN": merchant.api_token,
             "WEBQRIS_CALLBACK_SECRET": merchant.callback_secret})
    try:
        _read_line_with(process, "READY", 15)
        _shop_backend_pays(f"http://127.0.0.1:{port}", "/api/webqris/create",
                           "/api/webqris/status/{}", "/api/webqris/callback-notify")
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _read_line_with(process: subprocess.Popen[str], needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if needle in line:
                return line
            seen.append(line)
            if not line and process.poll() is not None:
                break
    raise AssertionError(f"no {needle!r} from node (exit {process.poll()}): {''.join(seen)}")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_seed_websocket_snippet_survives_its_own_keep_alive_in_node(seed_server) -> None:
    """The snippet JSON-parses every message: a plain-text pong crashed the Node process on
    the first keep-alive. It now runs through hundreds of pongs and still hears the payment."""
    if not (RECEIVERS / "node_modules" / "ws").is_dir():
        pytest.fail("ws is not installed: run `npm install --prefix tests/receivers --no-audit"
                    " --no-fund`")
    server, merchant = seed_server
    snippet = (SEED_WEBSOCKET.replace("wss://webqris.com", server.base_url.replace("http", "ws"))
               .replace("YOUR_API_TOKEN", merchant.api_token))
    process = subprocess.Popen(["node", "-e", NODE_WEBSOCKET_HARNESS % snippet],
                               cwd=RECEIVERS, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        _read_line_with(process, "OPEN", 15)
        _read_line_with(process, "PONGS 200", 30)
        auth = {"Authorization": f"Bearer {merchant.api_token}"}
        invoice = httpx.post(f"{server.base_url}/api/payments/qris/create",
                             json={"amount": 25000}, headers=auth).json()
        paid = httpx.post(f"{server.base_url}/api/callback/notify",
                          json={"amount": invoice["total_amount"]},
                          headers={"X-Callback-Key": merchant.callback_secret})
        assert paid.status_code == 200, paid.text
        heard = _read_line_with(process, "Pembayaran masuk:", 15)
        assert heard.split() == ["Pembayaran", "masuk:", invoice["invoice_id"],
                                 str(invoice["total_amount"])]
        _read_line_with(process, "PONGS", 15)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
