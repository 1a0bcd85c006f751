"""The 360° view: everything about one customer, PII masked unless unmasked (and audited)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lodestar.cli.main import app, register_commands
from lodestar.errors import ConfigError
from lodestar.workspace import Workspace


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("view") / "ws")
    ws.generate(400, seed=5)
    ws.rfm()
    ws.build_tags()
    yield ws
    ws.close()


def _busy_customer(ws: Workspace) -> str:
    return str(ws.query(
        "SELECT customer_id FROM transactions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).column(0)[0])  # fmt: skip


def test_the_view_gathers_every_section_with_pii_masked(bank: Workspace) -> None:
    cid = _busy_customer(bank)
    raw = bank.query("SELECT name, phone, id_number FROM customers WHERE customer_id = ?", [cid])
    view = bank.customer_view(cid, timeline=5)
    assert view.masked
    for col in ("name", "phone", "id_number"):
        value = raw[col][0].as_py()
        if value:
            assert view.attributes[col] != value and "*" in view.attributes[col]
    assert view.attributes["age"] is not None
    assert view.scores["rfm_group"] in {"重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户",
                                        "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"}  # fmt: skip
    assert "is_salary_customer" in view.tags and "rfm_group" not in view.tags
    assert len(view.timeline) == 5
    stamps = [r["ts"] for r in view.timeline]
    assert stamps == sorted(stamps, reverse=True)
    n_holdings = bank.query("SELECT count(*) FROM holdings WHERE customer_id = ?", [cid])
    assert len(view.holdings) == n_holdings.column(0)[0].as_py()
    assert {c["channel"] for c in view.consents} <= {"sms", "email", "app_push", "in_app", "wecom",
                                                     "voice_robot", "telemarketing"}  # fmt: skip


def test_unmasking_is_audited(bank: Workspace) -> None:
    cid = _busy_customer(bank)
    before = bank.ops.count("audit_log")
    view = bank.customer_view(cid, unmask=True, actor="analyst:li")
    assert not view.masked and "*" not in str(view.attributes["phone"])
    entries = bank.ops.audit_entries(5)
    assert bank.ops.count("audit_log") == before + 1
    assert entries[0]["action"] == "pii.unmask" and entries[0]["entity_id"] == cid
    assert entries[0]["actor"] == "analyst:li"
    assert str(view.attributes["phone"]) not in str(entries[0])  # no PII in the trail


def test_an_unknown_customer_suggests_similar_ids(bank: Workspace) -> None:
    cid = _busy_customer(bank)
    with pytest.raises(ConfigError, match="no customer") as info:
        bank.customer_view(cid[:-1] + "x")
    assert cid[:-1] in str(info.value)


def test_cli_profile_customer_id(bank: Workspace) -> None:
    cid = _busy_customer(bank)
    register_commands()
    runner = CliRunner()
    ws = str(Path(bank.root))
    result = runner.invoke(app, ["profile", cid, "-w", ws])
    assert result.exit_code == 0, result.output
    assert "脱敏" in result.output and "标签" in result.output
    english = runner.invoke(app, ["--lang", "en", "profile", cid, "--json", "-w", ws])
    assert english.exit_code == 0 and '"customer_id"' in english.output
    missing = runner.invoke(app, ["profile", "NOPE", "-w", ws])
    assert missing.exit_code == 1 and "no customer 'NOPE'" in missing.output
    # the sub-commands still work next to the id form
    assert runner.invoke(app, ["profile", "rfm", "-w", ws]).exit_code == 0
