"""The command line, run as a user runs it: a subprocess of `python webqris.py ...`."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from conftest import ROOT, STAFF_PASSWORD, STATIC_QRIS, add_account, add_merchant, free_port
from test_webhooks import Receiver, seed_signature_ok, wait_until

import webqris
from parsers import qris


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "webqris.py"), *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_first_start_creates_database_and_prints_password_once(tmp_path: Path,
                                                               server_factory) -> None:
    # No --db: the default file ./webqris.db appears in the working folder.
    server = server_factory(tmp_path / "webqris.db", pass_db=False)
    server.stop()
    assert (tmp_path / "webqris.db").exists()
    match = re.search(r"Admin password \(shown once[^)]*\): (\S+)", server.log_path.read_text())
    assert match, server.log_path.read_text()
    store = webqris.Store(str(tmp_path / "webqris.db"))
    store.open()
    stored = store.read(webqris.find_account, "admin")["password_hash"]
    store.close()
    assert webqris.verify_password(match.group(1), stored)
    assert match.group(1) not in stored
    second = server_factory(tmp_path / "webqris.db", pass_db=False)
    second.stop()
    assert "Admin password" not in second.log_path.read_text()


def test_demo_prints_working_credentials_and_curl(tmp_path: Path, server_factory) -> None:
    server = server_factory(tmp_path / "webqris.db", "--demo")
    output = server.log_path.read_text()
    token = re.search(r"API token:\s+(\S+)", output).group(1)
    assert re.search(r"Callback secret:\s+wqc_\S+", output)
    curl = next(line for line in output.splitlines() if line.strip().startswith("curl "))
    assert token in curl and "/api/payments/qris/create" in curl
    body = json.loads(re.search(r"-d '(.*)'", curl).group(1))
    response = httpx.post(f"{server.base_url}/api/payments/qris/create", json=body,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert qris.decode(response.json()["qris_payload"]).merchant_name == "TOKO DEMO WEBQRIS"


def curl_request(line: str) -> tuple[str, dict[str, str], dict]:
    """The URL, headers and JSON body of a printed `curl -X POST` line."""
    url = re.search(r"curl -X POST '([^']+)'", line).group(1)
    headers = dict(header.split(": ", 1) for header in re.findall(r"-H '([^']+)'", line))
    return url, headers, json.loads(re.search(r"-d '(.*)'", line).group(1))


def test_demo_prints_lines_that_pay_the_payment_it_made(tmp_path: Path, server_factory) -> None:
    """It printed a forwarder line for Rp25.042 whatever the demo's total was: every invoice's
    total carries its own unique code, so the line matched nothing."""
    for line_kind in ("/api/webhook/payment", "/api/callback/notify"):
        server = server_factory(tmp_path / f"{line_kind.split('/')[2]}.db", "--demo")
        output = server.log_path.read_text()
        invoice_id = re.search(r"A demo payment of Rp[\d.]+ is waiting: \S+/pay/(INV-\S+)",
                               output).group(1)
        line = next(line for line in output.splitlines() if line_kind in line)
        url, headers, body = curl_request(line)
        paid = httpx.post(url, json=body, headers=headers)
        assert paid.status_code == 200, paid.text
        assert paid.json()["invoice_id"] == invoice_id
        token = re.search(r"API token:\s+(\S+)", output).group(1)
        status = httpx.get(f"{server.base_url}/api/payments/{invoice_id}/status",
                           headers={"Authorization": f"Bearer {token}"}).json()["data"]
        assert status["status"] == "paid"
        server.stop()


def test_a_second_serve_on_the_same_database_refuses_to_start(tmp_path: Path,
                                                              server_factory) -> None:
    first = server_factory(tmp_path / "webqris.db", "--demo")
    token = re.search(r"API token:\s+(\S+)", first.log_path.read_text()).group(1)
    second = run("serve", "--demo", "--host", "127.0.0.1", "--port", str(free_port()),
                 "--db", str(tmp_path / "webqris.db"), cwd=tmp_path)
    assert second.returncode == 1
    assert "another `webqris serve` is already running on database" in second.stderr
    assert "Traceback" not in second.stderr
    # It changed nothing: the running demo's token was not replaced by new secrets.
    created = httpx.post(f"{first.base_url}/api/payments/qris/create", json={"amount": 5000},
                         headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 200
    first.stop(kill=True)  # the kernel drops a killed process's lock
    assert server_factory(tmp_path / "webqris.db").process.poll() is None


def test_merchant_add_list_rotate(tmp_path: Path, server_factory) -> None:
    db = str(tmp_path / "shop.db")
    added = run("merchant", "add", "--name", "Toko ABC", "--qris", STATIC_QRIS, "--webhook-url",
                "https://shop.example/webhook", "--json", "--db", db, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    info = json.loads(added.stdout)
    assert set(info) == {"id", "name", "api_token", "callback_secret", "webhook_secret"}
    assert info["webhook_secret"].startswith("whsec_")
    raw = Path(db).read_bytes()
    assert info["api_token"].encode() not in raw and info["callback_secret"].encode() not in raw

    listed = run("merchant", "list", "--json", "--db", db, cwd=tmp_path)
    assert json.loads(listed.stdout)[0]["name"] == "Toko ABC"
    assert json.loads(listed.stdout)[0]["accepted_apps"] == []
    assert json.loads(listed.stdout)[0]["accept_any_app"] is False
    assert info["api_token"] not in listed.stdout

    # A shop that trusts two more apps on top of the payment apps (see test_notifications).
    strict = run("merchant", "add", "--name", "Toko Kasir", "--accept-app", "COM.EXAMPLE.POS",
                 "--accept-app", "com.example.till", "--json", "--db", db, cwd=tmp_path)
    assert strict.returncode == 0, strict.stderr
    assert "Warning" not in strict.stderr
    listed = run("merchant", "list", "--db", db, cwd=tmp_path).stdout.splitlines()
    assert listed[1].endswith("apps=payment-apps+com.example.pos+com.example.till")
    assert listed[0].endswith("apps=payment-apps")
    bad = run("merchant", "add", "--name", "X", "--accept-app", "not a package", "--db", db,
              cwd=tmp_path)
    assert bad.returncode != 0 and "not an Android package name" in bad.stderr

    server = server_factory(Path(db))
    auth = {"Authorization": f"Bearer {info['api_token']}"}
    made = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 1000},
                      headers=auth)
    assert made.status_code == 200
    status_url = f"{server.base_url}/api/payments/{made.json()['invoice_id']}/status"
    for _ in range(3):  # a backend polling: the server keeps the answer while nothing changes
        assert httpx.get(status_url, headers=auth).status_code == 200
    rotated = run("merchant", "rotate", str(info["id"]), "--secret", "api_token", "--json",
                  "--db", db, cwd=tmp_path)
    new_token = json.loads(rotated.stdout)["api_token"]
    assert httpx.get(status_url, headers=auth).status_code == 401
    assert httpx.get(status_url, headers={"Authorization": f"Bearer {new_token}"}).json()[
        "data"]["status"] == "pending"
    assert httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 1000},
                      headers=auth).status_code == 401
    assert httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 1000},
                      headers={"Authorization": f"Bearer {new_token}"}).status_code == 200


def wal_index_is_held(db: str) -> bool:
    """Whether a process holds SQLite's dead-man-switch lock on the database's wal-index (byte
    128 of the -shm file: UNIX_SHM_DMS in SQLite's os_unix.c). The first process to open the
    database while nobody holds it resets the wal-index."""
    fd = os.open(db + "-shm", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 128)
        return False
    finally:
        os.close(fd)  # this process holds no other lock on it


def test_the_command_line_writing_again_and_again_beside_a_polled_server(
        tmp_path: Path, server_factory) -> None:
    """Each command is a new process that opens the database beside the running server: the
    first opener of SQLite's shared memory resets it when no other process holds its lock, so
    a server that lost its locks (closing any descriptor it opened of those files drops them
    all; a faster status check once did) would be reset under its feet. Every rotation must
    reach the next status check, and the server must hold the lock throughout."""
    db = str(tmp_path / "shop.db")
    info = json.loads(run("merchant", "add", "--name", "Toko Ramai", "--qris", STATIC_QRIS,
                          "--json", "--db", db, cwd=tmp_path).stdout)
    server = server_factory(Path(db))
    token = info["api_token"]
    made = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 1000},
                      headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 200
    status_url = f"{server.base_url}/api/payments/{made.json()['invoice_id']}/status"
    for _ in range(6):
        for _ in range(20):  # polled between the commands: answers kept meanwhile
            assert httpx.get(status_url, headers={"Authorization": f"Bearer {token}"}
                             ).json()["data"]["status"] == "pending"
        assert wal_index_is_held(db)
        rotated = run("merchant", "rotate", str(info["id"]), "--secret", "api_token", "--json",
                      "--db", db, cwd=tmp_path)
        assert rotated.returncode == 0, rotated.stderr
        old, token = token, json.loads(rotated.stdout)["api_token"]
        assert httpx.get(status_url, headers={"Authorization": f"Bearer {old}"}
                         ).status_code == 401
    assert httpx.get(f"{server.base_url}/healthz").json()["database"] == "ok"
    assert server.process.poll() is None


def test_a_running_server_creates_with_the_qris_the_command_line_just_set(
        tmp_path: Path, server_factory) -> None:
    """The server remembers a token's merchant between creates; a QRIS set or changed from
    another process is used from the next create on, and a shop without one is told so."""
    db = str(tmp_path / "shop.db")
    info = json.loads(run("merchant", "add", "--name", "Toko Baru", "--json", "--db", db,
                          cwd=tmp_path).stdout)
    server = server_factory(Path(db))
    auth = {"Authorization": f"Bearer {info['api_token']}"}
    url = f"{server.base_url}/api/payments/qris/create"
    unset = httpx.post(url, json={"amount": 1000}, headers=auth)
    assert unset.status_code == 503 and "QRIS belum dikonfigurasi" in unset.json()["message"]
    other = qris.encode([(tag, "Toko Sebelah" if tag == "59" else value)
                         for tag, value in qris.parse_tlv(STATIC_QRIS) if tag != "63"])
    for sticker in (STATIC_QRIS, other, STATIC_QRIS):
        updated = run("merchant", "update", str(info["id"]), "--qris", sticker, "--db", db,
                      cwd=tmp_path)
        assert updated.returncode == 0, updated.stderr
        made = httpx.post(url, json={"amount": 1000}, headers=auth).json()
        assert made["qris_payload"] == qris.make_dynamic(sticker, made["total_amount"])


def test_merchant_update_changes_what_is_given_and_a_running_server_follows(
        tmp_path: Path, server_factory) -> None:
    db = str(tmp_path / "shop.db")
    info = json.loads(run("merchant", "add", "--name", "Toko ABC", "--qris", STATIC_QRIS,
                          "--webhook-url", "https://shop.example/webhook", "--json", "--db", db,
                          cwd=tmp_path).stdout)
    server = server_factory(Path(db))
    auth = {"Authorization": f"Bearer {info['api_token']}"}
    forwarder = {"Authorization": f"Bearer {info['callback_secret']}"}

    def pay(app: str, amount: int, notif_id: str) -> httpx.Response:
        made = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": amount},
                          headers=auth).json()
        total = f"{made['total_amount']:,}".replace(",", ".")
        return httpx.post(f"{server.base_url}/api/webhook/payment", headers=forwarder, json={
            "app": app, "notif_id": notif_id,
            "message": f"Kamu berhasil menerima Rp{total} dari JOHN DOE"})

    # By default only payment apps pay; a trusted app pays from the running server's next
    # request.
    assert pay("com.example.chat", 40000, "n0").status_code == 404
    strict = run("merchant", "update", str(info["id"]), "--accept-app", "COM.EXAMPLE.POS",
                 "--json", "--db", db, cwd=tmp_path)
    assert strict.returncode == 0, strict.stderr
    shown = json.loads(strict.stdout)
    assert shown["accepted_apps"] == ["com.example.pos"]
    assert shown["name"] == "Toko ABC" and shown["qris_configured"] is True
    assert shown["webhook_url"] == "https://shop.example/webhook"
    assert info["api_token"] not in strict.stdout
    refused = pay("com.example.chat", 41000, "n1")
    assert refused.status_code == 404 and refused.json()["app_accepted"] is False
    assert pay("com.example.pos", 41500, "n1b").status_code == 200
    assert pay("id.dana", 42000, "n2").status_code == 200

    # Any app is an explicit, warned opt-in, and can be taken back.
    opened = run("merchant", "update", str(info["id"]), "--any-app", "--name", " Toko Baru ",
                 "--webhook-url", "", "--no-accepted-apps", "--db", db, cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert "Warning" in opened.stderr and "anybody" in opened.stderr
    assert opened.stdout.strip() == f"{info['id']}\tToko Baru\tqris=yes\twebhook=-\tapps=ANY"
    assert pay("com.example.chat", 43000, "n3").status_code == 200
    closed = run("merchant", "update", str(info["id"]), "--payment-apps-only", "--db", db,
                 cwd=tmp_path)
    assert closed.stdout.strip().endswith("apps=payment-apps"), closed.stderr
    assert pay("com.example.chat", 44000, "n4").status_code == 404

    # Refusals change nothing and say why, without a traceback.
    for args, words in ((["--qris", STATIC_QRIS[:-4] + "0000"], "checksum"),
                        (["--webhook-url", "ftp://x"], "webhook_url must be an http(s) URL"),
                        (["--accept-app", "not a package"], "not an Android package name"),
                        (["--accept-app", "id.dana", "--no-accepted-apps"], "contradict"),
                        (["--name", "  "], "name is required"),
                        ([], "nothing to change")):
        refused = run("merchant", "update", str(info["id"]), *args, "--db", db, cwd=tmp_path)
        assert refused.returncode != 0 and words in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    missing = run("merchant", "update", "999", "--name", "X", "--db", db, cwd=tmp_path)
    assert missing.returncode != 0 and "no merchant with id 999" in missing.stderr
    listed = json.loads(run("merchant", "list", "--json", "--db", db, cwd=tmp_path).stdout)
    assert [(m["name"], m["webhook_url"], m["accepted_apps"]) for m in listed] == [
        ("Toko Baru", None, [])]

    # The audit log says what the command line did, as it does for the dashboard.
    rotated = run("merchant", "rotate", str(info["id"]), "--secret", "webhook_secret", "--db", db,
                  cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    with sqlite3.connect(db) as conn:
        logged = conn.execute("SELECT action, after, address FROM audit_log ORDER BY id").fetchall()
    assert [(action, address) for action, _, address in logged] == [
        ("merchant.create", "command line"), ("merchant.update", "command line"),
        ("merchant.update", "command line"), ("merchant.update", "command line"),
        ("merchant.rotate_secret", "command line")]
    assert json.loads(logged[1][1]) == {"accepted_apps": "com.example.pos"}
    assert all(info[kind] not in str(logged) for kind in webqris.MERCHANT_SECRETS)
    server.stop()


def test_merchant_add_refuses_bad_qris_in_plain_words(tmp_path: Path) -> None:
    broken = STATIC_QRIS[:-4] + "0000"
    result = run("merchant", "add", "--name", "X", "--qris", broken, "--db",
                 str(tmp_path / "x.db"), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "checksum" in result.stderr.lower() or "crc" in result.stderr.lower()


def test_admin_set_password_from_stdin(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    result = run("admin", "set-password", "--db", db, cwd=tmp_path, stdin="correct horse\n")
    assert result.returncode == 0, result.stderr
    stored = sqlite3.connect(db).execute(
        "SELECT password_hash FROM accounts WHERE username = 'admin'").fetchone()[0]
    assert webqris.verify_password("correct horse", stored)
    assert not webqris.verify_password("wrong", stored)
    audited = sqlite3.connect(db).execute("SELECT action, address FROM audit_log").fetchall()
    assert audited == [("admin.set_password", "command line")]
    short = run("admin", "set-password", "--db", db, cwd=tmp_path, stdin="short\n")
    assert short.returncode != 0 and "8 characters" in short.stderr


def test_qris_decode_and_dynamic(tmp_path: Path) -> None:
    decoded = run("qris", "decode", STATIC_QRIS, cwd=tmp_path)
    assert decoded.returncode == 0
    assert json.loads(decoded.stdout)["merchant_name"] == "Warung Sayur Bu Sugeng"
    dynamic = run("qris", "dynamic", STATIC_QRIS, "25042", cwd=tmp_path)
    assert dynamic.stdout.strip() == qris.make_dynamic(STATIC_QRIS, 25042)
    bad = run("qris", "decode", "hello", cwd=tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr + bad.stdout
    assert json.loads(bad.stdout)["valid"] is False


def test_backup_is_a_consistent_copy_while_serving(tmp_path: Path, server_factory) -> None:
    db = tmp_path / "live.db"
    merchant = add_merchant(db)
    server = server_factory(db)
    ids = [httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 1000 + i},
                      headers=merchant.auth).json()["invoice_id"] for i in range(10)]
    result = run("backup", str(tmp_path / "copy.db"), "--db", str(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {r[0] for r in copy.execute("SELECT invoice_id FROM invoices")} == set(ids)
    copy.close()
    again = run("backup", str(tmp_path / "copy.db"), "--db", str(db), cwd=tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr


def test_backup_is_private_and_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    """A backup holds the webhook secrets (they sign "paid" to the shop): it used to be
    readable by every user of the machine. Into a folder that does not exist, it used to
    print a traceback."""
    db = tmp_path / "webqris.db"
    add_merchant(db)
    missing = run("backup", str(tmp_path / "backups" / "copy.db"), "--db", str(db), cwd=tmp_path)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines() == [
        f"Error: cannot write {tmp_path / 'backups' / 'copy.db'}: No such file or directory"
        " (its folder must exist and be writable)"]
    previous_umask = os.umask(0o022)  # the usual one: new files readable by every user
    try:
        made = run("backup", str(tmp_path / "copy.db"), "--db", str(db), cwd=tmp_path)
    finally:
        os.umask(previous_umask)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((tmp_path / "copy.db").stat().st_mode) == 0o600
    assert f"webqris restore --backup {tmp_path / 'copy.db'}" in made.stdout


def test_export_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "webqris.db"
    add_merchant(db)
    target = tmp_path / "exports" / "november.csv"
    result = run("export", "payments", "-o", str(target), "--db", str(db), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot write {target}: No such file or directory"]


def test_a_command_that_reads_does_not_make_a_database_at_a_mistyped_path(
        tmp_path: Path) -> None:
    """`merchant list --db` with a typo (say, in the README's restore drill) used to create an
    empty database there and list nothing, as if the shop had no merchants."""
    for command in (("merchant", "list"), ("user", "list"), ("merchant", "export", "1"),
                    ("export", "payments", "-o", str(tmp_path / "payments.csv")),
                    ("export", "notifications"), ("prune",)):
        result = run(*command, "--db", str(tmp_path / "drll.db"), cwd=tmp_path)
        assert result.returncode == 1, command
        assert result.stderr.strip() == f"Error: no database at {tmp_path / 'drll.db'}", command
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_backup_taken_under_load_restores_on_a_new_machine(tmp_path: Path,
                                                             server_factory) -> None:
    """The README's drill: bills paid and pending, webhooks waiting for a shop server that is
    down, a cashier; `webqris backup` while creates and payments go on; the machine dies;
    `webqris restore --backup` on a new one. Every bill acknowledged before the backup is
    back with its status, the waiting webhooks go out, the tokens and accounts work, and a
    payment after the restore matches."""
    shop_server = Receiver(default=503)  # the shop's backend is down
    with contextlib.ExitStack() as closing:
        closing.callback(shop_server.close)
        db = tmp_path / "shop" / "webqris.db"
        db.parent.mkdir()
        merchant = add_merchant(db, webhook_url=shop_server.url)
        add_account(db, "owner", "admin")
        add_account(db, "sari", "cashier", (merchant.id,))
        # Retries every 0.3 s for a minute: the deliveries still wait when the backup runs.
        env = {"WEBQRIS_WEBHOOKS_RETRY_DELAYS": "[" + ", ".join(["0.3"] * 200) + "]"}
        server = server_factory(db, env=env)
        client = closing.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
        forwarder = {"Authorization": f"Bearer {merchant.callback_secret}"}

        def create(amount: int) -> dict:
            made = client.post("/api/payments/qris/create", json={"amount": amount},
                               headers=merchant.auth)
            assert made.status_code == 200, made.text
            return made.json()

        def pay(invoice: dict, sender: httpx.Client | None = None) -> httpx.Response:
            total = f"{invoice['total_amount']:,}".replace(",", ".")
            return (sender or client).post("/api/webhook/payment", headers=forwarder, json={
                "app": "id.dana", "notif_id": invoice["invoice_id"],
                "message": f"Kamu berhasil menerima Rp{total} dari BUDI"})

        acknowledged: dict[str, str] = {}
        for number in range(8):
            invoice = create(10_000 + number)
            acknowledged[invoice["invoice_id"]] = "pending"
            if number % 2:
                assert pay(invoice).json()["invoice_id"] == invoice["invoice_id"]
                acknowledged[invoice["invoice_id"]] = "paid"
        wait_until(lambda: shop_server.count() >= 4, what="the first failed deliveries")

        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=server.base_url, timeout=10) as loader:
                number = 0
                while not stop.is_set():
                    number += 1
                    made = loader.post("/api/payments/qris/create",
                                       json={"amount": 20_000 + number}, headers=merchant.auth)
                    if number % 2 == 0 and made.status_code == 200:
                        pay(made.json(), loader)

        writer = threading.Thread(target=load)
        writer.start()
        try:
            backup = run("backup", str(tmp_path / "backup.db"), "--db", str(db), cwd=tmp_path)
        finally:
            stop.set()
            writer.join()
        assert backup.returncode == 0, backup.stderr
        server.stop(kill=True)  # the machine is gone

        new_db = tmp_path / "new-machine" / "webqris.db"
        new_db.parent.mkdir()
        restored = run("restore", "--backup", str(tmp_path / "backup.db"), str(new_db),
                       cwd=tmp_path)
        assert restored.returncode == 0, restored.stderr
        assert "integrity check ok" in restored.stdout
        shop_server.default = 200  # the shop's backend is back
        server = server_factory(new_db, env=env)
        client = closing.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
        for invoice_id, status in acknowledged.items():
            answer = client.get(f"/api/payments/{invoice_id}/status", headers=merchant.auth)
            assert answer.status_code == 200 and answer.json()["data"]["status"] == status

        def delivered() -> set[str]:
            return {json.loads(request.body)["data"]["invoice_id"]
                    for request in shop_server.requests[:] if seed_signature_ok(
                        request, merchant.webhook_secret)
                    and request.headers.get("x-webhook-signature")}

        paid_before = {i for i, status in acknowledged.items() if status == "paid"}
        wait_until(lambda: paid_before <= delivered(), what="the waiting webhooks")
        for username in ("owner", "sari"):
            login = client.post("/admin/api/login",
                                json={"username": username, "password": STAFF_PASSWORD})
            assert login.status_code == 200, (username, login.text)
        pending = next(i for i, status in acknowledged.items() if status == "pending")
        status = client.get(f"/api/payments/{pending}/status", headers=merchant.auth)
        paid = pay(status.json()["data"])
        assert paid.status_code == 200 and paid.json()["invoice_id"] == pending
        wait_until(lambda: pending in delivered(), what="the webhook of a payment after restore")


def test_restore_refuses_beside_a_wal_the_old_database_left(tmp_path: Path,
                                                           server_factory) -> None:
    """After a crash the old database's -wal stays beside it. Restoring a backup to that path
    (the old file moved away) used to let SQLite replay that log onto the restored copy at the
    next start: a corrupt database, served as healthy."""
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    server = server_factory(db)
    for number in range(5):
        httpx.post(f"{server.base_url}/api/payments/qris/create",
                   json={"amount": 10_000 + number}, headers=merchant.auth)
    assert run("backup", str(tmp_path / "backup.db"), "--db", str(db),
               cwd=tmp_path).returncode == 0
    for number in range(200):  # pages the backup does not have, in the -wal
        httpx.post(f"{server.base_url}/api/payments/qris/create",
                   json={"amount": 20_000 + number, "customer_name": "x" * 200},
                   headers=merchant.auth)
    server.stop(kill=True)
    wal = Path(f"{db}-wal")
    assert wal.exists()
    db.rename(tmp_path / "webqris.db.broken")
    refused = run("restore", "--backup", str(tmp_path / "backup.db"), str(db), cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{db}-wal is left from the database that was at {db}" in refused.stderr
    assert not db.exists()
    wal.rename(tmp_path / "webqris.db.broken-wal")
    Path(f"{db}-shm").unlink(missing_ok=True)
    assert run("restore", "--backup", str(tmp_path / "backup.db"), str(db),
               cwd=tmp_path).returncode == 0
    copy = sqlite3.connect(db)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM invoices").fetchone()[0] == 5
    copy.close()


def test_restore_backup_refuses_what_is_not_a_webqris_backup(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database")
    for source, message in ((tmp_path / "nothing.db", "no backup file at"),
                            (tmp_path / "notes.txt", "is not a WebQRIS database")):
        result = run("restore", "--backup", str(source), str(tmp_path / "webqris.db"),
                     cwd=tmp_path)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "webqris.db").exists()


def test_parse_prints_json_and_exit_status(tmp_path: Path) -> None:
    found = run("parse", "--app", "com.dana.id", "--title", "DANA", "--message",
                "Kamu berhasil menerima Rp25.042 dari JOHN DOE", cwd=tmp_path)
    assert found.returncode == 0
    assert json.loads(found.stdout) == {"amount": 25042, "sender_name": "JOHN DOE",
                                        "parser": "dana", "trusted": True, "reason": None}
    outgoing = run("parse", "--app", "id.dana", "--message",
                   "Kamu berhasil membayar Rp25.042 ke Toko", cwd=tmp_path)
    assert outgoing.returncode == 1
    assert json.loads(outgoing.stdout) == {"amount": None, "sender_name": None, "parser": None,
                                           "trusted": True, "reason": None}
    # Read, but it would not pay: the words come from a mail app.
    mailed = json.loads(run("parse", "--app", "com.google.android.gm", "--title", "x",
                            "--message", "Kamu berhasil menerima Rp25.042 dari JOHN DOE",
                            cwd=tmp_path).stdout)
    assert mailed["amount"] == 25042 and mailed["trusted"] is False
    assert "com.google.android.gm" in mailed["reason"]
    unnamed = json.loads(run("parse", "--message", "Kamu berhasil menerima Rp25.042",
                             cwd=tmp_path).stdout)
    assert unnamed["trusted"] is False and "names no app" in unnamed["reason"]
