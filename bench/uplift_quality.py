"""Uplift quality: Lodestar's learners beside scikit-uplift's and causalml's, and against the
oracle of a synthetic bank.

    PYTHONPATH=src .venv/bin/python -m bench.uplift_quality [--part hillstrom,multi,synthetic]
        [--customers 60000] [--workspace PATH]

- **hillstrom**: Hillstrom's e-mail test, any e-mail vs none, outcomes ``visit`` and ``spend``;
  one 70/30 split stratified by arm x outcome (seed 0). Every contender fits on the 70% and is
  scored on the same 30% by :mod:`lodestar.modeling.metrics` (Qini coefficient, AUUC for
  ``visit``, uplift@30%). Peers get LightGBM base learners with the same settings as ours and
  the categorical columns as integer codes (they take numeric arrays); causalml's DR-learner
  gets a fixed cross-fitting seed, so every contender repeats run to run. ``UpliftModel``
  picks its learner by repeated CV (3 folds x 2) on the 70% only.
- **multi**: Hillstrom mens vs womens vs no e-mail (k = 2) on ``visit``: per-treatment figures
  and the held-out value of the best-treatment policy.
- **synthetic**: a generated bank; a past campaign's contacts with features as of the day
  before the campaign started (customer attributes, and transactions, events and holdings
  before that day). Uplift model fitted on half the customers; on the other half, at a 20%
  contact budget, the incremental conversions of ranking by the model (each customer gets the
  treatment with the highest predicted effect), by a response model (a classifier on the
  treated arms) and at random (both with the treatment that converted best in the training
  half), by a "feature ceiling" (LightGBM fitted to the expected uplift) and by the truth
  (``campaign_truth``): the trait oracle ranks by the expected uplift given every latent trait,
  the luck oracle by the realised draw (type and effect). Every policy is scored by expected
  conversions (shares of the trait oracle) and by realised ones (shares of the luck oracle).

Seconds are wall-clock on a shared machine and only comparable within one run.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HILLSTROM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hillstrom-email"
FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]
SETTINGS: dict[str, Any] = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                            "min_child_samples": 50, "reg_lambda": 5.0, "random_state": 0,
                            "n_jobs": 1}  # fmt: skip
BUDGET = 0.2


def _lgb(outcome: str) -> Any:
    import lightgbm as lgb

    params = {**SETTINGS, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
              "deterministic": True, "force_row_wise": True, "verbose": -1}  # fmt: skip
    return lgb.LGBMClassifier(**params) if outcome == "binary" else lgb.LGBMRegressor(**params)


def _hillstrom_path() -> Path:
    for base in (HILLSTROM, Path("/work/shared/data/hillstrom-email")):
        if (base / "hillstrom.csv").is_file():
            return base / "hillstrom.csv"
    raise SystemExit(f"hillstrom.csv not found under {HILLSTROM}")


# --------------------------------------------------------------------------- contenders


def _model_kw(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k != "num_leaves"}


def ours(outcome: str) -> dict[str, Callable[[], Any]]:
    from lodestar.modeling.uplift import DRLearner, SLearner, TLearner, XLearner
    from lodestar.modeling.uplift_selection import UpliftModel

    kw = {"outcome": outcome, **SETTINGS}
    return {
        "lodestar S": lambda: SLearner(**kw),
        "lodestar T": lambda: TLearner(**kw),
        "lodestar X": lambda: XLearner(**kw),
        "lodestar DR": lambda: DRLearner(**kw),
        "lodestar UpliftModel (CV choice)": lambda: UpliftModel(**_model_kw(kw)),
    }


class _Sklift:
    def __init__(self, kind: str, outcome: str) -> None:
        self.kind, self.outcome = kind, outcome

    def fit(self, X: np.ndarray, y: np.ndarray, t: np.ndarray) -> _Sklift:
        from sklift.models import SoloModel, TwoModels

        if self.kind == "S":
            self.model = SoloModel(_lgb(self.outcome))
        else:
            self.model = TwoModels(_lgb(self.outcome), _lgb(self.outcome), method="vanilla")
        self.model.fit(X, y, t)
        return self

    def predict_uplift(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(X), dtype=np.float64).ravel()


class _CausalML:
    def __init__(self, kind: str, outcome: str) -> None:
        self.kind, self.outcome = kind, outcome

    def fit(self, X: np.ndarray, y: np.ndarray, t: np.ndarray) -> _CausalML:
        from causalml.inference import meta

        binary = self.outcome == "binary"
        self.share = float(t.mean())
        if self.kind == "S":
            cls = meta.BaseSClassifier if binary else meta.BaseSRegressor
            self.model = cls(learner=_lgb(self.outcome))
        elif self.kind == "T":
            cls = meta.BaseTClassifier if binary else meta.BaseTRegressor
            self.model = cls(learner=_lgb(self.outcome))
        elif self.kind == "X":
            if binary:
                self.model = meta.BaseXClassifier(
                    outcome_learner=_lgb("binary"), effect_learner=_lgb("continuous")
                )
            else:
                self.model = meta.BaseXRegressor(learner=_lgb("continuous"))
        else:  # DR: regression of the outcome for either kind, as causalml defines it
            self.model = meta.BaseDRRegressor(learner=_lgb("continuous"))
        kwargs: dict[str, Any] = {}
        if self.kind in ("X", "DR"):
            kwargs["p"] = np.full(len(t), self.share)
        if self.kind == "DR":  # its cross-fitting folds are shuffled: fix them so runs repeat
            kwargs["seed"] = SETTINGS["random_state"]
        self.model.fit(X, t, y, **kwargs)
        return self

    def predict_uplift(self, X: np.ndarray) -> np.ndarray:
        kwargs = {"p": np.full(len(X), self.share)} if self.kind == "X" else {}
        return np.asarray(self.model.predict(X, **kwargs), dtype=np.float64).reshape(len(X), -1)[
            :, 0
        ]


def peers(outcome: str) -> dict[str, Callable[[], Any]]:
    result: dict[str, Callable[[], Any]] = {}
    for kind in ("S", "T"):
        result[f"scikit-uplift {kind}"] = partial(_Sklift, kind, outcome)
    for kind in ("S", "T", "X", "DR"):
        result[f"causalml {kind}"] = partial(_CausalML, kind, outcome)
    return result


# --------------------------------------------------------------------------- Hillstrom


def hillstrom() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features (category columns) and the raw frame."""
    frame = pd.read_csv(_hillstrom_path())
    X = frame[FEATURES].astype({"zip_code": "category", "channel": "category"})
    return X, frame


