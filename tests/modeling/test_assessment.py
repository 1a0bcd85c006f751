"""Assessing a registered model on new rows (metrics, drift, alerts, history) and its report,
through the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lodestar.errors import ConfigError
from lodestar.modeling.assessment import assess, history
from lodestar.modeling.registry import ModelRegistry
from lodestar.modeling.training import train_file
from lodestar.workspace import Workspace

FAST = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 20}


def customers(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50 + shift, 15, n)
    region = rng.choice(["north", "south", "west"], n, p=[0.5, 0.3, 0.2] if not shift else
                        [0.1, 0.2, 0.7])  # fmt: skip
    logit = 0.08 * (income - 50) + np.where(region == "north", 1.0, -0.6)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"income": income, "region": region, "left": np.where(y, "yes", "no")})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelRegistry, str]:
    folder = tmp_path_factory.mktemp("assess")
    path = folder / "train.csv"
    customers(3000, 0).to_csv(path, index=False)
    registry = ModelRegistry(folder / "models")
    return registry, train_file("churn", path, "left", registry=registry, params=FAST).model_id


def test_same_population_is_ok_and_measured(trained: tuple[ModelRegistry, str]) -> None:
    registry, model_id = trained
    result = assess(registry, model_id, customers(2000, 1))
    assert result.monitoring is not None and result.monitoring.status == "ok"
    assert result.metrics["auc"] > 0.7
    assert abs(result.monitoring.auc_drop or 0) < 0.03
    assert result.saved_to is not None and result.saved_to.is_file()


def test_shifted_population_raises_alerts_and_history_keeps_them(
    trained: tuple[ModelRegistry, str],
) -> None:
    registry, model_id = trained
    before = len(history(registry, model_id))
    drifted = customers(2000, 2, shift=25.0).drop(columns=["left"])  # no outcomes yet
    result = assess(registry, model_id, drifted)
    assert result.metrics == {}
    assert result.monitoring is not None and result.monitoring.status == "alert"
    flagged = {a.feature for a in result.monitoring.alerts if a.metric == "csi"}
    assert {"income", "region"} <= flagged
    assert len(history(registry, model_id)) == before + 1
    assert history(registry, model_id)[-1]["monitoring"]["status"] == "alert"


def test_outcomes_with_gaps_are_refused(trained: tuple[ModelRegistry, str]) -> None:
    registry, model_id = trained
    frame = customers(100, 3)
    frame.loc[5, "left"] = None
    with pytest.raises(ConfigError, match="empty in 1 rows"):
        assess(registry, model_id, frame, save=False)


def test_cli_evaluate_exits_2_on_alert_and_writes_report(tmp_path: Path) -> None:
    from lodestar.cli.main import app, register_commands

    register_commands()
    ws_path = tmp_path / "ws"
    Workspace.init(ws_path).close()
    train, fresh, drifted = (tmp_path / f"{n}.csv" for n in ("train", "fresh", "drifted"))
    customers(3000, 0).to_csv(train, index=False)
    customers(1500, 1).to_csv(fresh, index=False)
    customers(1500, 2, shift=25.0).to_csv(drifted, index=False)
    with Workspace.open(ws_path) as ws:
        ws.train_model("churn", train, "left", params=FAST)
    runner = CliRunner()
    ok = runner.invoke(app, ["model", "evaluate", "churn", "--data", str(fresh), "--json",
                             "-w", str(ws_path)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["monitoring"]["status"] == "ok"
    report = tmp_path / "drift.html"
    bad = runner.invoke(app, ["model", "evaluate", "churn-v1", "--data", str(drifted),
                              "--report", str(report), "-w", str(ws_path)],
                        env={"LODESTAR_LANG": "en"})  # fmt: skip
    assert bad.exit_code == 2
    assert "ALERT" in bad.stdout and "income" in bad.stdout
    html = report.read_text("utf-8")
    assert "ROC" in html and "income" in html
    default = runner.invoke(app, ["model", "report", "churn", "-w", str(ws_path)])
    assert default.exit_code == 0
    assert (ws_path / "models" / "churn-v1" / "report.html").is_file()


def test_scorecard_report_reads_the_training_file_again(tmp_path: Path) -> None:
    path = tmp_path / "loans.csv"
    frame = customers(2500, 5)
    frame.to_csv(path, index=False)
    with Workspace.init(tmp_path / "ws") as ws:
        result = ws.train_model("scorecard", path, "left")
        html = ws.model_report(result.model_id, locale="en").read_text("utf-8")
        assert "Bins of income" in html and "WOE" in html and "PSI" in html
        frame.head(10).to_csv(path, index=False)  # the file changed: the general report
        html = ws.model_report(result.model_id, locale="en").read_text("utf-8")
        assert "Bins of income" not in html and "ROC" in html


def test_uplift_with_two_treatments_is_trained_from_a_file_and_monitored(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 3000
    frame = customers(n, 9).drop(columns=["left"])
    arm = rng.choice(["none", "sms", "push"], n)
    young = frame["income"] < 50
    p = 0.1 + 0.15 * ((arm == "sms") & young) + 0.1 * ((arm == "push") & ~young)
    frame["arm"] = arm
    frame["bought"] = (rng.random(n) < p).astype(int)
    path = tmp_path / "campaign.csv"
    frame.to_csv(path, index=False)
    registry = ModelRegistry(tmp_path / "models")
    quick = {"learners": ("S", "T"), "ensembles": (), "cv": 2, "cv_repeats": 1,
             "n_estimators": 40, "leaves_grid": (7,)}  # fmt: skip
    result = train_file("uplift", path, "bought", treatment="arm", registry=registry,
                        params=quick)  # fmt: skip
    assert {"qini", "auuc", "uplift_at_30"} <= set(result.summary())
    record = registry.show(result.model_id)
    assert record.treatment == {"column": "arm", "control": "none", "treatments": ["push", "sms"]}
    assert set(result.details["treatments"]) == {"push", "sms"}
    assessed = assess(registry, result.model_id, frame.drop(columns=["bought", "arm"]))
    assert assessed.monitoring is not None and assessed.monitoring.status == "ok"
    from lodestar.modeling.scoring import score_frame

    scored = score_frame(result.model, record, frame.head(400))
    assert {"uplift_push", "uplift_sms", "best_treatment"} <= set(scored.columns)
    assert set(scored["best_treatment"]) <= {"none", "sms", "push"}
    young = frame.head(400)["income"].to_numpy() < 50
    # the SMS works on the young, the push on the others: the averages say so
    assert scored["uplift_sms"][young].mean() > scored["uplift_sms"][~young].mean()
    assert scored["uplift_push"][~young].mean() > scored["uplift_push"][young].mean()
