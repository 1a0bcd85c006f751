"""Personas: planted clusters are found again (k and assignments), runs repeat with a seed, names
follow the planted traits, the model predicts what it assigned, and real datasets cluster."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from lodestar.data.catalogue import products_table
from lodestar.data.schema import CUSTOMERS, HOLDINGS
from lodestar.errors import ConfigError
from lodestar.profile.features import FEATURES, customer_features, usable_features
from lodestar.profile.persona_model import silhouette
from lodestar.profile.personas import PersonaConfig, name_personas
from lodestar.reports.personas_section import personas_section
from lodestar.workspace import Workspace

AS_OF = date(2026, 6, 30)
PER_GROUP = 250


def planted_bank(seed: int = 5) -> tuple[list[dict[str, object]], list[dict[str, object]],
                                         np.ndarray]:  # fmt: skip
    """Three clearly separated groups: young card spenders, affluent senior investors, and
    mid-life mortgage borrowers. Returns customers, holdings and the planted group of each."""
    rng = np.random.default_rng(seed)
    customers: list[dict[str, object]] = []
    holdings: list[dict[str, object]] = []
    truth = []
    for group in range(3):
        for i in range(PER_GROUP):
            cid = f"G{group}_{i:04d}"
            truth.append(group)
            age = {0: 24, 1: 63, 2: 40}[group] + int(rng.integers(-3, 4))
            income = {0: 60_000, 1: 400_000, 2: 180_000}[group] * float(rng.uniform(0.85, 1.15))
            customers.append({
                "customer_id": cid, "birth_date": AS_OF - timedelta(days=int(age * 365.25)),
                "join_date": AS_OF - timedelta(days=int(rng.integers(200, 900))),
                "annual_income": round(income, 2), "status": "active",
            })  # fmt: skip

            def hold(product: str, balance: float, limit: float | None = None,
                     cid: str = cid) -> None:  # fmt: skip
                holdings.append({
                    "account_id": f"{cid}-{product}", "customer_id": cid,
                    "product_id": product, "open_date": AS_OF - timedelta(days=100),
                    "status": "active", "balance": round(balance, 2), "credit_limit": limit,
                    "as_of_date": AS_OF,
                })  # fmt: skip

            scale = float(rng.uniform(0.8, 1.25))
            if group == 0:
                hold("DEP_CURRENT", 3_000 * scale)
                hold("CC_STANDARD", 18_000 * scale, 20_000)
            elif group == 1:
                hold("DEP_CURRENT", 400_000 * scale)
                hold("WM_FIXED", 1_500_000 * scale)
                hold("DEP_LARGE_CD", 800_000 * scale)
            else:
                hold("DEP_CURRENT", 40_000 * scale)
                hold("LOAN_MORTGAGE", 1_200_000 * scale)
    return customers, holdings, np.array(truth)


def _load(ws: Workspace, customers: list[dict[str, object]],
          holdings: list[dict[str, object]]) -> None:  # fmt: skip
    ws.load_tables(
        [("products", products_table()),
         ("customers", pa.Table.from_pylist(customers, schema=CUSTOMERS.arrow_schema)),
         ("holdings", pa.Table.from_pylist(holdings, schema=HOLDINGS.arrow_schema))],
        source="test:planted",
    )  # fmt: skip


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict[str, int]]:
    customers, holdings, truth = planted_bank()
    ws = Workspace.init(tmp_path_factory.mktemp("personas") / "ws")
    _load(ws, customers, holdings)
    yield ws, {str(c["customer_id"]): int(g) for c, g in zip(customers, truth, strict=True)}
    ws.close()


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_planted_groups_are_recovered(
    planted: tuple[Workspace, dict[str, int]], method: str
) -> None:
    ws, truth = planted
    result = ws.personas(PersonaConfig(method=method, k_min=2, k_max=6), save=False)  # type: ignore[arg-type]
    assert result.k == 3
    assert sorted(result.scores) == [2, 3, 4, 5, 6]
    if method == "kmeans":
        assert result.metric == "silhouette"
        assert max(result.scores, key=lambda k: result.scores[k]) == 3
    else:
        assert result.metric == "bic"
        assert min(result.scores, key=lambda k: result.scores[k]) == 3
    ids = result.assignments["customer_id"].to_pylist()
    found = result.assignments["persona_id"].to_pylist()
    ari = adjusted_rand_score([truth[c] for c in ids], found)
    assert ari > 0.98
    assert [p.size for p in result.profiles] == [PER_GROUP] * 3
    assert sum(p.share for p in result.profiles) == pytest.approx(1.0)
    # Transactions, events and campaigns are empty: those features are dropped, with a reason.
    dropped = {d.feature: d.reason for d in result.dropped}
    assert dropped["txn_count_90d"] == "all_null"
    assert dropped["app_opens_30d"] == "all_null"
    assert "loan_balance" in dropped  # nobody has a consumer loan: constant 0


def _persona_of(result, truth: dict[str, int], group: int):  # type: ignore[no-untyped-def]
    rows = result.assignments.to_pylist()
    pids = [r["persona_id"] for r in rows if truth[r["customer_id"]] == group]
    pid = max(set(pids), key=pids.count)
    return next(p for p in result.profiles if p.persona_id == pid)


def test_names_follow_the_planted_traits(planted: tuple[Workspace, dict[str, int]]) -> None:
    ws, truth = planted
    result = ws.personas(PersonaConfig(k_min=2, k_max=6), save=False)
    young = _persona_of(result, truth, 0)
    rich = _persona_of(result, truth, 1)
    mortgage = _persona_of(result, truth, 2)
    assert young.z["age"] < -0.8 and "年轻" in young.name and "young" in young.name_en
    assert {t.feature for t in young.traits} & {"age", "has_card", "card_balance"}
    assert rich.z["aum"] > 0.8 and rich.z["wealth_balance"] > 0.8
    assert any(w in rich.name for w in ("高净值", "理财"))
    assert any(w in rich.name_en for w in ("affluent", "wealth investors"))
    assert mortgage.z["mortgage_balance"] > 0.8
    assert "房贷" in mortgage.name and "mortgage" in mortgage.name_en
    names = [p.name for p in result.profiles]
    assert len(set(names)) == len(names)
    assert len({p.name_en for p in result.profiles}) == len(names)
    # The means are in the features' own units: the affluent group's AUM is in the millions.
    assert rich.means["aum"] is not None and rich.means["aum"] > 2_000_000


def test_a_seed_repeats_a_run(planted: tuple[Workspace, dict[str, int]]) -> None:
    ws, _ = planted
    cfg = PersonaConfig(k_min=2, k_max=5, seed=7, fit_sample=500, score_sample=300)
    a = ws.personas(cfg, save=False)
    b = ws.personas(cfg, save=False)
    assert a.assignments.equals(b.assignments)
    assert a.scores == b.scores
    assert a.model.meta["data_fingerprint"] == b.model.meta["data_fingerprint"]


def test_saved_model_predicts_what_it_assigned(planted: tuple[Workspace, dict[str, int]]) -> None:
    ws, _ = planted
    result = ws.personas(PersonaConfig(k_min=2, k_max=4))
    folder = ws.root / "profile" / "personas"
    assert (folder / "model.joblib").is_file()
    meta = (folder / "model.json").read_text(encoding="utf-8")
    assert '"data_fingerprint"' in meta and "persona_en" in meta and '"k": 3' in meta
    again = ws.predict_personas()
    assert again.sort_by("customer_id").equals(result.assignments.sort_by("customer_id"))
    some = ws.predict_personas(["G1_0003", "G0_0100"])
    assert some.num_rows == 2
    view = ws.query(
        "SELECT persona_id, persona, persona_en FROM customer_profile WHERE customer_id = 'G1_0003'"
    ).to_pylist()[0]
    assert (
        view["persona"]
        == some.filter(pa.compute.equal(some["customer_id"], "G1_0003"))["persona"][0].as_py()
    )


def test_report_section(planted: tuple[Workspace, dict[str, int]]) -> None:
    ws, _ = planted
    result = ws.personas(PersonaConfig(k_min=2, k_max=4), save=False)
    zh = personas_section(result, "zh-CN")
    en = personas_section(result, "en")
    assert "客群画像" in zh.title and "Personas" in en.title
    for section, name in ((zh, result.profiles[0].name), (en, result.profiles[0].name_en)):
        assert name in section.html
        assert section.html.count("plotly-graph-div") >= 3


def test_silhouette_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (400, 5)), rng.normal(2.5, 1, (300, 5))])
    labels = np.r_[np.zeros(400, int), np.ones(300, int)]
    labels[::7] = 2  # a third, mixed cluster
    labels[5] = 3  # and a cluster of one (silhouette 0 by definition)
    assert silhouette(x, labels, block=128) == pytest.approx(silhouette_score(x, labels),
                                                             abs=1e-5)  # fmt: skip


def test_names_are_unique_even_when_traits_coincide() -> None:
    z = {f: 0.0 for f in FEATURES}
    same = [{**z, "age": -1.5}, {**z, "age": -1.4}, {**z, "age": -1.3, "aum": 0.5}]
    names = name_personas(same)
    assert len(set(names)) == 3
    assert all("年轻" in zh and "young" in en for zh, en in names)
    assert name_personas([z])[0] == ("大众客群", "mainstream customers")
    low = {**z, "aum": -0.9, "txn_count_90d": -1.0, "days_since_active": 1.2}
    assert name_personas([low])[0][1].endswith("long tail")


@pytest.mark.parametrize(
    "kwargs",
    [{"method": "dbscan"}, {"k_min": 1}, {"k_min": 5, "k_max": 4}, {"features": ("nope",)},
     {"fit_sample": 10}],
)  # fmt: skip
def test_bad_settings_are_explained(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="personas"):
        PersonaConfig(**kwargs)  # type: ignore[arg-type]


def test_errors_on_empty_or_uniform_data(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "empty") as ws:
        with pytest.raises(ConfigError, match="need customers"):
            ws.personas()
        with pytest.raises(ConfigError, match="no persona model"):
            ws.predict_personas()
        people = [{"customer_id": f"U{i}", "join_date": AS_OF, "status": "active"}
                  for i in range(50)]  # fmt: skip
        ws.load_tables([("customers", pa.Table.from_pylist(people, schema=CUSTOMERS.arrow_schema))],
                       source="test:uniform")  # fmt: skip
        with pytest.raises(ConfigError, match="no feature varies"):
            ws.personas()


def test_features_against_a_plain_computation(planted: tuple[Workspace, dict[str, int]]) -> None:
    ws, _ = planted
    customers, holdings, _ = planted_bank()
    table, day = customer_features(ws.engine)
    assert day == AS_OF
    got = {r["customer_id"]: r for r in table.to_pylist()}
    for c in customers[::97]:
        cid = str(c["customer_id"])
        own = [h for h in holdings if h["customer_id"] == cid]
        aum = sum(float(h["balance"]) for h in own  # type: ignore[arg-type]
                  if str(h["product_id"]).startswith(("DEP", "WM")))  # fmt: skip
        assert got[cid]["aum"] == pytest.approx(aum)
        assert got[cid]["products_held"] == len(own)
        birth = c["birth_date"]
        assert isinstance(birth, date)
        age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
        assert got[cid]["age"] == age
        card = [h for h in own if h["product_id"] == "CC_STANDARD"]
        if card:
            limit = float(card[0]["credit_limit"])  # type: ignore[arg-type]
            expected = float(card[0]["balance"]) / limit  # type: ignore[arg-type]
            assert got[cid]["credit_utilisation"] == pytest.approx(expected)
        else:
            assert got[cid]["credit_utilisation"] is None
    keep, dropped = usable_features(table, ["age", "txn_count_90d"])
    assert keep == ["age"]
    assert [d.feature for d in dropped] == ["txn_count_90d"]


def test_synthetic_bank(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "bank") as ws:
        ws.generate(2_000, seed=11)
        result = ws.personas(PersonaConfig(k_min=3, k_max=6))
        assert 3 <= result.k <= 6
        assert result.dropped == []  # the synthetic bank fills every feature
        shares = [p.share for p in result.profiles]
        assert min(shares) > 0.01 and max(shares) < 0.8
        counted = ws.query("SELECT count(persona_id) FROM customer_profile").column(0)[0].as_py()
        assert counted == result.assignments.num_rows


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["bank-churn", "bank-marketing"])
def test_real_datasets(tmp_path: Path, shared_data: Path, dataset: str) -> None:
    with Workspace.init(tmp_path / dataset) as ws:
        ws.import_dataset(dataset, shared_data / dataset)
        result = ws.personas(PersonaConfig(k_min=3, k_max=6))
        assert 3 <= result.k <= 6
        n = result.assignments.num_rows
        expected = {"bank-churn": 10_000 - 2_037, "bank-marketing": 45_211}[dataset]
        assert n == expected  # churned (closed) customers are left out
        shares = [p.share for p in result.profiles]
        assert min(shares) > 0.01 and max(shares) < 0.85
        assert len({p.name for p in result.profiles}) == result.k
        used = set(result.features)
        assert {"age", "aum"} <= used
        assert "txn_count_90d" not in used  # no transactions in these datasets


def test_cli(planted: tuple[Workspace, dict[str, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import lodestar.cli.profile_analytics_commands  # noqa: F401  (registers the commands)
    from lodestar.cli.main import app, state

    ws, _ = planted
    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    runner = CliRunner()
    state.lang = None
    zh = runner.invoke(app, ["profile", "personas", "--k-min", "2", "--k-max", "4",
                             "-w", str(ws.root)])  # fmt: skip
    assert zh.exit_code == 0, zh.output
    assert "客群画像" in zh.output and "3 *" in zh.output and "房贷" in zh.output
    state.lang = None
    en = runner.invoke(app, ["--lang", "en", "profile", "personas", "--method", "gmm",
                             "--k-min", "2", "--k-max", "4", "-w", str(ws.root)])  # fmt: skip
    assert en.exit_code == 0, en.output
    assert "BIC" in en.output and "mortgage" in en.output and "Features left out" in en.output
    state.lang = None
    bad = runner.invoke(app, ["--lang", "en", "profile", "personas", "--k-min", "9",
                              "-w", str(ws.root)])  # fmt: skip
    assert bad.exit_code == 1 and "k range 9..8" in bad.output