def _numeric(X: pd.DataFrame) -> np.ndarray:
    return X.apply(lambda c: c.cat.codes if isinstance(c.dtype, pd.CategoricalDtype) else c)\
        .to_numpy(dtype=np.float64)  # fmt: skip


def run_hillstrom(target: str) -> list[dict[str, Any]]:
    from sklearn.model_selection import train_test_split

    from lodestar.modeling import metrics

    X, frame = hillstrom()
    t = (frame["segment"] != "No E-Mail").astype(np.int64).to_numpy()
    y = frame[target].to_numpy(dtype=np.float64)
    outcome = "binary" if target == "visit" else "continuous"
    fit_rows, test_rows = train_test_split(
        np.arange(len(frame)), test_size=0.3, random_state=0, stratify=t * 2 + (y > 0)
    )
    rows = []
    contenders = [(n, f, False) for n, f in ours(outcome).items()]
    contenders += [(n, f, True) for n, f in peers(outcome).items()]
    for name, factory, numeric in contenders:
        X_fit, X_test = X.iloc[fit_rows], X.iloc[test_rows]
        if numeric:
            X_fit, X_test = _numeric(X_fit), _numeric(X_test)
        started = time.perf_counter()
        model = factory().fit(X_fit, y[fit_rows], t[fit_rows])
        score = model.predict_uplift(X_test)
        seconds = time.perf_counter() - started
        yt, tt = y[test_rows], t[test_rows]
        row = {
            "contender": name,
            "qini": metrics.qini_coefficient(yt, tt, score),
            "auuc": metrics.auuc(yt, tt, score) if outcome == "binary" else None,
            "uplift_at_30": metrics.uplift_at(yt, tt, score, 0.3),
            "seconds": seconds,
        }
        if hasattr(model, "cv_scores_"):
            row["chosen"] = model.learner_name_
            row["cv"] = {k: round(float(np.mean(v)), 4) for k, v in model.cv_scores_.items()}
            row["cv_at_30"] = {k: round(float(np.nanmean(v)), 4)
                               for k, v in model.cv_uplift_at_30_.items()}  # fmt: skip
            row["cv_rank"] = {k: round(v, 2) for k, v in model.cv_rank_.items()}
            row["cv_rank_se"] = {k: round(v, 2) for k, v in model.cv_rank_se_.items()}
        print(target, row, flush=True)
        rows.append(row)
    return rows


