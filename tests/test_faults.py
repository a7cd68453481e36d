"""Faults against a real `webqris serve`: a full disk, a read-only database, a webhook receiver
that hangs, a backlog of webhooks to a dead receiver, and request limits. Money must never be
lost or corrupted, and every answer the app gives is the seed's JSON error, never a 500."""

from __future__ import annotations

import contextlib
import ctypes
import json
import resource
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from conftest import (
    ROOT,
    STATIC_QRIS,
    Merchant,
    Server,
    add_merchant,
    free_port,
    start_server,
)

import parsers
import webqris

CREATE = "/api/payments/qris/create"
UNAVAILABLE = {"success": False, "message": "Database unavailable, try again shortly"}


def alternate_creates(targets: list[tuple[Server, Merchant]],
                      more: Callable[[int], bool]) -> list[list[float]]:
    """Creates on each (server, merchant) in turn, the order flipped every round, while
    `more(round)`: whatever else loads the machine weighs on every server alike. Returns the
    seconds each create took, per server (each must succeed)."""
    latencies: list[list[float]] = [[] for _ in targets]
    clients = [httpx.Client(base_url=server.base_url, headers=merchant.auth, timeout=10)
               for server, merchant in targets]
    try:
        rounds = 0
        while more(rounds):
            order = range(len(targets)) if rounds % 2 else reversed(range(len(targets)))
            for which in order:
                started = time.perf_counter()
                response = clients[which].post(CREATE, json={"amount": 20_000 + rounds})
                latencies[which].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            rounds += 1
    finally:
        for client in clients:
            client.close()
    return latencies


def quiet_twin(tmp_path: Path, server_factory) -> tuple[Server, Merchant]:
    """A server like the one under test, with nothing wrong: the baseline."""
    db = tmp_path / "quiet" / "webqris.db"
    db.parent.mkdir()
    merchant = add_merchant(db, name="Toko Tenang")
    return server_factory(db), merchant


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def p99(samples: list[float]) -> float:
    return percentile(samples, 0.99)


def p90(samples: list[float]) -> float:
    return percentile(samples, 0.90)


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


# --- disk full ------------------------------------------------------------------------------


def test_disk_full_is_503_reads_go_on_and_writes_resume(db_path: Path, merchant: Merchant,
                                                       server_factory) -> None:
    """The server's file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so a write past it
    fails with EFBIG, as on a full disk) is set a little above the database's size. Creates
    fill it until SQLite cannot write: each then gets a clean 503, never a 500 or a hang;
    status reads and /healthz go on. Lifting the limit, creates work again without a restart,
    and every invoice that got a 200 is in an intact database."""
    server = server_factory(db_path)
    biggest = max(path.stat().st_size for path in db_path.parent.glob("webqris.db*"))
    acknowledged: dict[str, int] = {}  # invoice_id -> total_amount
    statuses: list[int] = []
    # Wide rows: each commit writes several 4 KiB WAL frames, so the limit is reached soon.
    padding = {"customer_name": "y" * 255}

    def create(i: int, http: httpx.Client) -> int:
        response = http.post(CREATE, json={"amount": 1_000 + i,
                                           "merchant_order_id": f"{i:06d}-" + "x" * 240,
                                           **padding})
        assert response.headers["content-type"] == "application/json"
        if response.status_code == 200:
            acknowledged[response.json()["invoice_id"]] = response.json()["total_amount"]
        else:
            assert (response.status_code, response.json()) == (503, UNAVAILABLE)
        statuses.append(response.status_code)
        return response.status_code

    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE,
                     (biggest + 256 * 1024, resource.RLIM_INFINITY))
    try:
        with httpx.Client(base_url=server.base_url, headers=merchant.auth, timeout=10) as http, \
                ThreadPoolExecutor(8) as pool:
            for start in range(0, 2_000, 8):  # concurrent creates (group commits) until full
                if 503 in list(pool.map(create, range(start, start + 8), [http] * 8)):
                    break
            assert 503 in statuses, "the database never filled up"
            consecutive = 0  # then one at a time, until not even one create fits
            for i in range(start + 8, start + 208):
                consecutive = consecutive + 1 if create(i, http) == 503 else 0
                if consecutive == 5:
                    break
            assert consecutive == 5
            assert acknowledged
            for invoice_id in list(acknowledged)[-3:]:
                status = http.get(f"/api/payments/{invoice_id}/status")
                assert status.status_code == 200
                assert status.json()["data"]["status"] == "pending"
            assert http.get("/healthz").status_code == 200
    finally:
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    with httpx.Client(base_url=server.base_url, headers=merchant.auth, timeout=10) as http:
        for i in range(3):
            assert create(10_000 + i, http) == 200
    server.stop()
    assert set(statuses) == {200, 503}
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    stored = dict(query(db_path, "SELECT invoice_id, total_amount FROM invoices"))
    assert stored == acknowledged
    log = server.log_path.read_text()
    assert "store unavailable on POST /api/payments/qris/create" in log
    assert "Traceback" not in log


