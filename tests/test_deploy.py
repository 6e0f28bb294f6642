"""The deploy files install and point at real rule files: their steps are rendered into a
scratch root and what they install loads and passes `baton check`."""
from __future__ import annotations

import re
import shutil
import subprocess

from baton.app.check import check
from baton.app.commands.run import health_host, health_port
from baton.core.config import load_config
from tests.conftest import ROOT

SERVICE = (ROOT / "deploy" / "baton.service").read_text()
CONTAINER = (ROOT / "deploy" / "Containerfile").read_text()


def _checked(config_path):
    config = load_config(config_path)
    files = config.rule_files()
    assert files and all(f.is_file() for f in files), files
    assert check(config).problems == []
    return config


def test_the_systemd_install_steps_install_a_config_and_rules_that_pass_check(tmp_path):
    steps = [line.removeprefix("#   ") for line in SERVICE.splitlines()
             if line.startswith("#   install ")]
    assert len(steps) == 4
    for step in steps:
        rendered = re.sub(r" -o \S+ -g \S+", "", step).replace("/etc/baton", f"{tmp_path}/etc/baton")
        subprocess.run(["bash", "-c", rendered], cwd=ROOT, check=True)
    installed = tmp_path / "etc" / "baton" / "config.toml"
    exec_start = re.search(r"^ExecStart=\S+ run --config (\S+)$", SERVICE, re.MULTILINE)
    assert exec_start and exec_start[1] == "/etc/baton/config.toml"
    config = _checked(installed)
    assert all(f.parent == installed.parent / "rules" for f in config.rule_files())
    state_dir = re.search(r"^StateDirectory=(\S+)$", SERVICE, re.MULTILINE)[1]
    assert config.baton.state.startswith(f"/var/lib/{state_dir}/")
    assert (tmp_path / "etc" / "baton" / "secrets.env").stat().st_mode & 0o077 == 0


def test_the_container_mounts_a_config_and_rules_that_pass_check_and_one_port(tmp_path, monkeypatch):
    mounts = re.findall(r"-v \./(\S+?):(/etc/baton\S*?):ro", CONTAINER)
    assert [target for _, target in mounts] == ["/etc/baton/config.toml", "/etc/baton/rules"]
    for source, target in mounts:
        (tmp_path / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
        copy(ROOT / source, tmp_path / target.lstrip("/"))
    assert re.search(r'^CMD \["--config", "/etc/baton/config.toml"\]$', CONTAINER, re.MULTILINE)
    config = _checked(tmp_path / "etc" / "baton" / "config.toml")
    # the port is set once (ENV), read by Baton and by the HEALTHCHECK; it listens beyond loopback
    assert len(re.findall(r"\b9108\b", CONTAINER.split("FROM", 1)[1])) == 2  # ENV and EXPOSE
    port = re.search(r"BATON_HEALTH_PORT=(\d+)", CONTAINER.split("FROM", 1)[1])[1]
    assert 'os.environ[\\"BATON_HEALTH_PORT\\"]' in CONTAINER.split("HEALTHCHECK", 1)[1]
    monkeypatch.setenv("BATON_HEALTH_PORT", port)
    monkeypatch.setenv("BATON_HEALTH_HOST", "0.0.0.0")
    assert (health_port(config), health_host(config)) == (9108, "0.0.0.0")
    monkeypatch.delenv("BATON_HEALTH_PORT")
    monkeypatch.delenv("BATON_HEALTH_HOST")
    assert (health_port(config), health_host(config)) == (9108, "127.0.0.1")  # the file's own
