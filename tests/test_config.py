"""Configuration: defaults, the example file, environment overrides and bad values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import webqris

ROOT = Path(__file__).resolve().parent.parent


def test_example_file_documents_every_default() -> None:
    assert webqris.load_config(ROOT / "config.example.toml", {}) == webqris.load_config(None, {})
    text = (ROOT / "config.example.toml").read_text()
    for section in dataclasses.fields(webqris.Config):
        assert f"[{section.name}]" in text
        for field in dataclasses.fields(section.default.__class__):
            assert f"\n{field.name} = " in text, f"{section.name}.{field.name} undocumented"


def test_file_then_environment_override(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[payments]\nexpiry_seconds = 600\n[webhooks]\nretry_delays = [1, 2]\n")
    config = webqris.load_config(path, {"WEBQRIS_PAYMENTS_EXPIRY_SECONDS": "900",
                                        "WEBQRIS_WEBHOOKS_RETRY_DELAYS": "2,4,8,60",
                                        "WEBQRIS_SERVER_ACCESS_LOG": "true"})
    assert config.payments.expiry_seconds == 900
    assert config.webhooks.retry_delays == (2.0, 4.0, 8.0, 60.0)
    assert config.server.access_log is True
    assert webqris.load_config(path, {}).webhooks.retry_delays == (1.0, 2.0)


@pytest.mark.parametrize("text,env,named", [
    ("[payment]\nx = 1\n", {}, "payment"),
    ("[payments]\nexpiry = 1\n", {}, "payments.expiry"),
    ("[payments]\nexpiry_seconds = true\n", {}, "payments.expiry_seconds"),
    ("[payments]\nexpiry_seconds = '60'\n", {}, "payments.expiry_seconds"),
    ("", {"WEBQRIS_PAYMENTS_EXPIRY_SECONDS": "10m"}, "WEBQRIS_PAYMENTS_EXPIRY_SECONDS"),
    ("", {"WEBQRIS_SERVER_ACCESS_LOG": "maybe"}, "WEBQRIS_SERVER_ACCESS_LOG"),
    ("", {"WEBQRIS_WEBHOOKS_RETRY_DELAYS": "2,x"}, "WEBQRIS_WEBHOOKS_RETRY_DELAYS"),
    ("[payments]\nunique_code_min = 10\nunique_code_max = 5\n", {}, "unique_code_min"),
    ("not toml [", {}, "c.toml"),
    ("", {"WEBQRIS_SERVER_MAX_HEADER_BYTES": "100"}, "server.max_header_bytes"),
    ("", {"WEBQRIS_SERVER_CLIENT_TIMEOUT_SECONDS": "0"}, "server.client_timeout_seconds"),
    ("[server]\nhttp = 'nginx'\n", {}, "server.http must be auto, h11 or httptools"),
    ("", {"WEBQRIS_ADMIN_SEARCH_MS": "-1"}, "admin.search_ms must be >= 0"),
])
def test_bad_settings_are_named(tmp_path: Path, text: str, env: dict, named: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(webqris.ConfigError, match=named):
        webqris.load_config(path, env)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(webqris.ConfigError, match="not found"):
        webqris.load_config(tmp_path / "nope.toml", {})


def test_format_time() -> None:
    assert webqris.format_time(1710000000000) == "2024-03-09T16:00:00.000Z"
    assert webqris.format_time(1710000000007) == "2024-03-09T16:00:00.007Z"
    assert webqris.format_time(None) is None
