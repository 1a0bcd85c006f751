"""Channels from a workspace's ``channels:`` settings, and errors that say file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from lodestar.channels.http_gateway import HttpGatewayChannel
from lodestar.channels.inbox import InboxChannel
from lodestar.channels.registry import channels_from_text, load_workspace_channels
from lodestar.channels.smtp_email import SmtpEmailChannel
from lodestar.config import WorkspaceConfig
from lodestar.errors import DefinitionError
from lodestar.storage.operational import OperationalStore, sqlite_url

GOOD = """\
name: bank
channels:
  email:
    host: smtp.bank.example
    port: 587
    sender: marketing@bank.example
    starttls: true
    username: lodestar
    password_env: SMTP_PASSWORD
  sms:
    url: https://sms-gw.bank.example/v1/messages
    secret_env: SMS_SECRET
    timeout: 3
  voice:
    url: http://voice-gw.internal/calls
    secret_env: VOICE_SECRET
  inbox: {}
"""
ENV = {"SMTP_PASSWORD": "pw-123", "SMS_SECRET": "sms-k", "VOICE_SECRET": "voice-k"}


def test_builds_every_configured_channel(tmp_path: Path) -> None:
    store = OperationalStore(sqlite_url(tmp_path / "ops.sqlite"))
    try:
        channels = channels_from_text(GOOD, "lodestar.yaml", store=store, environ=ENV)
        assert set(channels) == {"email", "sms", "voice", "inbox"}
        email, sms = channels["email"], channels["sms"]
        assert isinstance(email, SmtpEmailChannel) and email.starttls and email.port == 587
        assert isinstance(sms, HttpGatewayChannel) and sms.timeout == 3
        assert isinstance(channels["inbox"], InboxChannel)
        assert "pw-123" not in repr(email) and "sms-k" not in repr(sms)
        for ch in channels.values():
            ch.close()
    finally:
        store.dispose()


def test_the_workspace_file_accepts_the_section(tmp_path: Path) -> None:
    (tmp_path / "lodestar.yaml").write_text(GOOD.replace("  inbox: {}\n", ""), encoding="utf-8")
    assert WorkspaceConfig.load(tmp_path / "lodestar.yaml").channels is not None
    channels = load_workspace_channels(tmp_path, environ=ENV)
    assert set(channels) == {"email", "sms", "voice"}  # no store, so no inbox
    for ch in channels.values():
        ch.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("channels:\n  sms:\n    url: https://gw/x\n    secret: abc\n",
         "lodestar.yaml:4: field 'channels.sms.secret': secrets are never written in the file"),
        ("channels:\n  sms:\n    url: https://gw/x\n    secret_env: NOPE\n",
         "lodestar.yaml:4: field 'channels.sms.secret_env': the environment variable NOPE is "
         "not set"),
        ("channels:\n  push:\n    url: ftp://gw/x\n    secret_env: SMS_SECRET\n",
         "lodestar.yaml:3: field 'channels.push.url'"),
        ("channels:\n  push:\n    url: https://gw/x\n    secret_env: SMS_SECRET\n"
         "    timout: 3\n", "lodestar.yaml:5: field 'channels.push.timout': unknown field"),
        ("channels:\n  wecom:\n    secret_env: SMS_SECRET\n",
         "lodestar.yaml:2: field 'channels.wecom.url': is required"),
        ("channels:\n  email:\n    host: h\n    sender: a@b\n    password: x\n",
         "field 'channels.email.password': secrets are never written"),
        ("channels:\n  fax:\n    kind: telex\n", "field 'channels.fax.kind': 'telex' is not"),
        ("channels:\n  inbox: {}\n", "lodestar.yaml:2: channel 'inbox': the inbox needs"),
        ("channels: [sms]\n", "lodestar.yaml:1: field 'channels': must be a mapping"),
    ],
)
def test_bad_settings_are_located(text: str, expected: str) -> None:
    with pytest.raises(DefinitionError) as info:
        channels_from_text(text, "lodestar.yaml", environ=ENV)
    assert expected in str(info.value)


def test_all_problems_at_once() -> None:
    text = "channels:\n  sms:\n    url: x\n    secret_env: S\n  push:\n    secret: y\n"
    with pytest.raises(DefinitionError) as info:
        channels_from_text(text, "w.yaml", environ={})
    assert len(info.value.problems) >= 3
