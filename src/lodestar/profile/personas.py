"""Personas: customers grouped by clustering their features, each group named by what sets it
apart ("年轻数字化借贷客群 / young digital borrowers").

Steps: the engine computes one feature row per customer (:mod:`lodestar.profile.features`);
features with no values or a single value are dropped with a note; money amounts and counts go
through ``log1p`` (their right tails would otherwise decide every cluster), missing values take
the median, and each feature is scaled to mean 0 and standard deviation 1. k-means (or a Gaussian
mixture) is fitted for every k in ``k_min..k_max`` on a seeded sample of at most
``select_sample`` customers; k-means keeps the k with the best mean silhouette (on a seeded
sample of at most ``score_sample`` of them), the mixture the k with the lowest BIC. The chosen k
is then fitted again on a larger seeded sample (``fit_sample``), which assigns every customer.
Samples keep the cost flat as the base grows: only the feature query and the assignment scale
with the number of customers. Persona ids run 1..k from the largest persona to the smallest.

A persona's traits are the features whose persona mean is furthest from the overall mean, in
standard deviations of the transformed feature; its name joins up to two trait adjectives and one
trait noun from a bilingual vocabulary (:data:`VOCABULARY`) and is unique within a run.

>>> PersonaConfig(k_min=3, k_max=6).method
'kmeans'
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from lodestar.errors import ConfigError
from lodestar.profile.features import FEATURES, Dropped, customer_features, usable_features
from lodestar.profile.persona_model import PersonaModel, fingerprint, silhouette
from lodestar.storage.analytical import AnalyticalEngine

Method = Literal["kmeans", "gmm"]

#: (feature, direction) -> (zh adjective, en adjective, zh noun, en noun). A trait with a noun
#: can head a name ("借贷客群 / borrowers"); the others only qualify it.
VOCABULARY: dict[tuple[str, int], tuple[str, str, str | None, str | None]] = {
    ("age", 1): ("中老年", "senior", None, None),
    ("age", -1): ("年轻", "young", None, None),
    ("tenure_months", 1): ("资深", "long-standing", None, None),
    ("tenure_months", -1): ("新开户", "newly joined", None, None),
    ("annual_income", 1): ("高收入", "high-income", None, None),
    ("annual_income", -1): ("低收入", "lower-income", None, None),
    ("aum", 1): ("高净值", "affluent", None, None),
    ("aum", -1): ("低资产", "low-balance", None, None),
    ("wealth_balance", 1): ("理财", "investing", "理财", "wealth investors"),
    ("card_balance", 1): ("信用卡", "card-spending", "信用卡消费", "card spenders"),
    ("loan_balance", 1): ("借贷", "borrowing", "借贷", "borrowers"),
    ("mortgage_balance", 1): ("房贷", "mortgaged", "房贷", "mortgage holders"),
    ("products_held", 1): ("多产品", "multi-product", None, None),
    ("products_held", -1): ("单一产品", "single-product", None, None),
    ("credit_utilisation", 1): ("高用信", "high-utilisation", None, None),
    ("credit_utilisation", -1): ("低用信", "low-utilisation", None, None),
    ("has_card", 1): ("持卡", "cardholding", "持卡", "cardholders"),
    ("has_card", -1): ("无卡", "card-less", None, None),
    ("has_loan", 1): ("借贷", "borrowing", "借贷", "borrowers"),
    ("has_loan", -1): ("无贷", "debt-free", None, None),
    ("txn_count_90d", 1): ("高频交易", "frequently transacting", None, None),
    ("txn_count_90d", -1): ("低频", "rarely transacting", None, None),
    ("txn_amount_90d", 1): ("大额交易", "high-volume", None, None),
    ("txn_amount_90d", -1): ("小额", "low-volume", None, None),
    ("digital_share_90d", 1): ("数字化", "digital", None, None),
    ("digital_share_90d", -1): ("线下", "branch-based", None, None),
    ("app_opens_30d", 1): ("掌银活跃", "app-engaged", None, None),
    ("app_opens_30d", -1): ("少用App", "app-averse", None, None),
    ("days_since_active", 1): ("低活跃", "inactive", None, None),
    ("days_since_active", -1): ("活跃", "active", None, None),
    ("campaign_contacts", 1): ("常触达", "often contacted", None, None),
    ("campaign_contacts", -1): ("少触达", "rarely contacted", None, None),
    ("campaign_conversion", 1): ("营销响应", "campaign-responsive", "营销响应", "responders"),
    ("campaign_conversion", -1): ("营销冷淡", "unresponsive", None, None),
}
#: Features that say how much a customer is worth or does; a persona without a noun trait is
#: named by where it sits on them (long tail / prime / mainstream).
#: Features that say the same thing in different units share a concept; a persona shows at most
#: one trait per concept ("持卡" and "信用卡消费" would repeat each other).
CONCEPT = {"has_card": "card", "card_balance": "card", "has_loan": "loan", "loan_balance": "loan",
           "txn_count_90d": "transactions", "txn_amount_90d": "transactions"}  # fmt: skip
VALUE_FEATURES = ("aum", "annual_income", "products_held", "txn_count_90d", "txn_amount_90d",
                  "app_opens_30d")  # fmt: skip


@dataclass(frozen=True)
class PersonaConfig:
    method: Method = "kmeans"
    k_min: int = 3
    k_max: int = 8
    seed: int = 42
    #: Choose k on a seeded sample of at most this many customers...
    select_sample: int = 20_000
    #: ...then fit the chosen k on at most this many, and assign everyone.
    fit_sample: int = 50_000
    #: k-means: silhouettes are computed on a seeded sample of at most this many customers.
    score_sample: int = 10_000
    #: k-means restarts per k (the best of them is kept).
    n_init: int = 4
    #: Features to use (default: all of :data:`~lodestar.profile.features.FEATURES`).
    features: tuple[str, ...] | None = None
    #: Date features are computed at (default: the data date).
    as_of: date | None = None
    include_closed: bool = False
    #: Threads for the clustering libraries (OpenMP / BLAS). One by default: their threads spin
    #: while waiting, and on a busy machine (2 cores shared with the engine or other jobs) two
    #: of them ran k-means 6x and the mixture 4x slower than one. None: the libraries decide.
    threads: int | None = 1
    #: A trait must be at least this many standard deviations from the overall mean.
    min_trait_z: float = 0.3

    def __post_init__(self) -> None:
        if self.method not in ("kmeans", "gmm"):
            raise ConfigError(f"personas method must be 'kmeans' or 'gmm', got {self.method!r}")
        if not 2 <= self.k_min <= self.k_max:
            raise ConfigError(
                f"personas k range {self.k_min}..{self.k_max} is not valid",
                hint="give 2 <= k-min <= k-max, e.g. --k-min 3 --k-max 8",
            )
        if min(self.fit_sample, self.select_sample, self.score_sample) < 100:
            raise ConfigError(
                "personas fit_sample, select_sample and score_sample need at least 100 customers"
            )
        if self.n_init < 1:
            raise ConfigError(f"personas n_init must be at least 1, got {self.n_init}")
        if self.features is not None:
            unknown = [f for f in self.features if f not in FEATURES]
            if unknown:
                raise ConfigError(
                    f"personas features: unknown {', '.join(unknown)}",
                    hint=f"choose from {', '.join(FEATURES)}",
                )


@dataclass(frozen=True)
class Trait:
    feature: str
    z: float  # persona mean minus overall mean, in overall standard deviations
    label: str  # zh-CN description, e.g. "年轻"
    label_en: str


@dataclass(frozen=True)
class PersonaProfile:
    persona_id: int
    name: str
    name_en: str
    size: int
    share: float
    traits: list[Trait]
    means: dict[str, float | None]  # feature -> persona mean, in the feature's own units
    z: dict[str, float]  # feature -> standardised difference from the overall mean


@dataclass
class PersonaResult:
    assignments: pa.Table  # customer_id, persona_id, persona, persona_en
    profiles: list[PersonaProfile]
    k: int
    metric: Literal["silhouette", "bic"]
    scores: dict[int, float]  # k -> silhouette (higher is better) or BIC (lower is better)
    features: list[str]
    dropped: list[Dropped]
    overall_means: dict[str, float | None]
    as_of: date
    model: PersonaModel
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> list[dict[str, Any]]:
        """One row per persona: id, names, size, share and top traits (both languages)."""
        return [
            {"persona_id": p.persona_id, "persona": p.name, "persona_en": p.name_en,
             "customers": p.size, "share": p.share,
             "traits": "、".join(t.label for t in p.traits),
             "traits_en": ", ".join(t.label_en for t in p.traits)}
            for p in self.profiles
        ]  # fmt: skip


def _fit_one(method: Method, k: int, z: np.ndarray, cfg: PersonaConfig) -> Any:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.seed).fit(z)
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        n_components=k, covariance_type="full", n_init=1, random_state=cfg.seed, reg_covar=1e-4
    ).fit(z)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def select_k(z: np.ndarray, cfg: PersonaConfig) -> tuple[int, dict[int, float]]:
    """Fit every k in the range on ``z`` (already sampled and scaled); returns the chosen k and
    the score of each k."""
    ks = [k for k in range(cfg.k_min, cfg.k_max + 1) if k < len(z)]
    if not ks:
        raise ConfigError(
            f"personas: {len(z)} customers are too few for k >= {cfg.k_min}",
            hint="lower --k-min or load more customers",
        )
    scored = _sample(len(z), cfg.score_sample, np.random.default_rng(cfg.seed + 1))
    scores: dict[int, float] = {}
    for k in ks:
        est = _fit_one(cfg.method, k, z, cfg)
        if cfg.method == "kmeans":
            labels = est.labels_[scored]
            scores[k] = silhouette(z[scored], labels) if len(set(labels)) > 1 else -1.0
        else:
            scores[k] = float(est.bic(z))
    pick = max if cfg.method == "kmeans" else min
    best = pick(scores, key=lambda k: (scores[k], -k) if pick is max else (scores[k], k))
    return best, scores


def _traits(z: dict[str, float], min_z: float) -> list[tuple[str, int, float]]:
    """(feature, direction, z) from the most to the least distinctive, one per concept."""
    ranked = sorted(z.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    out: list[tuple[str, int, float]] = []
    seen: set[str] = set()
    for f, v in ranked:
        sign = 1 if v > 0 else -1
        concept = CONCEPT.get(f, f)
        if abs(v) >= min_z and (f, sign) in VOCABULARY and concept not in seen:
            seen.add(concept)
            out.append((f, sign, v))
    return out


def compose_name(traits: list[tuple[str, int, float]], value_z: float) -> tuple[str, str]:
    """A zh-CN and English name from ranked traits: the first trait with a noun among the top
    four heads it and up to two other traits qualify it; with no noun, the persona's place on
    value and activity (``value_z``) gives one."""
    head: tuple[str, str] | None = None
    mods: list[tuple[str, str]] = []
    used: set[str] = set()
    for rank, (feat, sign, _) in enumerate(traits):
        zh, en, zh_noun, en_noun = VOCABULARY[(feat, sign)]
        if head is None and zh_noun is not None and en_noun is not None and rank < 4:
            head = (zh_noun, en_noun)
            used.add(zh)
            continue
        if zh in used or len(mods) >= 2:
            continue
        used.add(zh)
        mods.append((zh, en))
    if head is None:
        if value_z <= -0.25:
            head = ("长尾", "long tail")
        elif value_z >= 0.25:
            head = ("优质", "prime customers")
        else:
            head = ("大众", "mainstream customers")
        if head[0] in used:
            head = ("", "customers")
    zh_name = "".join(m[0] for m in mods) + head[0] + "客群"
    en_name = " ".join([*(m[1] for m in mods), head[1]])
    return zh_name, en_name


def name_personas(zs: list[dict[str, float]], min_z: float = 0.3) -> list[tuple[str, str]]:
    """Unique names for personas (largest first) given each one's z-scores. A persona whose name
    a larger one already has is told apart by the feature on which it differs most from that
    one, in the direction it already leans ("高收入" if it earns more and above the average);
    a number is the last resort."""
    value = [float(np.mean([z[f] for f in VALUE_FEATURES if f in z] or [0.0])) for z in zs]
    names = [compose_name(_traits(z, min_z), v) for z, v in zip(zs, value, strict=True)]
    first: dict[tuple[str, str], int] = {}
    out: list[tuple[str, str]] = []
    for i, name in enumerate(names):
        if name not in first:
            first[name] = i
            out.append(name)
            continue
        twin = zs[first[name]]
        diff = sorted(((zs[i][f] - twin[f], f) for f in zs[i] if f in twin),
                      key=lambda d: (-abs(d[0]), d[1]))  # fmt: skip
        for delta, feat in diff:
            words = VOCABULARY.get((feat, 1 if delta > 0 else -1))
            # Only words that are true of the persona itself, not just relative to its twin.
            if words and delta * zs[i][feat] > 0 and words[0] not in name[0]:
                name = (words[0] + name[0], f"{words[1]} {name[1]}")
                break
        out.append(name)
    counts: dict[tuple[str, str], int] = {}
    unique = []
    for name in out:
        counts[name] = counts.get(name, 0) + 1
        if out.count(name) > 1:
            name = (f"{name[0]}{counts[name]}", f"{name[1]} {counts[name]}")
        unique.append(name)
    return unique


def _profiles(
    raw: np.ndarray, z: np.ndarray, ids: np.ndarray, k: int, features: list[str], min_z: float
) -> tuple[list[PersonaProfile], dict[str, float | None]]:
    n = len(ids)
    mu, sd = z.mean(axis=0), z.std(axis=0)
    sd[sd == 0] = 1.0
    overall = _nanmeans(raw)
    zs, means, sizes = [], [], []
    for pid in range(1, k + 1):
        mask = ids == pid
        sizes.append(int(mask.sum()))
        diff = (z[mask].mean(axis=0) - mu) / sd if mask.any() else np.zeros(len(features))
        zs.append({f: round(float(d), 4) for f, d in zip(features, diff, strict=True)})
        means.append(_nanmeans(raw[mask]))
    names = name_personas(zs, min_z)
    profiles = []
    for i, pid in enumerate(range(1, k + 1)):
        traits = [Trait(f, v, VOCABULARY[(f, s)][0], VOCABULARY[(f, s)][1])
                  for f, s, v in _traits(zs[i], min_z)[:3]]  # fmt: skip
        profiles.append(PersonaProfile(
            persona_id=pid, name=names[i][0], name_en=names[i][1], size=sizes[i],
            share=sizes[i] / n if n else 0.0, traits=traits,
            means=dict(zip(features, means[i], strict=True)), z=zs[i],
        ))  # fmt: skip
    return profiles, dict(zip(features, overall, strict=True))


def _nanmeans(x: np.ndarray) -> list[float | None]:
    out: list[float | None] = []
    for j in range(x.shape[1]):
        col = x[:, j]
        known = col[~np.isnan(col)]
        out.append(float(known.mean()) if len(known) else None)
    return out


def fit_personas(table: pa.Table, config: PersonaConfig | None = None) -> PersonaResult:
    """Cluster the customers of a feature table (from :func:`customer_features`)."""
    cfg = config or PersonaConfig()
    started = time.perf_counter()
    features, dropped = usable_features(table, list(cfg.features) if cfg.features else None)
    if not features:
        raise ConfigError(
            "personas: no feature varies across customers "
            f"({', '.join(f'{d.feature} {d.reason}' for d in dropped)})",
            hint="load holdings, transactions or events so customers can be told apart",
        )
    raw = np.column_stack([table[f].to_numpy(zero_copy_only=False).astype(float)
                           for f in features])  # fmt: skip
    n = len(raw)
    fit_idx = _sample(n, cfg.fit_sample, np.random.default_rng(cfg.seed))
    model = PersonaModel.prepare(features, raw[fit_idx])
    z_all = model.transform(raw)
    # Load scikit-learn's compiled parts (and their OpenMP runtime) before limiting threads:
    # threadpoolctl only limits the libraries already loaded.
    import sklearn.cluster
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=cfg.threads):
        t0 = time.perf_counter()
        # The selection sample is drawn from the fit sample, so a base smaller than both uses
        # everyone for both.
        pick = fit_idx[
            _sample(len(fit_idx), cfg.select_sample, np.random.default_rng(cfg.seed + 2))
        ]
        k, scores = select_k(z_all[pick], cfg)
        t_select = time.perf_counter() - t0
        t0 = time.perf_counter()
        estimator = _fit_one(cfg.method, k, z_all[fit_idx], cfg)
        labels = np.asarray(estimator.predict(z_all))
        t_fit = time.perf_counter() - t0
    # Persona ids by size, largest first (ties by cluster label), so reruns read the same.
    counts = np.bincount(labels, minlength=k)
    order = sorted(range(k), key=lambda c: (-counts[c], c))
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(1, k + 1)
    ids = relabel[labels]
    profiles, overall = _profiles(raw, z_all, ids, k, features, cfg.min_trait_z)
    model.finish(
        estimator=estimator,
        relabel=relabel,
        names=[(p.name, p.name_en) for p in profiles],
        params={
            "method": cfg.method,
            "k": k,
            "k_min": cfg.k_min,
            "k_max": cfg.k_max,
            "seed": cfg.seed,
            "select_sample": cfg.select_sample,
            "fit_sample": cfg.fit_sample,
            "score_sample": cfg.score_sample,
            "n_init": cfg.n_init,
            "include_closed": cfg.include_closed,
        },
        fingerprint=fingerprint(table["customer_id"], raw),
        scores=scores,
    )
    idx = pa.array(ids - 1)
    assignments = pa.table({
        "customer_id": table["customer_id"],
        "persona_id": pa.array(ids, pa.int32()),
        "persona": pa.DictionaryArray.from_arrays(idx, pa.array([p.name for p in profiles]))
        .cast(pa.string()),
        "persona_en": pa.DictionaryArray.from_arrays(idx, pa.array([p.name_en for p in profiles]))
        .cast(pa.string()),
    })  # fmt: skip
    return PersonaResult(
        assignments=assignments,
        profiles=profiles,
        k=k,
        metric="silhouette" if cfg.method == "kmeans" else "bic",
        scores=scores,
        features=features,
        dropped=dropped,
        overall_means=overall,
        as_of=date.min,
        model=model,
        seconds=time.perf_counter() - started,
        timings={"select_k": t_select, "fit_and_assign": t_fit},
    )


def compute_personas(
    engine: AnalyticalEngine, config: PersonaConfig | None = None
) -> PersonaResult:
    """Features from the store, then :func:`fit_personas`."""
    cfg = config or PersonaConfig()
    t0 = time.perf_counter()
    table, day = customer_features(engine, cfg.as_of, include_closed=cfg.include_closed)
    t_features = time.perf_counter() - t0
    if table.num_rows == 0:
        raise ConfigError("personas need customers: none are open in the workspace")
    result = fit_personas(table, cfg)
    result.as_of = day
    result.model.meta["as_of"] = day.isoformat()
    result.seconds += t_features
    result.timings["features"] = t_features
    return result