def run_multi() -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    from lodestar.modeling.uplift_evaluation import evaluate_uplift
    from lodestar.modeling.uplift_selection import UpliftModel

    X, frame = hillstrom()
    arm = frame["segment"].to_numpy(dtype=object)
    y = frame["visit"].to_numpy()
    codes = pd.factorize(arm, sort=True)[0]
    fit_rows, test_rows = train_test_split(
        np.arange(len(frame)), test_size=0.3, random_state=0, stratify=codes * 2 + y
    )
    started = time.perf_counter()
    model = UpliftModel(**_model_kw(SETTINGS)).fit(X.iloc[fit_rows], y[fit_rows], arm[fit_rows])
    scores = model.predict_uplift(X.iloc[test_rows])
    seconds = time.perf_counter() - started
    result = evaluate_uplift(y[test_rows], arm[test_rows], scores)
    best = model.best_treatment(X.iloc[test_rows])["treatment"].value_counts(normalize=True)
    return {"model": model, "evaluation": result, "seconds": seconds,
            "recommended": best.to_dict()}  # fmt: skip


# --------------------------------------------------------------------------- synthetic bank


def campaign_features(ws: Any, campaign_id: str) -> pd.DataFrame:
    """One row per contact of ``campaign_id``: arm, treatment, converted, and features known
    the day before the campaign started (nothing from that day on)."""
    sql = f"""
    WITH c AS (SELECT * FROM past_campaigns WHERE campaign_id = '{campaign_id}'),
    tx AS (
        SELECT t.customer_id,
               count(*) FILTER (WHERE t.ts >= c.start_date - INTERVAL 90 DAY) AS tx_90d,
               count(*) AS tx_all,
               coalesce(sum(t.amount) FILTER (WHERE t.ts >= c.start_date - INTERVAL 90 DAY), 0)
                   AS amount_90d,
               coalesce(sum(t.amount) FILTER (WHERE t.direction = 'credit'
                   AND t.ts >= c.start_date - INTERVAL 365 DAY), 0) AS credit_365d,
               date_diff('day', max(t.ts), c.start_date) AS days_since_tx
        FROM transactions t, c WHERE t.ts < c.start_date GROUP BY t.customer_id, c.start_date),
    ev AS (
        SELECT e.customer_id,
               count(*) FILTER (WHERE e.ts >= c.start_date - INTERVAL 90 DAY) AS events_90d,
               count(DISTINCT e.platform) AS platforms,
               count(DISTINCT e.event_name) AS event_kinds,
               date_diff('day', max(e.ts), c.start_date) AS days_since_event
        FROM events e, c WHERE e.ts < c.start_date AND e.customer_id IS NOT NULL
        GROUP BY e.customer_id, c.start_date),
    ho AS (
        SELECT h.customer_id, count(*) AS products,
               count(DISTINCT p.category) AS categories,
               count(*) FILTER (WHERE p.category = 'wealth') AS wealth_products,
               count(*) FILTER (WHERE p.category = 'credit_card') AS card_products,
               count(*) FILTER (WHERE p.category LIKE '%loan' OR p.category = 'mortgage')
                   AS loan_products
        FROM holdings h JOIN products p USING (product_id), c
        WHERE h.open_date < c.start_date AND (h.close_date IS NULL OR h.close_date >= c.start_date)
        GROUP BY h.customer_id)
    SELECT k.customer_id, k.arm, coalesce(k.treatment, 'control') AS treatment,
           k.converted::INT AS converted,
           date_diff('year', cu.birth_date, c.start_date) AS age,
           date_diff('day', cu.join_date, c.start_date) AS tenure_days,
           cu.gender, cu.region, cu.employment, cu.income_band, cu.annual_income,
           cu.marital_status, cu.education, cu.risk_tolerance, cu.acquisition_channel,
           cu.app_user_id IS NOT NULL AS app_user, cu.wecom_id IS NOT NULL AS wecom_user,
           tx.tx_90d, tx.tx_all, tx.amount_90d, tx.credit_365d, tx.days_since_tx,
           ev.events_90d, ev.platforms, ev.event_kinds, ev.days_since_event,
           ho.products, ho.categories, ho.wealth_products, ho.card_products, ho.loan_products
    FROM campaign_contacts k JOIN c USING (campaign_id)
    JOIN customers cu USING (customer_id)
    LEFT JOIN tx USING (customer_id) LEFT JOIN ev USING (customer_id)
    LEFT JOIN ho USING (customer_id)
    ORDER BY k.customer_id
    """
    frame = ws.query(sql).to_pandas()
    for name in ("gender", "region", "employment", "income_band", "marital_status",
                 "education", "risk_tolerance", "acquisition_channel"):  # fmt: skip
        frame[name] = frame[name].astype("category")
    for name in ("app_user", "wecom_user"):
        frame[name] = frame[name].astype(np.float64)
    return frame


