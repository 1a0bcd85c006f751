"""Life events on a crafted bank where each rule must fire on exact dates and each near miss must
not; ids that repeat across runs; the per-customer profile; the synthetic bank."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lodestar.data.catalogue import products_table
from lodestar.data.schema import CUSTOMERS, EVENTS, HOLDINGS, TRANSACTIONS
from lodestar.errors import ConfigError
from lodestar.profile.life_events import EventType, LifeEventConfig
from lodestar.workspace import Workspace

AS_OF = date(2026, 6, 30)
FAR = date(1970, 1, 15)  # a birthday far from the horizon


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


class Bank:
    """Rows for a tiny bank, written plainly."""

    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []
        self.holdings: list[dict[str, Any]] = []
        self.transactions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def customer(self, cid: str, birth: date = FAR, **kw: Any) -> str:
        self.customers.append({"customer_id": cid, "birth_date": birth,
                               "join_date": date(2020, 1, 1), "status": "active", **kw})  # fmt: skip
        return cid

    def hold(self, cid: str, product: str, opened: date, balance: float = 1000.0,
             tag: str = "", **kw: Any) -> str:  # fmt: skip
        account = f"{cid}-{product}{tag}"
        self.holdings.append({"account_id": account, "customer_id": cid, "product_id": product,
                              "open_date": opened, "status": "active", "balance": balance,
                              "as_of_date": AS_OF, **kw})  # fmt: skip
        return account

    def tx(self, cid: str, when: datetime, kind: str, amount: float, direction: str,
           account: str | None = None) -> None:  # fmt: skip
        n = len(self.transactions)
        self.transactions.append({"transaction_id": f"T{n:05d}", "customer_id": cid,
                                  "account_id": account, "ts": when, "type": kind,
                                  "amount": amount, "direction": direction})  # fmt: skip

    def event(self, cid: str, when: datetime, city: str) -> None:
        n = len(self.events)
        self.events.append({"event_id": f"E{n:05d}", "customer_id": cid, "ts": when,
                            "event_name": "app_open", "platform": "app",
                            "properties": json.dumps({"city": city}, ensure_ascii=False)})  # fmt: skip

    def load(self, ws: Workspace) -> None:
        ws.load_tables(
            [("products", products_table()),
             ("customers", pa.Table.from_pylist(self.customers, schema=CUSTOMERS.arrow_schema)),
             ("holdings", pa.Table.from_pylist(self.holdings, schema=HOLDINGS.arrow_schema)),
             ("transactions", pa.Table.from_pylist(self.transactions,
                                                   schema=TRANSACTIONS.arrow_schema)),
             ("events", pa.Table.from_pylist(self.events, schema=EVENTS.arrow_schema))],
            source="test:life-events",
        )  # fmt: skip


def crafted() -> Bank:
    b = Bank()
    # The data date (last transaction) is 2026-06-30; the history starts 2025-01-01.
    clock = b.customer("CLOCK")
    b.tx(clock, at("2025-01-01"), "deposit", 10.0, "credit")
    b.tx(clock, at("2026-06-30", 9), "deposit", 10.0, "credit")

    # Salary: +25% in June against Mar-May (fires); +19% (does not); a gap in the months before
    # (does not); a regular monthly transfer that drops 25% (fires); irregular transfers (no).
    for cid, june in (("S_UP", 12_500.0), ("S_NEAR", 11_900.0)):
        b.customer(cid)
        for month in range(1, 6):
            b.tx(cid, at(f"2026-{month:02d}-10"), "salary", 10_000.0, "credit")
        b.tx(cid, at("2026-06-10", 8), "salary", june, "credit")
    b.customer("S_GAP")
    for month in (2, 4, 5):
        b.tx("S_GAP", at(f"2026-{month:02d}-10"), "salary", 10_000.0, "credit")
    b.tx("S_GAP", at("2026-06-10"), "salary", 13_000.0, "credit")
    b.customer("S_REG")
    for month, amount in ((1, 8_000.0), (2, 8_100.0), (3, 8_000.0), (4, 7_950.0), (5, 8_000.0),
                          (6, 6_000.0)):  # fmt: skip
        b.tx("S_REG", at(f"2026-{month:02d}-15"), "transfer_in", amount, "credit")
    b.customer("S_IRR")
    for month, amount in ((1, 1_000.0), (2, 9_000.0), (3, 3_000.0), (4, 8_000.0), (5, 8_000.0),
                          (6, 2_000.0)):  # fmt: skip
        b.tx("S_IRR", at(f"2026-{month:02d}-15"), "transfer_in", amount, "credit")

    # Large flows: typical 2,000 in; 60,000 arrives (fires); 48,000 (under the threshold);
    # typical 20,000 and 60,000 (only 3x); a 80,000 withdrawal against 1,000 debits (fires).
    for cid, big, typical in (("L_IN", 60_000.0, 2_000.0), ("L_NEAR", 48_000.0, 2_000.0),
                              ("L_RICH", 60_000.0, 20_000.0)):  # fmt: skip
        b.customer(cid)
        for day in ("2026-04-03", "2026-04-20", "2026-05-03", "2026-05-20"):
            b.tx(cid, at(day), "transfer_in", typical, "credit")
        b.tx(cid, at("2026-06-20", 15), "transfer_in", big, "credit")
    b.customer("L_OUT")
    for day in ("2026-04-03", "2026-04-20", "2026-05-03", "2026-05-20"):
        b.tx("L_OUT", at(day), "card_purchase", 1_000.0, "debit")
    b.tx("L_OUT", at("2026-06-25", 11), "withdrawal", 80_000.0, "debit")

    # Maturities: a 1-year deposit due in 15 days (fires), one due in 36 days (no), one rolled
    # over once and due in 20 days (fires), a closed one (no), a 12-month loan due tomorrow.
    b.customer("M_DEP")
    b.hold("M_DEP", "DEP_TERM_1Y", date(2025, 7, 15), 50_000.0)
    b.customer("M_NEAR")
    b.hold("M_NEAR", "DEP_TERM_1Y", date(2025, 8, 5), 50_000.0)
    b.customer("M_ROLL")
    b.hold("M_ROLL", "DEP_TERM_1Y", date(2024, 7, 20), 30_000.0)
    b.customer("M_CLOSED")
    b.hold("M_CLOSED", "DEP_TERM_1Y", date(2025, 7, 10), 0.0, status="closed",
           close_date=date(2026, 1, 1))  # fmt: skip
    b.customer("M_LOAN")
    b.hold("M_LOAN", "LOAN_SB", date(2025, 7, 1), 80_000.0)

    # Repayment due: card opened on the 5th (due 5 July), one opened on the 31st (due 30 June,
    # the month's last day), a card with nothing owed (no).
    b.customer("R_CARD")
    b.hold("R_CARD", "CC_STANDARD", date(2024, 3, 5), 5_000.0, credit_limit=20_000.0)
    b.customer("R_EOM")
    b.hold("R_EOM", "CC_STANDARD", date(2024, 1, 31), 2_000.0, credit_limit=20_000.0)
    b.customer("R_ZERO")
    b.hold("R_ZERO", "CC_STANDARD", date(2024, 3, 5), 0.0, credit_limit=20_000.0)

    # Card anniversaries: third on 10 July (fires), first on 5 August (too far).
    b.customer("A_CARD")
    b.hold("A_CARD", "CC_GOLD", date(2023, 7, 10), 0.0, credit_limit=50_000.0)
    b.customer("A_NEAR")
    b.hold("A_NEAR", "CC_GOLD", date(2025, 8, 5), 0.0, credit_limit=50_000.0)

    # Birthdays: in 4 days (36), today (46), 29 February (next on 28 Feb 2027: no), in 32 days,
    # and a closed customer's.
    b.customer("B_SOON", date(1990, 7, 4))
    b.customer("B_TODAY", date(1980, 6, 30))
    b.customer("B_LEAP", date(1992, 2, 29))
    b.customer("B_NEAR", date(1985, 8, 1))
    b.customer("B_CLOSED", date(1990, 7, 4), status="closed", closed_date=date(2026, 1, 1))

    # Relocation: seen in Shanghai in April, then six times in Shenzhen in June (fires from the
    # first Shenzhen event); four Shenzhen events only (too few); six to five (no majority).
    b.customer("RL_MOVE", city="上海")
    b.event("RL_MOVE", at("2026-04-01"), "上海")
    for day in range(3, 9):
        b.event("RL_MOVE", at(f"2026-06-{day:02d}"), "深圳")
    b.customer("RL_FEW", city="上海")
    for day in range(3, 7):
        b.event("RL_FEW", at(f"2026-06-{day:02d}"), "深圳")
    b.customer("RL_MIX", city="上海")
    for day in range(3, 9):
        b.event("RL_MIX", at(f"2026-06-{day:02d}"), "深圳")
    for day in range(10, 15):
        b.event("RL_MIX", at(f"2026-06-{day:02d}"), "上海")

    # First mortgage payment: booked on the mortgage (fires 1 June); booked on the current
    # account within 62 days of opening (fires 20 May); first one before the lookback (no);
    # a mortgage older than the history (no: its first payment is not in the data).
    b.customer("FM_ACC")
    mort = b.hold("FM_ACC", "LOAN_MORTGAGE", date(2026, 5, 1), 900_000.0)
    b.tx("FM_ACC", at("2026-06-01", 12), "loan_repayment", 4_000.0, "debit", mort)
    b.customer("FM_CUR")
    b.hold("FM_CUR", "LOAN_MORTGAGE", date(2026, 4, 10), 700_000.0)
    cur = b.hold("FM_CUR", "DEP_CURRENT", date(2020, 1, 1), 10_000.0)
    for day in ("2026-05-20", "2026-06-20"):
        b.tx("FM_CUR", at(day, 13), "loan_repayment", 3_000.0, "debit", cur)
    b.customer("FM_OLD")
    old = b.hold("FM_OLD", "LOAN_MORTGAGE", date(2026, 1, 10), 500_000.0)
    for day in ("2026-02-10", "2026-03-10", "2026-04-10", "2026-05-10", "2026-06-10"):
        b.tx("FM_OLD", at(day, 13), "loan_repayment", 2_000.0, "debit", old)
    b.customer("FM_PRE")
    pre = b.hold("FM_PRE", "LOAN_MORTGAGE", date(2020, 1, 1), 300_000.0)
    b.tx("FM_PRE", at("2026-06-10", 13), "loan_repayment", 2_000.0, "debit", pre)
    return b


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace.init(tmp_path_factory.mktemp("life") / "ws")
    crafted().load(ws)
    yield ws
    ws.close()


def fired(table: pa.Table) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        out.setdefault((row["customer_id"], row["event_type"]), []).append(row)
    return out


EXPECTED = {
    ("S_UP", "salary_change"): at("2026-06-10", 8),
    ("S_REG", "salary_change"): at("2026-06-15"),
    ("L_IN", "large_inflow"): at("2026-06-20", 15),
    ("L_OUT", "large_outflow"): at("2026-06-25", 11),
    ("M_DEP", "deposit_maturity"): at("2026-07-15", 0),
    ("M_ROLL", "deposit_maturity"): at("2026-07-20", 0),
    ("M_LOAN", "loan_maturity"): at("2026-07-01", 0),
    ("R_CARD", "repayment_due"): at("2026-07-05", 0),
    ("R_EOM", "repayment_due"): at("2026-06-30", 0),
    ("M_LOAN", "repayment_due"): at("2026-07-01", 0),
    ("FM_ACC", "repayment_due"): at("2026-07-01", 0),
    ("FM_CUR", "repayment_due"): at("2026-07-10", 0),
    ("FM_OLD", "repayment_due"): at("2026-07-10", 0),
    ("FM_PRE", "repayment_due"): at("2026-07-01", 0),
    ("A_CARD", "card_anniversary"): at("2026-07-10", 0),
    ("B_SOON", "birthday"): at("2026-07-04", 0),
    ("B_TODAY", "birthday"): at("2026-06-30", 0),
    ("RL_MOVE", "relocation"): at("2026-06-03"),
    ("FM_ACC", "first_mortgage_payment"): at("2026-06-01", 12),
    ("FM_CUR", "first_mortgage_payment"): at("2026-05-20", 13),
}


def test_each_rule_fires_on_its_date_and_near_misses_do_not(bank: Workspace) -> None:
    result = bank.life_events()
    assert result.as_of == AS_OF
    got = fired(result.table)
    assert {k: [r["ts"] for r in v] for k, v in got.items()} == {
        k: [v] for k, v in EXPECTED.items()
    }
    assert result.counts == {t: sum(1 for k in EXPECTED if k[1] == t) for t in EventType}
    assert result.unsupported == {}


def test_details_say_what_happened(bank: Workspace) -> None:
    got = fired(bank.life_events(save=False).table)

    def details(cid: str, kind: str) -> dict[str, Any]:
        return dict(json.loads(got[(cid, kind)][0]["details"]))

    assert details("S_UP", "salary_change") == {"amount": 12_500.0, "previous": 10_000.0,
                                                "change": 0.25, "source": "salary"}  # fmt: skip
    assert details("S_REG", "salary_change")["source"] == "regular_credit"
    assert details("S_REG", "salary_change")["previous"] == 8_000.0
    assert details("L_IN", "large_inflow")["typical"] == 2_000.0
    assert details("L_IN", "large_inflow")["amount"] == 60_000.0
    assert details("M_ROLL", "deposit_maturity")["accounts"] == ["M_ROLL-DEP_TERM_1Y"]
    assert details("A_CARD", "card_anniversary")["years"] == 3
    assert details("B_SOON", "birthday")["age"] == 36
    assert details("RL_MOVE", "relocation") == {"from": "上海", "to": "深圳", "events": 6,
                                                "share": 1.0}  # fmt: skip
    assert details("FM_ACC", "first_mortgage_payment")["matched"] == "account"
    assert details("FM_CUR", "first_mortgage_payment")["matched"] == "customer"


def test_ids_repeat_across_runs_and_keep_their_first_detection(bank: Workspace) -> None:
    first = bank.life_events()
    stored = bank.query("SELECT event_id, detected_at FROM life_events").to_pylist()
    second = bank.life_events()
    assert sorted(first.table["event_id"].to_pylist()) == sorted(
        second.table["event_id"].to_pylist()
    )
    before = {r["event_id"]: r["detected_at"] for r in stored}
    after = {r["event_id"]: r["detected_at"] for r in second.table.to_pylist()}
    assert after == before
    assert len(set(after)) == len(after) == bank.engine.count("life_events")


def test_profile_columns(bank: Workspace) -> None:
    bank.life_events()
    rows = {r["customer_id"]: r for r in bank.query(
        "SELECT customer_id, deposit_maturity_days, loan_maturity_days, repayment_due_days, "
        "card_anniversary_days, birthday_in_days, salary_changed_90d, large_inflow_30d, "
        "large_outflow_30d, relocated_90d, first_mortgage_payment_90d, days_since_life_event "
        "FROM customer_profile").to_pylist()}  # fmt: skip
    assert rows["M_DEP"]["deposit_maturity_days"] == 15
    assert rows["M_LOAN"]["loan_maturity_days"] == 1
    assert rows["R_EOM"]["repayment_due_days"] == 0
    assert rows["A_CARD"]["card_anniversary_days"] == 10
    assert rows["B_SOON"]["birthday_in_days"] == 4
    assert rows["B_NEAR"]["birthday_in_days"] is None
    assert rows["S_UP"]["salary_changed_90d"] and not rows["S_NEAR"]["salary_changed_90d"]
    assert rows["L_IN"]["large_inflow_30d"] and not rows["L_IN"]["large_outflow_30d"]
    assert rows["L_OUT"]["large_outflow_30d"]
    assert rows["RL_MOVE"]["relocated_90d"] and not rows["RL_FEW"]["relocated_90d"]
    assert rows["FM_CUR"]["first_mortgage_payment_90d"]
    assert not rows["FM_OLD"]["first_mortgage_payment_90d"]
    assert rows["L_OUT"]["days_since_life_event"] == 5
    assert rows["CLOCK"]["days_since_life_event"] is None


def test_settings_move_the_thresholds(bank: Workspace) -> None:
    tight = bank.life_events(LifeEventConfig(horizon_days=4, lookback_days=12,
                                             salary_change=0.19, large_amount=40_000),
                             save=False)  # fmt: skip
    got = fired(tight.table)
    assert ("R_CARD", "repayment_due") not in got  # due in 5 days
    assert ("B_SOON", "birthday") in got  # in 4 days
    assert ("S_UP", "salary_change") not in got  # 20 days ago, outside 12
    assert ("L_NEAR", "large_inflow") in got and ("L_IN", "large_inflow") in got
    no_roll = bank.life_events(LifeEventConfig(rollover_deposits=False), save=False)
    assert ("M_ROLL", "deposit_maturity") not in fired(no_roll.table)
    only = bank.life_events(LifeEventConfig(types=("birthday",)), save=False)
    assert set(only.table["event_type"].to_pylist()) == {"birthday"}
    assert set(only.counts) == {"birthday"}
    late = bank.life_events(LifeEventConfig(as_of=date(2026, 7, 3), types=("birthday",)),
                            save=False)  # fmt: skip
    assert fired(late.table)[("B_SOON", "birthday")][0]["ts"] == at("2026-07-04", 0)
    assert ("B_TODAY", "birthday") not in fired(late.table)


@pytest.mark.parametrize(
    "kwargs",
    [{"types": ("wedding",)}, {"horizon_days": 0}, {"salary_change": 1.5},
     {"large_multiple": 0.5}],
)  # fmt: skip
def test_bad_settings_are_explained(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="life events"):
        LifeEventConfig(**kwargs)  # type: ignore[arg-type]


def test_needs_customers(sqlite_workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="need customers"):
        sqlite_workspace.life_events()


def test_synthetic_bank(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "bank") as ws:
        ws.generate(3_000, seed=3)
        result = ws.life_events()
        fired_types = {t for t, n in result.counts.items() if n}
        # The synthetic bank's events carry no city: relocation cannot be detected.
        assert result.unsupported == {"relocation": result.unsupported["relocation"]}
        assert "city" in result.unsupported["relocation"]
        expected = {"large_inflow", "large_outflow", "deposit_maturity", "loan_maturity",
                    "repayment_due", "card_anniversary", "birthday", "first_mortgage_payment"}  # fmt: skip
        assert expected <= fired_types
        horizon = timedelta(days=30)
        for row in result.table.to_pylist():
            day = row["ts"].date()
            if row["event_type"] in ("deposit_maturity", "loan_maturity", "repayment_due",
                                     "card_anniversary", "birthday"):  # fmt: skip
                assert AS_OF <= day <= AS_OF + horizon
            else:
                assert AS_OF - timedelta(days=90) < day <= AS_OF
        assert ws.engine.count("profile_life_events") == 3_000


def test_cli(bank: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import lodestar.cli.profile_analytics_commands  # noqa: F401  (registers the commands)
    from lodestar.cli.main import app, state

    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    state.lang = None
    zh = runner.invoke(app, ["profile", "life-events", "-w", str(bank.root)])
    assert zh.exit_code == 0, zh.output
    assert "代发工资变动" in zh.output and "S_UP" in zh.output and "life_events" in zh.output
    state.lang = None
    en = runner.invoke(app, ["--lang", "en", "profile", "life-events", "--type", "birthday",
                             "--days", "3", "-w", str(bank.root)])  # fmt: skip
    assert en.exit_code == 0, en.output
    assert "B_TODAY" in en.output and "B_SOON" not in en.output  # due in 4 days
    assert "salary" not in en.output
    state.lang = None
    bad = runner.invoke(app, ["--lang", "en", "profile", "life-events", "--type", "wedding",
                              "-w", str(bank.root)])  # fmt: skip
    assert bad.exit_code == 1 and "unknown type wedding" in bad.output
