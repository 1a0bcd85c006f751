"""The campaign lifecycle: maker-checker (the same person cannot approve; an edit resets the
approval), roles, states, history and audit — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lodestar.campaigns.definition import CampaignDefinition
from lodestar.campaigns.lifecycle import Actor, Campaigns, State
from lodestar.errors import CampaignError, DefinitionError, NotFound
from lodestar.storage.operational import OperationalStore, sqlite_url

TEXT = """\
campaign: CMP_LOAN_JOURNEY
name: 消费贷唤醒旅程
schedule: {at: "2026-12-10T09:00:00+08:00"}
journey:
  - send: {channel: app_push}
  - wait: {days: 3, until_event: apply_start}
  - branch:
      if_event: apply_start
      then: [{exit: {goal: true}}]
  - send: {channel: sms}
  - wait: {days: 2}
  - branch:
      if_responded: false
      then: [{send: {channel: voice_robot}}]
plan: {campaign: CMP_LOAN_JOURNEY, audience: "status = 'active'"}
"""
MAKER, OTHER_MARKETER = Actor("wang", "marketer"), Actor("zhao", "marketer")
CHECKER, ADMIN = Actor("li", "approver"), Actor("root", "admin")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OperationalStore]:
    url = (sqlite_url(tmp_path / "ops.sqlite") if request.param == "sqlite"
           else str(request.getfixturevalue("pg_schema_url")))  # fmt: skip
    ops = OperationalStore(url)
    ops.migrate()
    yield ops
    ops.dispose()


def definition(**changes: str) -> CampaignDefinition:
    text = TEXT
    for old, new in changes.items():
        text = text.replace(old, new)
    return CampaignDefinition.from_text(text, "campaign.yaml")


def test_the_seeds_journey_is_a_valid_definition() -> None:
    d = definition()
    assert d.journey[0].model_dump(exclude_none=True) == {"send": {"channel": "app_push"}}
    assert d.schedule is not None and d.schedule.at is not None
    assert d.digest() == definition().digest()  # stable


@pytest.mark.parametrize(("old", "new", "message", "line"), [
    ("channel: sms", "channel: fax", "unknown channel 'fax'", "campaign.yaml:10"),
    ('{at: "2026-12-10T09:00:00+08:00"}', '{cron: "61 9 * *"}', "five fields", "campaign.yaml:3"),
    ("wait: {days: 2}", "wait: {until_event: x}", "needs days or hours", "campaign.yaml:11"),
    ("if_responded: false", "if_responded: false\n      random_split: 0.5", "exactly one of",
     "campaign.yaml:12"),
])  # fmt: skip
def test_bad_definitions_are_located(old: str, new: str, message: str, line: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        definition(**{old: new})
    assert message in str(raised.value) and line in str(raised.value), str(raised.value)


def test_maker_checker_end_to_end(store: OperationalStore) -> None:
    campaigns = Campaigns(store)
    record = campaigns.save(definition(), MAKER)
    assert (record.state, record.version) == (State.DRAFT, 1)
    with pytest.raises(CampaignError, match="cannot be approved"):
        campaigns.act("CMP_LOAN_JOURNEY", "approve", CHECKER)  # not submitted yet
    campaigns.act("CMP_LOAN_JOURNEY", "submit", OTHER_MARKETER)
    # the person who wrote the version may not approve it, even holding the approver role
    with pytest.raises(CampaignError, match="maker-checker"):
        campaigns.act("CMP_LOAN_JOURNEY", "approve", Actor("wang", "approver"))
    with pytest.raises(CampaignError, match="maker-checker"):
        campaigns.act("CMP_LOAN_JOURNEY", "approve", Actor("zhao", "approver"))  # submitted it
    with pytest.raises(CampaignError, match="may not approve"):
        campaigns.act("CMP_LOAN_JOURNEY", "approve", ADMIN)  # not the approver role
    approved = campaigns.act("CMP_LOAN_JOURNEY", "approve", CHECKER, comment="ok")
    assert (approved.state, approved.approved_version) == (State.APPROVED, 1)
    assert campaigns.approved_definition("CMP_LOAN_JOURNEY").digest() == definition().digest()
    campaigns.act("CMP_LOAN_JOURNEY", "schedule", MAKER)
    # an edit after approval makes a new version and needs a new approval
    edited = campaigns.save(definition(**{"days: 2": "days: 4"}), MAKER)
    assert (edited.state, edited.version, edited.approved_version) == (State.DRAFT, 2, None)
    with pytest.raises(CampaignError, match="cannot be started"):
        campaigns.act("CMP_LOAN_JOURNEY", "start", MAKER)
    with pytest.raises(CampaignError, match="no approved current version"):
        campaigns.approved_definition("CMP_LOAN_JOURNEY")
    campaigns.act("CMP_LOAN_JOURNEY", "submit", MAKER)
    campaigns.act("CMP_LOAN_JOURNEY", "approve", CHECKER)
    running = campaigns.act("CMP_LOAN_JOURNEY", "start", Actor("scheduler", "system"))
    assert running.state is State.RUNNING and running.approved_version == 2
    with pytest.raises(CampaignError, match="pause it first"):
        campaigns.save(definition(**{"days: 2": "days: 5"}), MAKER)
    campaigns.act("CMP_LOAN_JOURNEY", "pause", Actor("chen", "compliance"))
    campaigns.save(definition(**{"days: 2": "days: 5"}), MAKER)  # back to draft
    with pytest.raises(CampaignError, match="cannot be resumed"):
        campaigns.act("CMP_LOAN_JOURNEY", "resume", MAKER)
    campaigns.act("CMP_LOAN_JOURNEY", "cancel", MAKER)
    with pytest.raises(CampaignError, match="cannot be edited"):
        campaigns.save(definition(**{"days: 2": "days: 6"}), MAKER)
    history = campaigns.history("CMP_LOAN_JOURNEY")
    assert [h["action"] for h in history] == [
        "create", "submit", "approve", "schedule", "edit", "submit", "approve", "start",
        "pause", "edit", "cancel"]  # fmt: skip
    approval = history[2]
    assert (approval["actor"], approval["role"], approval["version"]) == ("li", "approver", 1)
    audited = [e for e in store.audit_entries(50) if e["entity"] == "campaign"]
    assert len(audited) == len(history)


def test_roles_and_rules(store: OperationalStore) -> None:
    campaigns = Campaigns(store)
    with pytest.raises(CampaignError, match="may not write campaigns"):
        campaigns.save(definition(), CHECKER)
    campaigns.save(definition(), MAKER)
    assert campaigns.save(definition(), MAKER).version == 1  # the same text: no new version
    campaigns.act("CMP_LOAN_JOURNEY", "submit", MAKER)
    with pytest.raises(CampaignError, match="needs a comment"):
        campaigns.act("CMP_LOAN_JOURNEY", "reject", CHECKER)
    back = campaigns.act("CMP_LOAN_JOURNEY", "reject", CHECKER, comment="add a goal")
    assert back.state is State.DRAFT and back.submitted_by is None
    with pytest.raises(NotFound, match="no campaign"):
        campaigns.act("NOPE", "submit", MAKER)


def test_two_approvers_at_once_approve_once(store: OperationalStore) -> None:
    campaigns = Campaigns(store)
    campaigns.save(definition(), MAKER)
    campaigns.act("CMP_LOAN_JOURNEY", "submit", MAKER)

    def approve(name: str) -> str:
        try:
            campaigns.act("CMP_LOAN_JOURNEY", "approve", Actor(name, "approver"))
            return "ok"
        except CampaignError:
            return "refused"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(approve, [f"approver{i}" for i in range(6)]))
    assert outcomes.count("ok") == 1
    assert [h["action"] for h in campaigns.history("CMP_LOAN_JOURNEY")].count("approve") == 1


def test_the_campaign_commands_take_identity_from_api_keys(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from typer.testing import CliRunner

    import lodestar.cli.campaign_commands  # noqa: F401  (registers the commands)
    from lodestar.cli.main import app, state
    from lodestar.security.api_keys import create_key
    from lodestar.workspace import Workspace

    monkeypatch.delenv("LODESTAR_API_KEY", raising=False)
    ws_path = tmp_path / "bank"
    with Workspace.init(ws_path) as ws:
        _, maker_key = create_key(ws.ops, "wang", "marketer", actor="admin")
        _, checker_key = create_key(ws.ops, "li", "approver", actor="admin")
    (tmp_path / "c.yaml").write_text(TEXT, encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> object:
        state.lang = None
        return runner.invoke(app, ["--lang", "en", *args, "-w", str(ws_path)])

    saved = run("campaign", "save", str(tmp_path / "c.yaml"), "--key", maker_key)
    assert saved.exit_code == 0 and "version 1, draft" in saved.output, saved.output
    assert run("campaign", "submit", "CMP_LOAN_JOURNEY", "--key", maker_key).exit_code == 0
    # without a key the local user is a marketer: no approval
    refused = run("campaign", "approve", "CMP_LOAN_JOURNEY")
    assert refused.exit_code == 1 and "may not approve" in refused.output
    bad = run("campaign", "approve", "CMP_LOAN_JOURNEY", "--key", "lsk_nope")
    assert bad.exit_code == 1 and "unknown, revoked or malformed" in bad.output
    approved = run("campaign", "approve", "CMP_LOAN_JOURNEY", "--key", checker_key)
    assert approved.exit_code == 0 and "is now approved" in approved.output
    shown = run("campaign", "show", "CMP_LOAN_JOURNEY")
    assert '"approved_version": 1' in shown.output and '"actor": "li"' in shown.output
    assert "CMP_LOAN_JOURNEY  approved  v1" in run("campaign", "list").output
