"""config.toml errors never echo a value that may be a secret; endpoints must be https."""
from __future__ import annotations

from pathlib import Path

import pytest

from baton.app.cli import main
from baton.core.config import load_config
from baton.core.errors import ConfigError

SECRET = "SUPERSECRET-3f9a1c77e2"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_secret_pasted_into_config_is_never_echoed(tmp_path: Path, capsys) -> None:
    path = _config(tmp_path, f'[salesforce]\nclient_secret = "{SECRET}"\npage_size = "{SECRET}"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "salesforce.client_secret: Extra inputs are not permitted" in message
    assert "salesforce.page_size:" in message and "(found text of 22 characters)" in message
    assert SECRET not in message
    assert main(["--config", str(path), "check"]) == 2
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


@pytest.mark.parametrize("key, url", [
    ("salesforce.login_url", "http://login.salesforce.com"),
    ("asana.base_url", "http://app.asana.com/api/1.0"),
    ("sheets.drive_endpoint", "ftp://www.googleapis.com/drive/v3/"),
])
def test_endpoints_must_be_https(tmp_path: Path, key: str, url: str) -> None:
    table, name = key.split(".")
    with pytest.raises(ConfigError) as raised:
        load_config(_config(tmp_path, f'[{table}]\n{name} = "{url}"\n'))
    assert f"{key}: expected an https:// URL (credentials would travel in clear text)" in str(raised.value)


def test_loopback_may_be_http_for_the_sandbox(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, '[asana]\nbase_url = "http://127.0.0.1:8443/api/1.0"\n'))
    assert config.asana.base_url.startswith("http://127.0.0.1")
