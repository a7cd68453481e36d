"""CSV exports for the bookkeeper: the payments list's filters, streamed from a read-only
connection on a thread of its own (a year of payments never sits in the server's memory), the
same bytes from `webqris export`."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import sqlite3
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from conftest import Merchant, add_merchant
from starlette.testclient import TestClient

import webqris

PASSWORD = "kata sandi rahasia"
ZONE = webqris.local_zone("Asia/Jakarta")


def set_password(db_path: Path) -> None:
    store = webqris.Store(str(db_path))
    store.open()
    store.write_now(webqris.put_admin_account, webqris.hash_password(PASSWORD))
    store.close()


def logged_in(app_factory, db_path: Path) -> TestClient:
    set_password(db_path)
    client = app_factory()
    answer = client.post("/admin/api/login", json={"password": PASSWORD})
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def make_day(client: TestClient, merchant: Merchant) -> dict[str, dict]:
    """A paid bill, a pending one with an accented name and an order id that looks like a
    formula, and a cancelled one; an unmatched notification."""
    def create(amount: int, **fields: object) -> dict:
        answer = client.post("/api/payments/qris/create", json={"amount": amount, **fields},
                             headers=merchant.auth)
        assert answer.status_code == 200, answer.text
        return answer.json()

    paid = create(25_000, merchant_order_id="ORDER-1")
    assert client.post("/api/callback/notify", json={"amount": paid["total_amount"],
                                                     "sender_name": "JOHN DOE"},
                       headers={"X-Callback-Key": merchant.callback_secret}).status_code == 200
    pending = create(40_000, merchant_order_id="=HYPERLINK(\"http://evil\")",
                     customer_name="Sérgio Ñúñez")
    cancelled = create(10_000)
    client.post(f"/api/payments/{cancelled['invoice_id']}/cancel", headers=merchant.auth)
    client.post("/api/webhook/payment", json={
        "app": "id.dana", "message": "Kamu berhasil menerima Rp99.999 dari SITI"},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    return {"paid": paid, "pending": pending, "cancelled": cancelled}


def test_payments_csv_has_indonesian_columns_rupiah_integers_and_both_times(
        app_factory, db_path: Path, merchant: Merchant) -> None:
    client = logged_in(app_factory, db_path)
    bills = make_day(client, merchant)
    answer = client.get("/admin/api/payments.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith(
        'attachment; filename="webqris-tagihan-')
    assert answer.content.startswith("\ufeff".encode())
    rows = rows_of(answer.content)
    assert list(rows[0]) == [
        "No. tagihan", "ID pesanan", "Toko", "Status", "Nominal", "Kode unik", "Total",
        "Pengirim", "Nama pelanggan", "Metode", "Dibuat (Asia/Jakarta)", "Dibuat (UTC)",
        "Lunas pada (Asia/Jakarta)", "Lunas pada (UTC)"]
    by_id = {row["No. tagihan"]: row for row in rows}
    paid = by_id[bills["paid"]["invoice_id"]]
    assert (paid["Status"], paid["Total"], paid["Pengirim"], paid["Metode"]) == (
        "lunas", str(bills["paid"]["total_amount"]), "JOHN DOE", "callback")
    utc = datetime.datetime.fromisoformat(paid["Lunas pada (UTC)"].replace("Z", "+00:00"))
    local = datetime.datetime.strptime(paid["Lunas pada (Asia/Jakarta)"], "%Y-%m-%d %H:%M:%S")
    assert utc.astimezone(ZONE).replace(tzinfo=None, microsecond=0) == local
    pending = by_id[bills["pending"]["invoice_id"]]
    assert pending["Status"] == "menunggu" and pending["Nama pelanggan"] == "Sérgio Ñúñez"
    assert pending["ID pesanan"] == "'=HYPERLINK(\"http://evil\")"  # shown, never run
    assert pending["Lunas pada (UTC)"] == ""
    assert by_id[bills["cancelled"]["invoice_id"]]["Status"] == "dibatalkan"
    only_paid = rows_of(client.get("/admin/api/payments.csv?status=paid").content)
    assert [row["No. tagihan"] for row in only_paid] == [bills["paid"]["invoice_id"]]
    assert rows_of(client.get("/admin/api/payments.csv?q=ORDER-1").content)[0]["Total"] == \
        str(bills["paid"]["total_amount"])


def test_notifications_csv_lists_each_notification_with_its_outcome(
        app_factory, db_path: Path, merchant: Merchant) -> None:
    client = logged_in(app_factory, db_path)
    bills = make_day(client, merchant)
    rows = rows_of(client.get("/admin/api/notifications.csv").content)
    assert [row["Hasil"] for row in rows] == ["tidak cocok", "cocok"]
    assert rows[0]["Nominal terbaca"] == "99999" and rows[0]["Aplikasi"] == "id.dana"
    assert rows[1]["No. tagihan"] == bills["paid"]["invoice_id"]
    waiting = rows_of(client.get("/admin/api/notifications.csv?outcome=needs_attention").content)
    assert len(waiting) == 1
    assert waiting[0]["Diselesaikan sebagai"] == ""

    # Money resolved as belonging to no bill says so, with the owner's note, and no longer waits.
    resolved = client.post(f"/admin/api/notifications/{waiting[0]['ID notifikasi']}/resolve",
                           json={"resolution": "no_bill", "note": "=uang pribadi"})
    assert resolved.status_code == 200, resolved.text
    [row, _] = rows_of(client.get("/admin/api/notifications.csv").content)
    assert (row["Hasil"], row["Diselesaikan sebagai"], row["Catatan"]) == \
        ("tidak cocok", "bukan untuk tagihan", "'=uang pribadi")
    assert row["Diselesaikan (UTC)"] != ""
    assert rows_of(client.get("/admin/api/notifications.csv?outcome=needs_attention").content) \
        == []


def test_exports_need_a_login_and_refuse_bad_filters(app_factory, db_path: Path,
                                                     merchant: Merchant) -> None:
    client = app_factory()
    assert client.get("/admin/api/payments.csv").status_code == 401
    client = logged_in(app_factory, db_path)
    bad = client.get("/admin/api/payments.csv?status=lunas")
    assert bad.status_code == 400 and bad.json()["success"] is False
    assert client.get("/admin/api/notifications.csv?merchant_id=x").status_code == 400


def test_the_cli_export_is_byte_for_byte_the_dashboards(app_factory, db_path: Path,
                                                        merchant: Merchant,
                                                        tmp_path: Path) -> None:
    client = logged_in(app_factory, db_path)
    make_day(client, merchant)
    other = add_merchant(db_path, name="Warung Sebelah")
    client.post("/api/payments/qris/create", json={"amount": 7_000}, headers=other.auth)
    today = datetime.datetime.now(ZONE).date()
    start = datetime.datetime.combine(today, datetime.time(), ZONE)
    since_ms = int(start.timestamp() * 1000)
    until_ms = int((start + datetime.timedelta(days=1)).timestamp() * 1000)
    dashboard = client.get(f"/admin/api/payments.csv?merchant_id={merchant.id}"
                           f"&from={since_ms}&to={until_ms}").content
    output = tmp_path / "tagihan.csv"
    result = CliRunner().invoke(webqris.cli, [
        "export", "payments", "--since", today.isoformat(), "--until", today.isoformat(),
        "--merchant", str(merchant.id), "--output", str(output), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes() == dashboard
    assert len(rows_of(dashboard)) == 3
    everything = CliRunner().invoke(webqris.cli, ["export", "notifications", "--db",
                                                  str(db_path)])
    assert everything.stdout_bytes == client.get("/admin/api/notifications.csv").content
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    none = CliRunner().invoke(webqris.cli, ["export", "payments", "--until", yesterday,
                                            "--db", str(db_path)])
    assert rows_of(none.stdout_bytes) == []
    wrong = CliRunner().invoke(webqris.cli, ["export", "payments", "--since", "kemarin",
                                             "--db", str(db_path)])
    assert wrong.exit_code == 2 and "not a date" in wrong.output


def fill_paid_invoices(db_path: Path, merchant: Merchant, count: int) -> int:
    """`count` paid invoices straight into the file (the API would take minutes); returns the
    sum of their totals."""
    conn = sqlite3.connect(db_path)
    at = webqris.now_ms() - count * 1000
    rows = [(f"INV-{at // 1000 + i}-{i:06d}", merchant.id, f"ORDER-{i}", "Pelanggan Setia",
             10_000 + i % 5000, i % 999 + 1, 10_000 + i % 5000 + i % 999 + 1, "000201",
             "paid", "id.dana", "BUDI SANTOSO", at + i * 1000, at + i * 1000 + 1800_000,
             at + i * 1000 + 30_000, at + i * 1000 + 30_000) for i in range(count)]
    with conn:
        conn.executemany(
            "INSERT INTO invoices (invoice_id, merchant_id, merchant_order_id, customer_name,"
            " amount, unique_code, total_amount, qris_payload, status, payment_method,"
            " sender_name, created_at, expires_at, paid_at, closed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()
    return sum(row[6] for row in rows)


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def niced_threads(pid: int) -> set[int]:
    """The process's threads that run at a lower CPU priority than its main thread."""
    def nice(task: Path) -> int:
        return int((task / "stat").read_text().rpartition(")")[2].split()[16])  # field 19

    main = nice(Path(f"/proc/{pid}/task/{pid}"))
    niced = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            if nice(task) > main:
                niced.add(int(task.name))
    return niced


