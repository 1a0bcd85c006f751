"""Settings, read from the environment (``LODESTAR_*``) and the workspace's ``lodestar.yaml``.

Settings are built by the application (``Workspace.open``), never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lodestar.errors import ConfigError

DEFAULT_WORKSPACE = "lodestar-workspace"
WORKSPACE_FILE = "lodestar.yaml"


class EnvSettings(BaseSettings):
    """What the environment may say. ``LODESTAR_DATABASE_URL`` overrides the workspace file."""

    model_config = SettingsConfigDict(env_prefix="LODESTAR_", extra="ignore")

    workspace: Path = Path(DEFAULT_WORKSPACE)
    database_url: str | None = None


class EventSettings(BaseModel):
    """The ``events:`` section of ``lodestar.yaml``: the events API and the live feed."""

    model_config = {"extra": "forbid"}

    #: Batches ``POST /v1/events`` handles at once per server process; beyond it answers 429.
    max_in_flight: int = Field(default=4, ge=1, le=1000)
    #: Event names ingestion always puts into the live feed, besides those live campaigns
    #: listen to (e.g. for a journey about to be approved).
    always_feed: list[str] = Field(default_factory=list)


class WorkspaceConfig(BaseModel):
    """The contents of ``lodestar.yaml`` at the root of a workspace."""

    model_config = {"extra": "forbid"}

    name: str = "lodestar"
    #: SQLAlchemy URL of the operational store; ``None`` means the embedded SQLite file.
    database_url: str | None = None
    #: Analytical engine. Only ``duckdb`` ships today; ``spark`` joins it later.
    engine: Literal["duckdb"] = "duckdb"
    #: Time zone assumed for timestamps that carry no offset, and for customers without one.
    default_time_zone: str = "Asia/Shanghai"
    #: Language of user-facing text.
    locale: Literal["zh-CN", "en"] = "zh-CN"
    #: Memory the analytical engine may use before spilling to disk, e.g. "4GB".
    memory_limit: str | None = None
    threads: int | None = Field(default=None, ge=1)
    #: After each load, refresh the tags of the customers it touched (once tags were built).
    refresh_tags_after_load: bool = True
    #: Channel adapters by name (url, secret_env, timeout...), read and checked with line
    #: numbers by lodestar.channels.registry.
    channels: dict[str, Any] | None = None
    #: The events API and the live event feed (None: the defaults of EventSettings).
    events: EventSettings | None = None

    @classmethod
    def load(cls, path: Path) -> WorkspaceConfig:
        try:
            raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise ConfigError(f"{where}: not valid YAML ({exc})") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"field '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from exc

    def dump(self, path: Path) -> None:
        data = self.model_dump(exclude_none=True)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