SYNTHETIC_FEATURES = [
    "age", "tenure_days", "gender", "region", "employment", "income_band", "annual_income",
    "marital_status", "education", "risk_tolerance", "acquisition_channel", "app_user",
    "wecom_user", "tx_90d", "tx_all", "amount_90d", "credit_365d", "days_since_tx",
    "events_90d", "platforms", "event_kinds", "days_since_event", "products", "categories",
    "wealth_products", "card_products", "loan_products",
]  # fmt: skip


def _incremental(true_effect: np.ndarray, score: np.ndarray, arm_of: np.ndarray, n: int) -> float:
    """Incremental conversions of contacting the ``n`` highest scores, each with its arm, by
    ``true_effect`` (customers x treatments)."""
    top = np.argsort(-score, kind="stable")[:n]
    return float(true_effect[top, arm_of[top]].sum())


def _truth(truth: pd.DataFrame, column: str, customers: pd.Series, arms: list[str]) -> np.ndarray:
    """(customers x treatments) of one ``campaign_truth`` column, treatments in ``arms`` order."""
    wide = truth.pivot(index="customer_id", columns="treatment", values=column)
    return wide.loc[customers, arms].to_numpy()


def run_synthetic(
    customers: int, workspace: Path | None, split_seed: int = 0
) -> list[dict[str, Any]]:
    import tempfile

    from lodestar.modeling.uplift_selection import UpliftModel
    from lodestar.workspace import Workspace

    root = workspace or Path(tempfile.mkdtemp(prefix="uplift-bench-")) / "bank"
    ws = Workspace.init(root)
    if ws.counts().get("customers", 0) == 0:
        ws.generate(customers=customers, seed=7)
    results = []
    truth_frame = ws.query(
        "SELECT campaign_id, customer_id, treatment, uplift, expected_uplift FROM campaign_truth"
    ).to_pandas()
    if truth_frame["expected_uplift"].isna().any():
        raise SystemExit(f"{root}: campaign_truth has no expected_uplift; generate a new bank")
    campaigns = ws.query("SELECT campaign_id FROM past_campaigns ORDER BY 1").column(0).to_pylist()
    for campaign_id in campaigns:
        frame = campaign_features(ws, campaign_id)
        if len(frame) < 2000:
            continue
        truth = truth_frame[truth_frame["campaign_id"] == campaign_id]
        # a 50/50 split of customers, seeded: fit on one half, judge on the other
        rng = np.random.default_rng(split_seed)
        half = rng.random(len(frame)) < 0.5
        fit, test = frame[half], frame[~half].reset_index(drop=True)
        X_fit, X_test = fit[SYNTHETIC_FEATURES], test[SYNTHETIC_FEATURES]
        arms = sorted(set(fit["treatment"]) - {"control"})
        started = time.perf_counter()
        model = UpliftModel(control="control", **_model_kw(SETTINGS))
        model.fit(X_fit, fit["converted"].to_numpy(), fit["treatment"].to_numpy())
        seconds = time.perf_counter() - started
        effect = model.predict_uplift(X_test).reshape(len(X_test), -1)
        assert list(model.treatments_) == arms, (model.treatments_, arms)
        # Two truths per customer and treatment: the expected uplift given every latent trait
        # (what a policy could know before contacting anyone) and the realised draw (which adds
        # the luck of the latent type and effect draws).
        expected = _truth(truth, "expected_uplift", test["customer_id"], arms)
        realised = _truth(truth, "uplift", test["customer_id"], arms)
        # each policy contacts BUDGET of the held-out customers with one treatment each
        n = int(len(test) * BUDGET)

        treated = fit["treatment"] != "control"
        response = _lgb("binary").fit(_numeric(X_fit[treated]), fit["converted"][treated])
        p_response = response.predict_proba(_numeric(X_test))[:, 1]
        # Response model and random contact everyone with the treatment that won the
        # randomised test on average in the training half (what a marketer would do).
        y_fit, t_fit = fit["converted"].to_numpy(), fit["treatment"].to_numpy()
        won = int(np.argmax([y_fit[t_fit == a].mean() for a in arms]))
        won_arm = np.full(len(test), won)
        # The ceiling for these features: a model fitted to the expected uplift itself (per
        # treatment) on the training half.
        expected_fit = _truth(truth, "expected_uplift", fit["customer_id"], arms)
        ceiling_effect = np.column_stack([
            _lgb("continuous").fit(_numeric(X_fit), expected_fit[:, j]).predict(_numeric(X_test))
            for j in range(len(arms))
        ])  # fmt: skip
        policies = {  # name -> (score, arm)
            "trait_oracle": (expected.max(axis=1), np.argmax(expected, axis=1)),
            "luck_oracle": (realised.max(axis=1), np.argmax(realised, axis=1)),
            "uplift": (effect.max(axis=1), np.argmax(effect, axis=1)),
            "ceiling": (ceiling_effect.max(axis=1), np.argmax(ceiling_effect, axis=1)),
            "response": (p_response, won_arm),
            # the model's ranking with the arm that won on average: ranking vs choice of arm
            "uplift_won_arm": (effect[:, won], won_arm),
        }
        row: dict[str, Any] = {"campaign": campaign_id, "treatments": arms,
                               "contacts": len(frame), "chosen": model.learner_name_}  # fmt: skip
        for name, (score, arm) in policies.items():
            row[name] = _incremental(expected, score, arm, n)
            row[f"{name}_realised"] = _incremental(realised, score, arm, n)
        row["random"] = float(expected[:, won].mean() * n)
        row["random_realised"] = float(realised[:, won].mean() * n)
        row["won_arm"] = arms[won]
        top = np.argsort(-effect.max(axis=1), kind="stable")[:n]
        row["uplift_arm_share"] = {a: float(np.mean(np.argmax(effect[top], axis=1) == j))
                                   for j, a in enumerate(arms)}  # fmt: skip
        row["seconds"] = seconds
        print(row, flush=True)
        results.append(row)
    ws.close()
    return results