# --- read-only database ---------------------------------------------------------------------

# <sched.h> and <sys/mount.h>
CLONE_NEWNS = 0x20000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18


def bind_mount(path: Path, *, read_only: bool) -> Callable[[], None]:
    """A preexec_fn: the child gets a mount namespace of its own in which `path` (a file or a
    folder) is bind-mounted onto itself, read-only if asked. We run as root, which ignores
    file modes but not a read-only mount; nothing outside the child sees the mount, and it
    goes away with the child."""
    def enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        target = str(path).encode()
        calls = [(libc.unshare, CLONE_NEWNS),
                 (libc.mount, b"none", b"/", None, MS_REC | MS_PRIVATE, None),
                 (libc.mount, target, target, None, MS_BIND, None)]
        if read_only:
            calls.append((libc.mount, b"none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY,
                          None))
        for function, *args in calls:
            if function(*args) != 0:
                raise OSError(ctypes.get_errno(), "cannot set up the mount namespace")
    return enter


@pytest.fixture
def mount_namespaces(tmp_path: Path) -> None:
    try:
        subprocess.run(["true"], preexec_fn=bind_mount(tmp_path, read_only=True), check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"no private read-only bind mounts in this sandbox: {exc}")


@pytest.mark.parametrize("what", ["folder", "file"])
def test_read_only_database_refuses_to_start_with_one_line(db_path: Path, merchant: Merchant,
                                                           mount_namespaces: None,
                                                           server_factory, what: str) -> None:
    """A gateway that cannot record a payment must not look healthy: on a read-only database
    (its folder, or only the file, so SQLite can still make its -wal and -shm beside it) the
    server exits at once with one clear line. It used to start and answer every create with
    a 500 (or, before an admin password was stored, die with a traceback trying to store one)."""
    target = db_path.parent if what == "folder" else db_path
    # The same namespace and mount, writable: the server starts (so the mount is not the cause).
    server_factory(db_path, preexec_fn=bind_mount(target, read_only=False)).stop()
    with pytest.raises(RuntimeError, match="server exited") as refused:
        server_factory(db_path, preexec_fn=bind_mount(target, read_only=True))
    output = str(refused.value).removeprefix("server exited: ")
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith(f"Error: cannot open database {db_path}: ")
    assert "readonly" in lines[0] or "unable to open" in lines[0]
    assert "must be able to write" in lines[0]
    # Nothing was harmed: the database is intact and still has its merchant.
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert query(db_path, "SELECT name FROM merchants") == [(merchant.name,)]


# --- the database file deleted, replaced or made unwritable under a running server -----------


def file_problem_lines(server: Server) -> list[str]:
    """The lines the file check logged (each refused request also logs its own line)."""
    return [line for line in server.log_path.read_text().splitlines()
            if " ERROR webqris: database file " in line]


def test_deleted_database_is_503_and_its_data_is_rescued(db_path: Path, merchant: Merchant,
                                                        server_factory) -> None:
    """Deleted under a running server, the file used to go unnoticed: /healthz said 200 and
    creates said 200 while they went to the unlinked file, and a restart began an empty
    database with a new admin password. Now /healthz and every write answer 503, the log says
    so in one line, and what was recorded is saved beside the path, ready to be put back."""
    server = server_factory(db_path)
    with httpx.Client(base_url=server.base_url, headers=merchant.auth, timeout=10) as http:
        kept = http.post(CREATE, json={"amount": 21_000}).json()
        db_path.unlink()
        # At once, before any check ran: the commit itself notices where it went.
        refused = http.post(CREATE, json={"amount": 22_000})
        assert (refused.status_code, refused.json()) == (503, UNAVAILABLE)
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"success": False, "message":
                                 f"database file {db_path} was deleted while the server was"
                                 " running"}
        refused = http.post(CREATE, json={"amount": 23_000})
        assert (refused.status_code, refused.json()) == (503, UNAVAILABLE)
        # Reads of what was recorded go on: the connection still holds the file.
        status = http.get(f"/api/payments/{kept['invoice_id']}/status")
        assert status.json()["data"]["status"] == "pending"
    server.stop()
    [line] = [line for line in file_problem_lines(server) if "was deleted" in line]
    assert "payments are refused from now on" in line and "restart webqris serve" in line
    assert "Traceback" not in server.log_path.read_text()
    [rescued] = db_path.parent.glob("webqris.db.rescued-*")
    assert f"saved in {rescued}: put it at {db_path}" in line
    # The one refused by its commit may be there too (it paid nothing, it will expire).
    assert (kept["invoice_id"],) in query(rescued, "SELECT invoice_id FROM invoices")
    assert query(rescued, "SELECT count(*) FROM invoices WHERE amount = 23000") == [(0,)]
    assert not db_path.exists()
    # Put back as the log says, the shop has its data and its admin password.
    rescued.rename(db_path)
    again = server_factory(db_path)
    assert "Admin password" not in again.log_path.read_text()
    status = httpx.get(f"{again.base_url}/api/payments/{kept['invoice_id']}/status",
                       headers=merchant.auth)
    assert status.json()["data"]["status"] == "pending"


