"""Installs that work wherever pip puts the files: a built wheel installed with --user and with
a plain --prefix (where Debian's system pip puts files under /usr/local while sys.prefix is
/usr), run from another folder, serves the dashboard and every file it links."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, start_server

import webqris

# The interpreter this venv was made from runs every install: pip refuses --user inside a venv,
# and this venv's editable install of the checkout would be found beside the one under test.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
# The dependencies come from this venv; webqris itself only from the install under test. Every
# install below passes --ignore-installed: pip would otherwise uninstall this venv's webqris.
DEPENDENCIES = sysconfig.get_paths()["purelib"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    return next(out.glob("webqris-*.whl"))


def install(python: str, wheel: Path, *where: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    "--no-warn-script-location", *where, str(wheel)],
                   check=True, capture_output=True, env=env, timeout=120)


def install_into_prefix(tmp_path: Path, wheel: Path) -> tuple[Path, dict[str, str]]:
    """Installs into tmp_path/prefix; returns its site-packages and the environment to run it."""
    prefix = tmp_path / "prefix"
    install(BASE_PYTHON, wheel, "--prefix", str(prefix))
    site = prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    return site, {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{DEPENDENCIES}"}


def linked_files(base_url: str, html: str) -> list[str]:
    """The files a page links (stylesheets, scripts, icons), and the modules its scripts
    import."""
    links = [url for url in re.findall(r'(?:src|href)="(/[^"#]+)"', html)]
    for script in [url for url in links if url.endswith(".js")]:
        source = httpx.get(base_url + script).text
        folder = script.rsplit("/", 1)[0]
        links += [f"{folder}/{name}" for name in re.findall(r'from\s+"\./([^"]+)"', source)]
    return sorted(set(links))


def assert_serves_dashboard(base_url: str) -> None:
    for page in ("/", "/pay/INV-NOT-A-REAL-ONE"):
        response = httpx.get(base_url + page)
        assert response.status_code == 200, (page, response.text)
        files = linked_files(base_url, response.text)
        assert any(f.endswith(".js") for f in files) and any(f.endswith(".css") for f in files)
        for url in files:
            assert httpx.get(base_url + url).status_code == 200, url


def test_wheel_installed_with_user_serves_the_dashboard_from_another_folder(
        tmp_path: Path, wheel: Path) -> None:
    user_base = tmp_path / "userbase"
    env = {**os.environ, "PYTHONUSERBASE": str(user_base), "PIP_USER": "1",
           "PYTHONPATH": DEPENDENCIES}
    env.pop("VIRTUAL_ENV", None)
    install(BASE_PYTHON, wheel, "--user", env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = start_server(tmp_path / "webqris.db", command=[str(user_base / "bin" / "webqris")],
                          env=env, cwd=elsewhere)
    try:
        assert_serves_dashboard(server.base_url)
    finally:
        server.stop()


def test_wheel_installed_into_a_prefix_serves_the_dashboard_and_knows_its_version(
        tmp_path: Path, wheel: Path) -> None:
    site, env = install_into_prefix(tmp_path, wheel)
    prefix = site.parents[2]
    script = [BASE_PYTHON, str(prefix / "bin" / "webqris")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = subprocess.run([*script, "--version"], capture_output=True, text=True, env=env,
                             cwd=elsewhere, timeout=60)
    assert version.stdout.strip() == f"webqris, version {webqris.VERSION}"
    assert webqris.VERSION != "0+unknown"
    server = start_server(tmp_path / "webqris.db", command=script, env=env, cwd=elsewhere)
    try:
        assert_serves_dashboard(server.base_url)
        imported = subprocess.run(
            [BASE_PYTHON, "-c", "import webqris; print(webqris.__file__, webqris.static_dir())"],
            capture_output=True, text=True, env=env, cwd=elsewhere)
        module, static = imported.stdout.split()
        assert (module, static) == (str(site / "webqris.py"), str(site / "webqris_static"))
    finally:
        server.stop()


def test_serve_refuses_to_start_in_one_line_when_the_dashboard_files_are_missing(
        tmp_path: Path, wheel: Path) -> None:
    site, env = install_into_prefix(tmp_path, wheel)
    prefix = site.parents[2]
    for installed in (site / "webqris_static").iterdir():
        installed.unlink()
    result = subprocess.run([BASE_PYTHON, str(prefix / "bin" / "webqris"), "serve", "--db",
                             str(tmp_path / "webqris.db"), "--port", "0"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: the dashboard's files (package webqris_static) are not installed: reinstall"
        " webqris, e.g. pip install --force-reinstall webqris"]
    assert not (tmp_path / "webqris.db").exists()