# --------------------------------------------------------------------------- report


def _f(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown_hillstrom(target: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"### Hillstrom, any e-mail vs none, outcome `{target}` (held-out 30%)", "",
             "| contender | Qini | AUUC | uplift@30% | seconds |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        name = r["contender"] + (f" -> {r['chosen']}" if "chosen" in r else "")
        lines.append(f"| {name} | {_f(r['qini'])} | {_f(r['auuc'])} | "
                     f"{_f(r['uplift_at_30'])} | {r['seconds']:.1f} |")  # fmt: skip
    for r in rows:
        if "cv" in r:
            lines += ["", f"UpliftModel CV on the training 70% (3 folds x 2 repeats), mean Qini: "
                      f"{r['cv']}", "", f"mean uplift@30%: {r['cv_at_30']}", "",
                      f"mean rank (higher is better): {r['cv_rank']}", "",
                      f"standard error of the mean rank: {r['cv_rank_se']}"]  # fmt: skip
    return "\n".join(lines)


def markdown_multi(result: dict[str, Any]) -> str:
    ev = result["evaluation"]
    lines = ["### Hillstrom, mens vs womens vs no e-mail (k = 2), outcome `visit`", "",
             f"UpliftModel chose {result['model'].learner_name_} "
             f"(CV mean rank {({k: round(v, 2) for k, v in result['model'].cv_rank_.items()})}), "
             f"{result['seconds']:.1f} s.", "",
             "| treatment vs no e-mail | Qini | AUUC | uplift@30% | uplift@10% |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for label, f in ev["treatments"].items():
        lines.append(f"| {label} | {_f(f['qini'])} | {_f(f['auuc'])} | "
                     f"{_f(f['uplift_at_30'])} | {_f(f['uplift_at_10'])} |")  # fmt: skip
    p = ev["policy"]
    shares = ", ".join(f"{k} {v:.0%}" for k, v in p["share_by_arm"].items())
    lines += ["", f"Best-treatment policy (IPW, held-out): visit rate {p['value']:.4f} vs "
              f"{p['control_value']:.4f} all-control (gain {p['gain']:+.4f}); recommends {shares}."]  # fmt: skip
    return "\n".join(lines)


def markdown_synthetic(rows: list[dict[str, Any]], customers: int) -> str:
    policies = [("uplift", "uplift model"), ("response", "response model"), ("random", "random"),
                ("ceiling", "feature ceiling")]  # fmt: skip
    head = " | ".join(f"{label} | share" for _, label in policies)
    rule = "|---|---|---:|---:|" + "---:|---:|" * len(policies)
    lines = [f"### Synthetic bank ({customers:,} customers): incremental conversions at a "
             f"{BUDGET:.0%} contact budget, held-out half", "",
             "Expected incremental conversions (sum of the expected uplift given the traits over "
             "those contacted), shares of the trait oracle:", "",
             f"| campaign | treatments | contacts | trait oracle | {head} | "
             "gain over random: uplift / response / ceiling | chosen | fit s |",
             rule + "---:|---|---:|"]  # fmt: skip
    for r in rows:
        o = r["trait_oracle"]
        cells = " | ".join(f"{r[k]:.1f} | {r[k] / o:.0%}" for k, _ in policies)
        gain = " / ".join(f"{(r[k] - r['random']) / (o - r['random']):.0%}"
                          for k in ("uplift", "response", "ceiling"))  # fmt: skip
        lines.append(f"| {r['campaign']} | {', '.join(r['treatments'])} | {r['contacts']:,} | "
                     f"{o:.1f} | {cells} | {gain} | {r['chosen']} | {r['seconds']:.1f} |")  # fmt: skip
    lines += ["", "Realised incremental conversions (sum of the drawn uplift), shares of the luck "
              "oracle (ranks by the drawn uplift itself):", "",
              f"| campaign | luck oracle | trait oracle | share | {head} |",
              "|---|---:|---:|---:|" + "---:|---:|" * len(policies)]  # fmt: skip
    for r in rows:
        o = r["luck_oracle_realised"]
        cells = " | ".join(f"{r[f'{k}_realised']:.1f} | {r[f'{k}_realised'] / o:.0%}"
                           for k, _ in [("trait_oracle", ""), *policies])  # fmt: skip
        lines.append(f"| {r['campaign']} | {o:.1f} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.uplift_quality")
    parser.add_argument("--part", default="hillstrom,multi,synthetic")
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--split-seed", type=int, default=0, help="synthetic: fit/test split")
    args = parser.parse_args(argv)
    parts = args.part.split(",")
    warnings.filterwarnings("ignore")  # peers' deprecation chatter
    sections = []
    if "hillstrom" in parts:
        for target in ("visit", "spend"):
            sections.append(markdown_hillstrom(target, run_hillstrom(target)))
    if "multi" in parts:
        sections.append(markdown_multi(run_multi()))
    if "synthetic" in parts:
        rows = run_synthetic(args.customers, args.workspace, args.split_seed)
        sections.append(markdown_synthetic(rows, args.customers))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