def test_a_visitor_learns_the_database_is_down_but_not_where_it_is(
        db_path: Path, merchant: Merchant, server_factory) -> None:
    # /healthz is open to anyone (an uptime monitor needs no key), and its 503 named the
    # database's path on the server to every visitor behind a proxy.
    server = server_factory(db_path, env={"WEBQRIS_METRICS_TOKEN": "scrape-secret"})
    db_path.unlink()
    visitor = httpx.get(f"{server.base_url}/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert visitor.status_code == 503
    assert visitor.json()["success"] is False
    assert db_path.parent.name not in visitor.text and "webqris.db" not in visitor.text
    operator = httpx.get(f"{server.base_url}/healthz", headers={
        "X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer scrape-secret"})
    assert operator.status_code == 503
    assert f"database file {db_path} was deleted" in operator.json()["message"]


def test_replaced_database_is_503_and_nothing_goes_to_the_old_file(db_path: Path,
                                                                    merchant: Merchant,
                                                                    server_factory) -> None:
    server = server_factory(db_path)
    other = db_path.parent / "other" / "webqris.db"
    other.parent.mkdir()
    add_merchant(other, name="Toko Lain")
    with httpx.Client(base_url=server.base_url, headers=merchant.auth, timeout=10) as http:
        assert http.post(CREATE, json={"amount": 21_000}).status_code == 200
        old_file = db_path.parent / "old.db"
        db_path.rename(old_file)
        other.rename(db_path)
        health = http.get("/healthz")
        assert health.status_code == 503
        assert "was replaced by another file" in health.json()["message"]
        refused = http.post(CREATE, json={"amount": 22_000})
        assert (refused.status_code, refused.json()) == (503, UNAVAILABLE)
    server.stop()
    assert [line for line in file_problem_lines(server) if "was replaced" in line]
    assert query(db_path, "SELECT name FROM merchants") == [("Toko Lain",)]
    assert query(db_path, "SELECT count(*) FROM invoices") == [(0,)]
    assert query(old_file, "SELECT count(*) FROM invoices") == [(1,)]


@pytest.fixture
def immutable(db_path: Path) -> Iterator[Callable[[bool], None]]:
    """Sets or clears the file's immutable attribute (`chattr +i`), which stops even root's
    writes (a mode does not); cleared at the end whatever happened."""
    def set_immutable(on: bool) -> None:
        subprocess.run(["chattr", "+i" if on else "-i", str(db_path)], check=True,
                       capture_output=True)

    probe = db_path.parent / "probe"
    probe.write_text("")
    try:
        subprocess.run(["chattr", "+i", str(probe)], check=True, capture_output=True)
        subprocess.run(["chattr", "-i", str(probe)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no chattr +i on this file system: {exc}")
    try:
        yield set_immutable
    finally:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            set_immutable(False)


def test_unwritable_database_is_503_until_it_is_writable_again(db_path: Path, merchant: Merchant,
                                                                server_factory,
                                                                immutable) -> None:
    """/healthz said 200 on an immutable file; creates were already refused (SQLite says so
    when it writes). Both are 503 now, and both recover on their own once the file is fixed."""
    server = server_factory(db_path)
    with httpx.Client(base_url=server.base_url, headers=merchant.auth, timeout=10) as http:
        assert http.post(CREATE, json={"amount": 21_000}).status_code == 200
        immutable(True)
        try:
            health = http.get("/healthz")
            assert (health.status_code, health.json()) == (503, {
                "success": False, "message": f"database file {db_path} is not writable"})
            # Enough creates for SQLite to have to write the file itself (a checkpoint).
            statuses = {http.post(CREATE, json={"amount": 30_000 + i}).status_code
                        for i in range(20)}
            assert 503 in statuses
        finally:
            immutable(False)
        wait_for(lambda: http.get("/healthz").status_code == 200)
        assert http.post(CREATE, json={"amount": 22_000}).status_code == 200
    server.stop()
    [line] = [line for line in file_problem_lines(server) if "is not writable:" in line]
    assert "payments cannot be recorded until it is" in line
    assert "is usable again" in server.log_path.read_text()
    assert "Traceback" not in server.log_path.read_text()


# --- migrations: a newer database is refused, an older one is copied aside first ------------


def run_serve(db_path: Path) -> subprocess.CompletedProcess[str]:
    """`webqris serve` that is expected to stop by itself."""
    return subprocess.run([sys.executable, str(ROOT / "webqris.py"), "serve", "--port",
                           str(free_port()), "--db", str(db_path)],
                          capture_output=True, text=True, timeout=30, cwd=db_path.parent)


def test_serve_refuses_a_database_from_a_newer_webqris(db_path: Path, merchant: Merchant) -> None:
    conn = sqlite3.connect(db_path)
    newer = len(webqris.MIGRATIONS) + 1
    conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", (newer,))
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    result = run_serve(db_path)
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert output.splitlines() == [
        f"Error: database {db_path} was made by a newer WebQRIS (schema version {newer}; this"
        f" one knows {len(webqris.MIGRATIONS)}): upgrade WebQRIS, or start this one on a backup"
        " made before the upgrade"]
    assert db_path.read_bytes() == before
    assert not list(db_path.parent.glob("*.before-migration-*"))


def make_older_database(db_path: Path) -> int:
    """A database made by an older WebQRIS (all but the last migration applied, as the
    migrations themselves would have left it, with a setting in it); returns its version."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations"
                 " (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
    older = len(webqris.MIGRATIONS) - 1
    for version, sql in enumerate(webqris.MIGRATIONS[:older], start=1):
        conn.executescript(f"BEGIN;{sql};INSERT INTO schema_migrations VALUES ({version}, 0);"
                           "COMMIT;")
    conn.execute("INSERT INTO settings VALUES ('admin_password', 'kept')")
    conn.close()
    return older


def test_serve_copies_an_older_database_aside_before_migrating_it(db_path: Path,
                                                                  server_factory) -> None:
    older = make_older_database(db_path)
    server = server_factory(db_path)
    copy = db_path.parent / f"webqris.db.before-migration-{older + 1}"
    assert f"copied database {db_path} to {copy}" in server.log_path.read_text()
    server.stop()
    assert query(copy, "PRAGMA integrity_check") == [("ok",)]
    assert query(copy, "SELECT max(version) FROM schema_migrations") == [(older,)]
    assert query(copy, "SELECT value FROM settings WHERE key = 'admin_password'") == [("kept",)]
    assert query(db_path, "SELECT max(version) FROM schema_migrations") == [
        (len(webqris.MIGRATIONS),)]
    # Started again, nothing is pending: no second copy.
    server_factory(db_path).stop()
    assert [path.name for path in db_path.parent.glob("*.before-migration-*")] == [copy.name]


def test_nothing_migrates_the_database_under_an_older_server_still_running(
        db_path: Path) -> None:
    """After `pip install` of a new version, the old server still runs (from memory) until it
    is restarted. A command of the new version used to migrate the database under it, and a
    second, newer `serve` migrated it before finding the old one's lock and stopping."""
    older = make_older_database(db_path)
    old_server_lock = webqris.hold_serve_lock(str(db_path))  # what the older serve holds
    try:
        before = db_path.read_bytes()
        command = subprocess.run([sys.executable, str(ROOT / "webqris.py"), "merchant", "list",
                                  "--db", str(db_path)], capture_output=True, text=True,
                                 timeout=30, cwd=db_path.parent)
        assert command.returncode == 1 and "Traceback" not in command.stderr
        assert command.stderr.strip().splitlines() == [
            f"Error: database {db_path} is at schema version {older} and this WebQRIS"
            f" ({webqris.VERSION}) would migrate it to version {len(webqris.MIGRATIONS)} under"
            " the older `webqris serve` running on it: restart that server first (it migrates"
            " the database as it starts), then run this command again"]
        second = run_serve(db_path)
        assert second.returncode == 1
        assert "another `webqris serve` is already running on database" in second.stderr
        assert db_path.read_bytes() == before
        assert not list(db_path.parent.glob("*.before-migration-*"))
    finally:
        old_server_lock.close()
    # The old server stopped: the command migrates, and says so before it does.
    command = subprocess.run([sys.executable, str(ROOT / "webqris.py"), "merchant", "list",
                              "--db", str(db_path)], capture_output=True, text=True, timeout=30,
                             cwd=db_path.parent)
    assert command.returncode == 0, command.stderr
    assert command.stderr.strip().splitlines() == [
        f"Migrating database {db_path} from schema version {older} to"
        f" {len(webqris.MIGRATIONS)}; a copy of it goes to {db_path}.before-migration-"
        f"{older + 1} first"]
    assert query(db_path, "SELECT max(version) FROM schema_migrations") == [
        (len(webqris.MIGRATIONS),)]


# --- webhook receivers that hang or are gone -----------------------------------------------


class SilentReceiver:
    """Accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/webhook"
        self.connections: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                self.connections.append(self.sock.accept()[0])

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in [*self.connections, self.sock]:
            connection.close()


@pytest.fixture
def silent_receiver() -> Iterator[SilentReceiver]:
    receiver = SilentReceiver()
    yield receiver
    receiver.close()


def test_hanging_receiver_times_out_and_the_api_stays_fast(db_path: Path, tmp_path: Path,
                                                          server_factory,
                                                          silent_receiver: SilentReceiver) -> None:
    """A receiver that accepts and never answers: each attempt is cut at timeout_seconds and
    logged as a timeout; meanwhile creates go on as fast as on a twin server without it."""
    shop = add_merchant(db_path, webhook_url=silent_receiver.url)
    server = server_factory(db_path, env={"WEBQRIS_WEBHOOKS_TIMEOUT_SECONDS": "0.5",
                                          "WEBQRIS_WEBHOOKS_RETRY_DELAYS": "0.05,0.05"})
    quiet = quiet_twin(tmp_path, server_factory)
    invoice = httpx.post(f"{server.base_url}{CREATE}", json={"amount": 90_000},
                         headers=shop.auth).json()
    paid = httpx.post(f"{server.base_url}/api/callback/notify",
                      json={"amount": invoice["total_amount"]},
                      headers={"X-Callback-Key": shop.callback_secret})
    assert paid.json() == {"success": True, "invoice_id": invoice["invoice_id"]}
    wait_for(lambda: silent_receiver.connections)  # the delivery is hanging now

    def hanging(rounds: int) -> bool:  # three attempts of 0.5 s each, then "failed"
        assert rounds < 2_000, "the delivery never timed out"
        return query(db_path, "SELECT state FROM webhook_deliveries")[0][0] != "failed"

    baseline, during = alternate_creates([quiet, (server, shop)], hanging)
    # Creates kept completing while the delivery hung (a blocked API would have managed one
    # per timeout), and not slower than the twin's.
    assert len(during) >= 10
    assert p90(during) < 3 * p90(baseline) + 0.05, (p90(during), p90(baseline))
    attempts = query(db_path, "SELECT status_code, error, duration_ms FROM webhook_attempts")
    assert [(status, error) for status, error, _ in attempts] == \
        [(None, "timeout after 0.5 s")] * 3
    assert all(450 <= duration_ms < 5_000 for *_, duration_ms in attempts)
    assert query(db_path, "SELECT last_error FROM webhook_deliveries") == \
        [("timeout after 0.5 s",)]
    assert len(silent_receiver.connections) >= 1
    server.stop()
    assert "failed (attempt 3): timeout after 0.5 s" in server.log_path.read_text()


def paid_backlog(db_path: Path, shops: list[Merchant], count: int) -> None:
    """`count` invoices paid through the facts /api/callback/notify runs (create, then record
    the notification: mark paid, queue payment.paid), in one transaction before the server
    starts: the outbox then holds `count` due deliveries, as after a burst of payments."""
    payments = webqris.load_config(None, {}).payments

    def pay(conn: sqlite3.Connection) -> None:
        for i in range(count):
            shop = shops[i % len(shops)]
            invoice, _ = webqris.create_invoice(conn, webqris.InvoiceRequest(
                merchant_id=shop.id, static_qris=STATIC_QRIS, amount=10_000 + 1_000 * i,
                merchant_order_id=f"ORDER-{i}", customer_name="Budi", expires_in=1800,
                redirect_url=None, idempotency_key=None), payments)
            outcome = webqris.record_notification(
                conn, shop.id, webqris.InboundNotification(source="callback", reference=f"r{i}"),
                parsers.Parsed(amount=invoice["total_amount"], sender_name="BUDI",
                               parser="callback"), "callback", payments)
            assert outcome.outcome == "matched"

    store = webqris.Store(str(db_path))
    store.open()
    try:
        store.write_now(pay)
    finally:
        store.close()


def test_a_thousand_webhooks_to_a_dead_receiver_do_not_slow_the_api(db_path: Path,
                                                                   tmp_path: Path,
                                                                   server_factory) -> None:
    """A backlog of 1,000 payment.paid deliveries to a port where nothing listens (tried,
    refused, retried 2, 4 and 8 s later). 200 creates go to that server and 200 to a twin
    without the backlog, alternating; p99 with the backlog stays within 3x (+50 ms)."""
    dead_url = f"http://127.0.0.1:{free_port()}/webhook"
    shops = [add_merchant(db_path, name=f"Toko {i}", webhook_url=dead_url) for i in range(4)]
    api = add_merchant(db_path, name="Toko API")
    paid_backlog(db_path, shops, 1_000)
    server = server_factory(db_path)
    quiet = quiet_twin(tmp_path, server_factory)
    attempts_before = query(db_path, "SELECT count(*) FROM webhook_attempts")[0][0]
    baseline, during = alternate_creates([quiet, (server, api)], lambda rounds: rounds < 200)
    attempts_during = query(db_path, "SELECT count(*) FROM webhook_attempts")[0][0] \
        - attempts_before
    unfinished = query(db_path, "SELECT count(*) FROM webhook_deliveries"
                                " WHERE state IN ('pending', 'sending')")[0][0]
    # The backlog was really being worked on while the creates were measured.
    assert attempts_during >= 100 and unfinished > 0, (attempts_during, unfinished)
    assert p99(during) < 3 * p99(baseline) + 0.05, (p99(during), p99(baseline))


# --- request limits -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["h11", "httptools"])
def http_stack(request: pytest.FixtureRequest) -> str:
    """uvicorn's HTTP parser (server.http): each answers malformed and oversized requests its
    own way below the app, and serve must give the same answers on both."""
    return request.param


@pytest.fixture(scope="module")
def limits_server(tmp_path_factory: pytest.TempPathFactory,
                  http_stack: str) -> Iterator[tuple[Server, Merchant]]:
    db_path = tmp_path_factory.mktemp("limits") / "webqris.db"
    merchant = add_merchant(db_path)
    server = start_server(db_path, env={"WEBQRIS_SERVER_HTTP": http_stack})
    yield server, merchant
    server.stop()


def exchange(server: Server, *parts: bytes, pause: float = 0.0,
             timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Sends raw bytes (in parts, `pause` apart) and reads one HTTP response: status, headers,
    body. The server may answer and close before it has read everything."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        for part in parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    """One HTTP response from the socket: status, headers, body (by its Content-Length)."""
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < int(
            dict(_headers(received)).get("content-length", -1)):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, dict(_headers(received)), body


def _headers(received: bytes) -> list[tuple[str, str]]:
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return [(name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in head)]


def assert_seed_error(status: int, headers: dict, body: bytes, expected_status: int) -> str:
    assert status == expected_status, body
    assert headers["content-type"] == "application/json"
    parsed = json.loads(body)
    assert set(parsed) == {"success", "message"} and parsed["success"] is False
    return parsed["message"]


TOO_BIG = json.dumps({"amount": 1000, "customer_name": "x" * 70_000}).encode()


def test_body_over_the_limit_is_413(limits_server: tuple[Server, Merchant]) -> None:
    server, merchant = limits_server
    response = httpx.post(f"{server.base_url}{CREATE}", content=TOO_BIG,
                          headers={**merchant.auth, "Content-Type": "application/json"})
    message = assert_seed_error(response.status_code, response.headers, response.content, 413)
    assert message == "Request body too large (limit 65536 bytes)"


def test_chunked_body_over_the_limit_is_413(limits_server: tuple[Server, Merchant]) -> None:
    """No Content-Length to refuse up front: the body is counted as it streams in."""
    server, merchant = limits_server
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(TOO_BIG[i:i + 4096]), TOO_BIG[i:i + 4096])
                      for i in range(0, len(TOO_BIG), 4096)) + b"0\r\n\r\n"
    head = (f"POST {CREATE} HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer {merchant.api_token}"
            "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    status, headers, body = exchange(server, head + chunks)
    message = assert_seed_error(status, headers, body, 413)
    assert message == "Request body too large (limit 65536 bytes)"

    def generated() -> Iterator[bytes]:  # the same through httpx: a generator body is chunked
        for i in range(0, len(TOO_BIG), 4096):
            yield TOO_BIG[i:i + 4096]

    response = httpx.post(f"{server.base_url}{CREATE}", content=generated(),
                          headers={**merchant.auth, "Content-Type": "application/json"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_seed_error(response.status_code, response.headers, response.content, 413)


def test_header_longer_than_uvicorn_accepts_is_400_in_seed_format(
        limits_server: tuple[Server, Merchant], http_stack: str) -> None:
    """uvicorn refuses a request head that grows past 16 KiB before it is complete; the app
    never sees the request, yet the answer is still the seed's JSON. The server lives on."""
    server, merchant = limits_server
    first = (f"POST {CREATE} HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer {merchant.api_token}"
             "\r\nX-Padding: ").encode() + b"a" * 20_000
    status, headers, body = exchange(server, first, b"a" * 20_000 + b"\r\n\r\n", pause=0.1)
    if http_stack == "httptools":  # no limit of its own: the app's answers
        assert assert_seed_error(status, headers, body, 431) == HEADERS_TOO_LARGE
    else:
        assert assert_seed_error(status, headers, body, 400) == "Invalid HTTP request received."
        assert headers["connection"] == "close"
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


HEADERS_TOO_LARGE = "Request headers too large (limit 8192 bytes)"


def test_headers_over_the_limit_are_431(limits_server: tuple[Server, Merchant]) -> None:
    """max_header_bytes (8 KiB) holds whichever HTTP parser uvicorn runs. Just under it, the
    same request is served."""
    server, merchant = limits_server
    status_url = f"{server.base_url}/api/payments/INV-1-zzzzzz/status"
    for headers, query in (({"X-Padding": "a" * 9000}, ""), ({}, "?q=" + "a" * 9000),
                           ({f"X-Pad-{i}": "a" * 100 for i in range(90)}, "")):
        response = httpx.get(status_url + query, headers={**merchant.auth, **headers})
        message = assert_seed_error(response.status_code, response.headers, response.content,
                                    431)
        assert message == HEADERS_TOO_LARGE
    response = httpx.get(status_url, headers={**merchant.auth, "X-Padding": "a" * 7500})
    assert_seed_error(response.status_code, response.headers, response.content, 404)
    socket_url = f"{server.base_url.replace('http', 'ws')}/ws/merchant?token={merchant.api_token}"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        with websockets.sync.client.connect(socket_url, additional_headers={
                f"X-Pad-{i}": "a" * 100 for i in range(90)}):
            pass
    response = refused.value.response
    assert assert_seed_error(response.status_code, response.headers, response.body,
                             431) == HEADERS_TOO_LARGE
    with websockets.sync.client.connect(socket_url, additional_headers={"X-Padding": "a" * 7500}):
        pass


@pytest.mark.parametrize("extra_headers", [
    b"X-Padding: " + b"a" * 9000 + b"\r\n",  # one line longer than websockets reads
    b"".join(b"X-Pad-%d: a\r\n" % i for i in range(130)),  # 1.5 KB, but past 128 headers
], ids=["line-over-8KiB", "130-headers"])
def test_websocket_handshake_websockets_cannot_read_is_answered_not_left_open(
        limits_server: tuple[Server, Merchant], extra_headers: bytes) -> None:
    """Regression: the HTTP parser lets these through, `websockets` cannot read them, and
    uvicorn used to leave the connection open and silent, holding a socket for as long as the
    client liked. Now the answer is a 431 in the seed's format, and the connection closes."""
    server, merchant = limits_server
    handshake = (f"GET /ws/merchant?token={merchant.api_token} HTTP/1.1\r\nHost: shop\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").encode()
    status, headers, body = exchange(server, handshake + extra_headers + b"\r\n", timeout=3)
    message = assert_seed_error(status, headers, body, 431)
    assert message.startswith("Request headers too large for a WebSocket handshake")
    assert headers["connection"] == "close"
    assert exchange(server, handshake + b"\r\n", timeout=3)[0] == 101
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


@pytest.mark.parametrize(("handshake_headers", "status"), [
    (b"Sec-WebSocket-Version: 13\r\n", 400),  # no Sec-WebSocket-Key
    (b"Sec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400),
], ids=["no-key", "another-version"])
def test_a_websocket_handshake_websockets_refuses_is_answered_in_the_seeds_format(
        limits_server: tuple[Server, Merchant], handshake_headers: bytes, status: int) -> None:
    server, merchant = limits_server
    handshake = (f"GET /ws/merchant?token={merchant.api_token} HTTP/1.1\r\nHost: shop\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n").encode()
    answer_status, headers, body = exchange(server, handshake + handshake_headers + b"\r\n",
                                            timeout=3)
    message = assert_seed_error(answer_status, headers, body, status)
    assert "Sec-WebSocket" in message
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


@pytest.mark.parametrize("http_stack", ["h11", "httptools"])
def test_slow_clients_are_answered_408_and_closed(tmp_path: Path, http_stack: str) -> None:
    """A client that sends nothing, trickles a request head, or stops halfway through its body
    holds a socket; hundreds of them would hold them all. Each gets server.client_timeout_seconds
    (here 0.5 s), counted from the start, not from its latest byte. A WebSocket and an idle
    keep-alive connection are not cut by it."""
    merchant = add_merchant(tmp_path / "webqris.db")
    server = start_server(tmp_path / "webqris.db",
                          env={"WEBQRIS_SERVER_CLIENT_TIMEOUT_SECONDS": "0.5",
                               "WEBQRIS_SERVER_HTTP": http_stack})
    host, port = server.base_url.removeprefix("http://").split(":")

    def answer_while_sending(parts: list[bytes]) -> tuple[float, int, dict, bytes]:
        """Sends the parts 0.1 s apart until the server answers, and reads the answer."""
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            for part in parts:
                if select.select([sock], [], [], 0.1)[0]:
                    break
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(part)
            return time.monotonic() - started, *read_response(sock)

    try:
        # Nothing at all; and a head trickled in a header line every 0.1 s for 4 s.
        for parts in ([], [b"GET /healthz HTTP/1.1\r\nHost: shop\r\n", *[b"X-Slow: a\r\n"] * 40]):
            elapsed, status, headers, body = answer_while_sending(parts)
            assert assert_seed_error(status, headers, body, 408) == \
                "Request not received within 0.5 s"
            assert elapsed < 3, elapsed  # the trickle went on for 4 s

        head = (f"POST {CREATE} HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {merchant.api_token}\r\nContent-Length: 40\r\n\r\n")
        status, headers, body = exchange(server, head.encode() + b'{"amount": 1000, ', timeout=5)
        assert assert_seed_error(status, headers, body, 408) == \
            "Request body not received within 0.5 s"

        socket_url = f"ws://{host}:{port}/ws/merchant?token={merchant.api_token}"
        health = b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n"
        with websockets.sync.client.connect(socket_url) as ws, \
                socket.create_connection((host, int(port)), timeout=5) as keep_alive:
            for _ in range(2):
                keep_alive.sendall(health)
                assert read_response(keep_alive)[0] == 200
                time.sleep(1.0)  # twice the timeout: neither connection is cut
            keep_alive.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next head stalls: cut
            assert read_response(keep_alive)[0] == 408
            made = httpx.post(f"{server.base_url}{CREATE}", json={"amount": 1000},
                              headers=merchant.auth)
            event = json.loads(ws.recv(timeout=5))
            assert event["data"]["invoice_id"] == made.json()["invoice_id"]
        assert "Traceback" not in server.log_path.read_text()
    finally:
        server.stop()


@pytest.mark.parametrize("request_bytes", [b"NOT HTTP AT ALL\r\n\r\n",
                                           b"GET /healthz HTTP/1.1\r\nHost shop\r\n\r\n",
                                           b"GET /\x00 HTTP/1.1\r\nHost: shop\r\n\r\n"])
def test_request_that_is_not_http_is_400_in_seed_format(limits_server: tuple[Server, Merchant],
                                                        request_bytes: bytes) -> None:
    server, _ = limits_server
    status, headers, body = exchange(server, request_bytes)
    assert assert_seed_error(status, headers, body, 400) == "Invalid HTTP request received."


@pytest.mark.parametrize("nested", [b"[" * 30_000 + b"]" * 30_000,
                                    b'{"a":' * 10_000 + b"1" + b"}" * 10_000])
def test_deeply_nested_json_is_400(limits_server: tuple[Server, Merchant], nested: bytes) -> None:
    server, merchant = limits_server
    for path, headers in ((CREATE, merchant.auth), ("/api/callback/notify",
                                                    {"X-Callback-Key": merchant.callback_secret}),
                          ("/api/webhook/payment",
                           {"Authorization": f"Bearer {merchant.callback_secret}"})):
        response = httpx.post(f"{server.base_url}{path}", content=nested,
                              headers={**headers, "Content-Type": "application/json"})
        message = assert_seed_error(response.status_code, response.headers, response.content,
                                    400)
        assert message == "Invalid JSON body"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(limits_server: tuple[Server, Merchant],
                                       constant: bytes) -> None:
    server, merchant = limits_server
    for path, headers, body in (
            (CREATE, merchant.auth, b'{"amount": 25000, "customer_name": %s}'),
            ("/api/webhook/payment", {"Authorization": f"Bearer {merchant.callback_secret}"},
             b'{"app": "id.dana", "title": "DANA", "message": %s}')):
        response = httpx.post(f"{server.base_url}{path}", content=body % constant,
                              headers={**headers, "Content-Type": "application/json"})
        message = assert_seed_error(response.status_code, response.headers, response.content,
                                    400)
        assert message == "Invalid JSON body"


@pytest.mark.parametrize("method,path,body,status", [
    ("GET", "/api/nope", None, 404),
    ("PUT", CREATE, b"{}", 405),
    ("POST", CREATE, b"{not json", 400),
    ("POST", CREATE, b"[1]", 400),
    ("POST", CREATE, b"amount=1000", 400),
    ("POST", CREATE, b'{"amount": "1000"}', 400),
    ("GET", "/api/payments/INV-1-zzzzzz/status", None, 404),
    ("GET", "/api/payments?limit=%C2%B2", None, 400),
    ("GET", "/pay/INV-1-zzzzzz/qr.png", None, 404),
])
def test_every_error_is_the_seed_json(limits_server: tuple[Server, Merchant], method: str,
                                      path: str, body: bytes | None, status: int) -> None:
    server, merchant = limits_server
    response = httpx.request(method, f"{server.base_url}{path}", content=body,
                             headers={**merchant.auth, "Content-Type": "application/json"})
    assert_seed_error(response.status_code, response.headers, response.content, status)
    assert "Traceback" not in response.text