def test_an_export_of_100000_payments_streams_with_bounded_server_memory(
        server_factory, db_path: Path, merchant: Merchant) -> None:
    set_password(db_path)
    total = fill_paid_invoices(db_path, merchant, 100_000)
    server = server_factory(db_path)
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        login = http.post("/admin/api/login", json={"password": PASSWORD})
        assert login.status_code == 200
        http.get("/admin/api/payments.csv?limit=1&status=pending")  # warm up the code path
        before = resident_kib(server.process.pid)
        niced_before = niced_threads(server.process.pid)
        peak, received, niced_during = before, io.BytesIO(), set()
        started = time.monotonic()
        with http.stream("GET", "/admin/api/payments.csv") as answer:
            assert answer.status_code == 200
            for chunk in answer.iter_bytes():
                received.write(chunk)
                peak = max(peak, resident_kib(server.process.pid))
                niced_during |= niced_threads(server.process.pid)
        elapsed = time.monotonic() - started
    data = received.getvalue()
    rows = rows_of(data)
    assert len(rows) == 100_000
    assert sum(int(row["Total"]) for row in rows) == total
    assert {row["Status"] for row in rows} == {"lunas"}
    # The CSV is about 19 MB and its rows as Python objects several times that: built in memory
    # it grew the server by about 80 MiB here; streamed, by about 8 (a few pages of rows, the
    # export connection's cache, its thread).
    assert len(data) > 15_000_000
    growth_mib = (peak - before) / 1024
    assert growth_mib < 25, f"the server grew by {growth_mib:.1f} MiB in {elapsed:.1f} s"
    # The download's thread yields the CPU to the payments: it ran niced.
    assert niced_during - niced_before


def test_a_payment_method_that_looks_like_a_formula_is_shown_as_text(
        app_factory, db_path: Path, merchant: Merchant) -> None:
    # A shop that accepts any app takes the package name the phone sends as the payment method.
    client = logged_in(app_factory, db_path)
    assert client.patch(f"/admin/api/merchants/{merchant.id}",
                        json={"accept_any_app": True}).status_code == 200
    bill = client.post("/api/payments/qris/create", json={"amount": 30_000},
                       headers=merchant.auth).json()
    paid = client.post("/api/webhook/payment", json={
        "app": "=HYPERLINK(\"http://evil\")",
        "message": f"Kamu berhasil menerima Rp{bill['total_amount']} dari SITI"},
        headers={"Authorization": f"Bearer {merchant.callback_secret}"})
    assert paid.status_code == 200, paid.text
    [row] = rows_of(client.get("/admin/api/payments.csv").content)
    assert row["Metode"] == "'=HYPERLINK(\"http://evil\")"  # shown, never run
