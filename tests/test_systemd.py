"""The README's systemd unit is one systemd accepts (`systemd-analyze verify`), and keeps its
hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

INSTALLED = "/opt/webqris/.venv/bin/webqris"


def readme_unit() -> str:
    readme = (ROOT / "README.md").read_text()
    return re.search(r"```ini\n# /etc/systemd/system/webqris.service\n(.*?)```", readme,
                     re.S).group(1)


def test_the_unit_is_hardened() -> None:
    settings = dict(line.split("=", 1) for line in readme_unit().splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["DynamicUser"] == "yes" and settings["StateDirectory"] == "webqris"
    assert settings["ProtectSystem"] == "strict" and settings["NoNewPrivileges"] == "yes"
    assert int(settings["LimitNOFILE"]) >= 65536
    assert settings["ExecStart"].startswith(f"{INSTALLED} serve ")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (no systemd on this machine)")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this checkout's webqris.
    webqris_script = Path(sys.executable).parent / "webqris"
    unit = tmp_path / "webqris.service"
    unit.write_text(readme_unit().replace(INSTALLED, str(webqris_script)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    # Without a running systemd (a container) it may only warn about the manager itself.
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "webqris.service" in line]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr
