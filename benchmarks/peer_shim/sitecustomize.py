"""Loaded by a Singer tap's interpreter (PYTHONPATH) in the benchmark: its hard-coded hosts go to
the sandbox.

BATON_BENCH_HOSTS is a JSON object {"login.salesforce.com": "https://127.0.0.1:PORT", ...}; every
URL of requests, urllib3 and httplib2 that starts with https://<host> is rewritten to the
sandbox's base URL. TLS stays verified: the sandbox CA comes in through REQUESTS_CA_BUNDLE /
SSL_CERT_FILE / HTTPLIB2_CA_CERTS, and certifi.where() answers SSL_CERT_FILE. Nothing here changes what the tap does, only where it connects.
"""
from __future__ import annotations

import json
import os

_HOSTS: dict[str, str] = json.loads(os.environ.get("BATON_BENCH_HOSTS") or "{}")


def _rewrite(url):  # type: ignore[no-untyped-def]
    if isinstance(url, bytes):
        return _rewrite(url.decode()).encode()
    if not isinstance(url, str):
        return url
    for host, target in _HOSTS.items():
        for scheme in ("https://", "http://"):
            prefix = scheme + host
            if url.startswith(prefix) and (len(url) == len(prefix) or url[len(prefix)] in "/:?"):
                rest = url[len(prefix):]
                if rest.startswith(":443"):
                    rest = rest[4:]
                return target.rstrip("/") + rest
    return url


def _patch() -> None:
    if not _HOSTS:
        return
    ca = os.environ.get("SSL_CERT_FILE")
    if ca:  # SDKs that pass certifi's bundle explicitly (the asana SDK) trust the sandbox CA too
        try:
            import certifi

            certifi.where = lambda: ca
        except ImportError:
            pass
    try:
        import requests

        original = requests.Session.request

        def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            return original(self, method, _rewrite(url), *args, **kwargs)

        requests.Session.request = request  # type: ignore[method-assign]
    except ImportError:
        pass
    try:
        import urllib3

        original_urlopen = urllib3.PoolManager.urlopen

        def urlopen(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            return original_urlopen(self, method, _rewrite(url), *args, **kwargs)

        urllib3.PoolManager.urlopen = urlopen  # type: ignore[method-assign]
    except ImportError:
        pass
    try:
        import httplib2

        original_http = httplib2.Http.request

        def http_request(self, uri, *args, **kwargs):  # type: ignore[no-untyped-def]
            return original_http(self, _rewrite(uri), *args, **kwargs)

        httplib2.Http.request = http_request  # type: ignore[method-assign]
    except ImportError:
        pass


_patch()
