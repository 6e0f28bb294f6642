"""A health port already in use is a clear configuration error, not a traceback."""
from __future__ import annotations

import socket

import pytest

from baton.app.health import serve
from baton.core.errors import ConfigError


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as raised:
            serve(None, port)  # type: ignore[arg-type]  # never asked: the bind fails first
    assert f"cannot listen on 127.0.0.1:{port}" in str(raised.value)
    assert "health_port" in str(raised.value)
