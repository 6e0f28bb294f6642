"""config.toml, parsed once into typed objects.

Secrets never live here: each connector names the environment variables it reads, and an
optional secrets file (KEY=VALUE lines, outside the repo) fills in what the environment lacks.
"""
from __future__ import annotations

import glob
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton.core.errors import ConfigError
from baton.core.kpi_settings import KpiSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _https_only(url: str) -> str:
    """Credentials and field values travel over these URLs: https, except on this machine's
    loopback (the sandbox, a local proxy under test)."""
    if not url:
        return url
    parsed = urlsplit(url)
    loopback = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if parsed.scheme == "https" or (parsed.scheme == "http" and loopback):
        if not parsed.hostname:
            raise ValueError("expected a URL with a host name")
        return url
    raise ValueError("expected an https:// URL (credentials would travel in clear text)")


HttpsUrl = Annotated[str, AfterValidator(_https_only)]


class SalesforceSettings(_Strict):
    auth: Literal["client_credentials", "jwt", "token"] = "client_credentials"
    login_url: HttpsUrl = "https://login.salesforce.com"  # or test.salesforce.com, or a My Domain
    instance_url: HttpsUrl = ""  # for auth = "token"; otherwise taken from the token response
    api_version: str = "59.0"
    ca_bundle: str = ""  # a PEM bundle for proxies, sandboxes and private CAs
    api_share_limit: float = Field(0.8, gt=0, le=1)  # slow down past this share of the daily allocation
    page_size: int = Field(2000, ge=200, le=2000)
    lookback_seconds: int = Field(300, ge=0)  # late commits with an older SystemModstamp
    timeout_seconds: float = 30.0
    remediation_queue: str = ""  # a queue name; its designated user owns remediation tasks


class AsanaSettings(_Strict):
    base_url: HttpsUrl = "https://app.asana.com/api/1.0"
    ca_bundle: str = ""
    requests_per_minute: int = Field(150, ge=1)  # free plans: 150, paid: 1500
    reconcile_every: int = Field(10, ge=1)  # a modified_since poll every N cycles backs up the events
    timeout_seconds: float = 30.0


class SheetsSettings(_Strict):
    sheets_endpoint: HttpsUrl = "https://sheets.googleapis.com/"
    drive_endpoint: HttpsUrl = "https://www.googleapis.com/drive/v3/"
    ca_bundle: str = ""
    requests_per_minute: int = Field(60, ge=1)
    timeout_seconds: float = 30.0


class _SourceBase(_Strict):
    id: str
    interval_seconds: int | None = Field(None, ge=1)
    workflow: list[str] = []  # the ordered statuses; a move backwards is a rework round


class SalesforceSource(_SourceBase):
    tool: Literal["salesforce"]
    object: str = "Lead"
    status_field: str = "Status"
    fields: list[str] = []  # extra fields the rules read (Id, Name, OwnerId, Status are always read)


class AsanaSource(_SourceBase):
    tool: Literal["asana"]
    project: str  # the project gid
    status: str = "section"  # "section", or the name of an enum custom field


class SheetsSource(_SourceBase):
    tool: Literal["sheets"]
    spreadsheet_id: str
    tab: str
    key_column: str
    status_column: str
    changed_at_column: str = ""  # a column the team keeps with the time of the last status change
    baton_column: str = ""  # a column Baton writes its verdict into


Source = Annotated[SalesforceSource | AsanaSource | SheetsSource, Field(discriminator="tool")]


class BatonSettings(_Strict):
    state: str = ".baton/state.db"
    rules: list[str] = ["rules/*.toml"]  # globs, relative to the config file
    secrets_file: str = ""
    interval_seconds: int = Field(60, ge=1)
    log_format: Literal["auto", "json", "pretty"] = "auto"
    health_port: int = Field(0, ge=0, le=65535)  # /healthz and /metrics; 0: off
    health_host: str = "127.0.0.1"  # the address they bind: loopback, or 0.0.0.0 in a container


class Config(_Strict):
    baton: BatonSettings = BatonSettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    asana: AsanaSettings = AsanaSettings()
    sheets: SheetsSettings = SheetsSettings()
    kpi: KpiSettings = KpiSettings()
    source: list[Source] = []
    path: Path = Path("config.toml")

    @field_validator("source")
    @classmethod
    def _unique_ids(cls, sources: list[Source]) -> list[Source]:
        seen: set[str] = set()
        for source in sources:
            if source.id in seen:
                raise ValueError(f"source id {source.id!r} is used twice")
            seen.add(source.id)
        return sources

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def rule_files(self) -> list[Path]:
        files: set[Path] = set()
        for pattern in self.baton.rules:
            if any(c in pattern for c in "*?["):
                files.update(Path(p) for p in glob.glob(str(self.resolve(pattern))))
            else:
                files.add(self.resolve(pattern))
        return sorted(files)

    def interval_for(self, source: Source) -> int:
        return source.interval_seconds or self.baton.interval_seconds

    def source_by_id(self, source_id: str) -> Source:
        for source in self.source:
            if source.id == source_id:
                return source
        raise KeyError(source_id)


def load_config(path: Path) -> Config:
    """Read and validate config.toml; every problem is listed with its key path."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (pass --config PATH)") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        return Config.model_validate({**raw, "path": path})
    except ValidationError as error:
        raise ConfigError(f"{path}:\n" + format_validation_error(error)) from None


def format_validation_error(error: ValidationError) -> str:
    """Every problem with its key path. A found value is shown only when it cannot be a secret
    (a number, a flag): a client secret pasted into config.toml must not reach a terminal, a
    log or CI output."""
    lines = []
    for problem in error.errors():
        where = _key_path(problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"  {where}: {message}{_shown(problem)}")
    return "\n".join(lines)


def _shown(problem: Any) -> str:
    found = problem.get("input")
    if problem["type"] == "extra_forbidden" or isinstance(found, dict | list):
        return ""
    if isinstance(found, str):
        return f" (found text of {len(found)} characters)"
    return f" (found {found!r})"


def _key_path(loc: tuple[object, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class Secrets:
    """Secrets from the environment, else from the secrets file; values are never logged."""

    def __init__(self, file: Path | None = None, environ: dict[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._file: dict[str, str] = {}
        self._handed_out: set[str] = set()
        if file is not None:
            self._file = _read_secrets_file(file)

    def get(self, name: str) -> str | None:
        value = self._environ.get(name) or self._file.get(name) or None
        if value:
            self._handed_out.add(value)
        return value

    def require(self, name: str, purpose: str) -> str:
        value = self.get(name)
        if not value:
            raise ConfigError(f"{name} is not set (needed for {purpose}); set it in the "
                              "environment or in the secrets file named by baton.secrets_file")
        return value

    def handed_out(self) -> list[str]:
        """Every secret value a connector has read, for the log scrubber."""
        return sorted(self._handed_out)


def _read_secrets_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"secrets file {path}: {error.strerror}") from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(f"secrets file {path}, line {number}: expected KEY=VALUE")
        key, value = line.split("=", 1)
        found[key.strip()] = value.strip().strip('"').strip("'")
    mode = path.stat().st_mode & 0o777
    if mode & 0o044:
        raise ConfigError(f"secrets file {path} is readable by group or others (mode {mode:04o}); "
                          f"it holds credentials: run `chmod 600 {path}`")
    return found
