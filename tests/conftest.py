"""Shared fixtures: a real app on a real SQLite file in a temp dir, merchants made the way the
CLI makes them, and helpers to run `webqris serve` as a subprocess."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import free_port  # the one way tests and the benchmark pick a port
from starlette.testclient import TestClient

import webqris
from parsers import qris

ROOT = Path(__file__).resolve().parent.parent
# A public static QRIS sticker (from the QRIS test vectors).
STATIC_QRIS = (
    "00020101021126570011ID.DANA.WWW011893600915302259148102090225914810303UMI51440014ID.CO.QRIS"
    ".WWW0215ID10200176114730303UMI5204581253033605802ID5922Warung Sayur Bu Sugeng6010Kab. Dema"
    "k610559567630458C7"
)
# Another account's sticker: the same with another merchant name (shops on one QRIS are told
# apart in their totals; see qris_partners).
ANOTHER_STATIC_QRIS = qris.encode((tag, "Warung Sayur Bu Sugeni" if tag == "59" else value)
                                  for tag, value in qris.parse_tlv(STATIC_QRIS))


def make_config(db_path: Path, **sections: dict[str, Any]) -> webqris.Config:
    """Defaults with the database at db_path and fast background intervals for tests."""
    base = webqris.load_config(None, {})
    payments = {"sweep_seconds": 0.05, **sections.pop("payments", {})}
    webhooks = {"poll_seconds": 0.05, "retry_delays": (0.05, 0.1, 0.2),
                **sections.pop("webhooks", {})}
    return dataclasses.replace(
        base,
        database=dataclasses.replace(base.database, path=str(db_path)),
        payments=dataclasses.replace(base.payments, **payments),
        webhooks=dataclasses.replace(base.webhooks, **webhooks),
        **{name: dataclasses.replace(getattr(base, name), **values)
           for name, values in sections.items()},
    )


@dataclasses.dataclass
class Merchant:
    id: int
    name: str
    api_token: str
    callback_secret: str
    webhook_secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}


def add_merchant(db_path: Path, name: str = "Toko ABC", static_qris: str | None = STATIC_QRIS,
                 webhook_url: str | None = None) -> Merchant:
    """Adds a merchant through the store, as `webqris merchant add` does."""
    store = webqris.Store(str(db_path))
    store.open()
    try:
        issued = webqris.issue_merchant_secrets()
        merchant_id = store.write_now(webqris.insert_merchant, name, static_qris, webhook_url,
                                      issued)
    finally:
        store.close()
    return Merchant(id=merchant_id, name=name, **issued)


STAFF_PASSWORD = "staff password 1"


def add_account(db_path: Path, username: str, role: str, merchant_ids: tuple[int, ...] = (),
                password: str = STAFF_PASSWORD) -> int:
    """Adds a staff account (admin, manager or cashier of `merchant_ids`) through the store,
    as `webqris user add` does."""
    store = webqris.Store(str(db_path))
    store.open()
    try:
        return store.write_now(webqris.insert_account, username,
                               webqris.hash_password(password), role, merchant_ids)
    finally:
        store.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "webqris.db"


@pytest.fixture
def merchant(db_path: Path) -> Merchant:
    return add_merchant(db_path)


@pytest.fixture
def app_factory(db_path: Path) -> Iterator[Any]:
    """Builds apps on db_path; each client started through it is closed at the end."""
    with contextlib.ExitStack() as stack:
        def start(**sections: dict[str, Any]) -> TestClient:
            config = make_config(db_path, **sections)
            return stack.enter_context(TestClient(webqris.create_app(config)))
        yield start


@pytest.fixture
def client(app_factory: Any, merchant: Merchant) -> TestClient:
    return app_factory()


# --- a real server in a subprocess ------------------------------------------------------------


@dataclasses.dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    log_path: Path

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(db_path: Path, *args: str, env: dict[str, str] | None = None,
                 port: int | None = None, deadline: float = 15.0,
                 pass_db: bool = True,
                 preexec_fn: Callable[[], object] | None = None,
                 command: list[str] | None = None, cwd: Path | None = None) -> Server:
    """Runs `webqris serve` on loopback and waits until /healthz answers. With pass_db=False
    it runs in db_path's folder without --db, as a user starting it there would. preexec_fn
    runs in the child before the server starts (e.g. to set a limit or a mount namespace).
    `command` replaces `python webqris.py` (e.g. an installed `webqris` script), `cwd` the
    database's folder as the working folder."""
    port = port or free_port()
    log_path = db_path.parent / f"server-{port}-{time.monotonic_ns()}.log"
    # h11 unless a test asks for httptools: it is what a default install runs, while the test
    # extra installs httptools too, which uvicorn's "auto" would pick.
    full_env = {**os.environ, "WEBQRIS_PAYMENTS_SWEEP_SECONDS": "0.05",
                "WEBQRIS_WEBHOOKS_POLL_SECONDS": "0.05", "WEBQRIS_SERVER_HTTP": "h11",
                **(env or {})}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*(command or [sys.executable, str(ROOT / "webqris.py")]), "serve", "--host",
             "127.0.0.1", "--port", str(port), *(["--db", str(db_path)] if pass_db else []),
             *args],
            stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd or db_path.parent,
            text=True,
            preexec_fn=preexec_fn)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.stop(kill=True)
    raise RuntimeError(f"server did not become healthy: {log_path.read_text()}")


@pytest.fixture
def server_factory() -> Iterator[Any]:
    servers: list[Server] = []

    def start(*args: Any, **kwargs: Any) -> Server:
        server = start_server(*args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(kill=True)
