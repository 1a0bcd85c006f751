"""Channels built from the ``channels:`` section of a workspace's ``lodestar.yaml``.

::

    channels:
      email:                      # kind smtp (the default for a channel named email)
        host: smtp.bank.example
        port: 587
        sender: marketing@bank.example
        starttls: true
        username: lodestar
        password_env: LODESTAR_SMTP_PASSWORD
      sms:                        # kind http (the default for sms, push, wecom, voice...)
        url: https://sms-gw.bank.example/v1/messages
        secret_env: LODESTAR_SMS_SECRET
        timeout: 5
      inbox: {}                   # kind inbox; always present when a store is given

Secrets never appear in the file: the file names the environment variable that holds them. Every
problem is reported at once with the file, line and field (``DefinitionError``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from lodestar.channels.channel import Channel
from lodestar.errors import ChannelError, DefinitionError
from lodestar.located_yaml import (
    LocatedDocument,
    field_name,
    load_located,
    load_located_text,
    pydantic_problems,
)

Kind = Literal["smtp", "http", "inbox"]


class _Strict(BaseModel):
    model_config = {"extra": "forbid"}


class SmtpSettings(_Strict):
    kind: Literal["smtp"] = "smtp"
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(min_length=3, pattern=r"@")
    starttls: bool = False
    username: str | None = None
    #: Name of the environment variable holding the password.
    password_env: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)
    message_id_domain: str | None = None


class HttpSettings(_Strict):
    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://")
    #: Name of the environment variable holding the shared HMAC secret.
    secret_env: str = Field(min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=300)
    connect_timeout: float | None = Field(default=None, gt=0, le=60)
    connect_retries: int = Field(default=2, ge=0, le=10)
    max_connections: int = Field(default=8, ge=1, le=1000)


class InboxSettings(_Strict):
    kind: Literal["inbox"] = "inbox"


_MODELS: dict[str, type[_Strict]] = {
    "smtp": SmtpSettings,
    "http": HttpSettings,
    "inbox": InboxSettings,
}
_SECRET_KEYS = {"secret": "secret_env", "password": "password_env"}


def default_kind(name: str) -> Kind:
    """``email`` -> smtp, ``inbox`` -> inbox, anything else (sms, push, wecom, voice) -> http."""
    return "smtp" if name == "email" else "inbox" if name == "inbox" else "http"


def parse_channel_settings(doc: LocatedDocument) -> dict[str, BaseModel]:
    """The validated settings of every channel in ``doc``'s ``channels`` section."""
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("channels") or {}
    problems: list[str] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        problems.append(f"{doc.where(*path)}: field '{field_name(path)}': {message}")

    if not isinstance(section, dict):
        problem(("channels",), "must be a mapping of channel name to settings")
        raise DefinitionError(problems, what="channel settings")
    out: dict[str, BaseModel] = {}
    for name, raw in section.items():
        base: tuple[str | int, ...] = ("channels", str(name))
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            problem(base, "must be a mapping of settings")
            continue
        for key, instead in _SECRET_KEYS.items():
            if key in raw:
                problem(
                    (*base, key),
                    f"secrets are never written in the file; put it in an environment variable "
                    f"and name the variable with '{instead}'",
                )
        kind = raw.get("kind", default_kind(str(name)))
        if kind not in _MODELS:
            problem((*base, "kind"), f"{kind!r} is not one of {', '.join(_MODELS)}")
            continue
        clean = {k: v for k, v in raw.items() if k not in _SECRET_KEYS}
        try:
            out[str(name)] = _MODELS[kind].model_validate({**clean, "kind": kind})
        except ValidationError as exc:
            for loc, message in pydantic_problems(exc, docs="docs/channels.md"):
                problem((*base, *loc), message)
    if problems:
        raise DefinitionError(problems, what="channel settings")
    return out


def build_channels(
    doc: LocatedDocument,
    *,
    store: Any = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """Channels by name, ready to send. ``store`` (an ``OperationalStore``) backs the inbox;
    ``environ`` (default ``os.environ``) supplies the secrets."""
    from lodestar.channels.http_gateway import HttpGatewayChannel
    from lodestar.channels.inbox import InboxChannel
    from lodestar.channels.smtp_email import SmtpEmailChannel

    env = os.environ if environ is None else environ
    settings = parse_channel_settings(doc)
    problems: list[str] = []

    def secret(name: str, field: str, var: str | None) -> str | None:
        if var is None:
            return None
        value = env.get(var)
        if not value:
            path = ("channels", name, field)
            problems.append(
                f"{doc.where(*path)}: field '{field_name(path)}': the environment variable "
                f"{var} is not set (or is empty)"
            )
        return value

    channels: dict[str, Channel] = {}
    for name, s in settings.items():
        if isinstance(s, SmtpSettings):
            password = secret(name, "password_env", s.password_env)
            channels[name] = SmtpEmailChannel(
                s.host, s.port, sender=s.sender, name=name, starttls=s.starttls,
                username=s.username, password=password, timeout=s.timeout,
                message_id_domain=s.message_id_domain,
            )
        elif isinstance(s, HttpSettings):
            key = secret(name, "secret_env", s.secret_env)
            if key:
                channels[name] = HttpGatewayChannel(
                    name, s.url, secret=key, timeout=s.timeout,
                    connect_timeout=s.connect_timeout, connect_retries=s.connect_retries,
                    max_connections=s.max_connections,
                )
        elif store is None:
            path = ("channels", name)
            problems.append(
                f"{doc.where(*path)}: channel '{name}': the inbox needs the workspace's "
                "operational store"
            )
        else:
            channels[name] = InboxChannel(store, name=name)
    if problems:
        for ch in channels.values():
            ch.close()
        raise DefinitionError(problems, what="channel settings")
    if store is not None and "inbox" not in channels:
        channels["inbox"] = InboxChannel(store)
    return channels


def load_workspace_channels(
    root: str | Path, *, store: Any = None, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """The channels of the workspace at ``root`` (its ``lodestar.yaml``)."""
    from lodestar.config import WORKSPACE_FILE

    path = Path(root) / WORKSPACE_FILE
    if not path.is_file():
        raise ChannelError(f"{path}: no workspace settings file")
    return build_channels(load_located(path), store=store, environ=environ)


def channels_from_text(
    text: str, source: str = "<text>", *, store: Any = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """Like :func:`load_workspace_channels`, from YAML text (for tests and notebooks)."""
    return build_channels(load_located_text(text, source), store=store, environ=environ)
