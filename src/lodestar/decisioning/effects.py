"""What contacting a customer with an offer through a channel is expected to change.

For each offer x channel the plan needs two numbers per customer:

- ``effect``: the expected *incremental* conversion probability of the contact. From an uplift
  model it is the predicted uplift of the treatment that channel stands for; from a response or
  next-best-product model, or an assumed rate, it is the probability of converting with contact
  (the issue's "response probability where no uplift model exists": these sources cannot tell
  who would have bought anyway, and the plan's summary says which source each offer used).
- ``take``: the expected take-up with contact, which the offer's cost is paid on (a coupon goes
  to everyone who takes it up, including those who would have bought anyway).

A channel's ``effect_factor`` scales what the model measured (a call moves more people than an
SMS); a negative uplift is kept, so the arbitration never contacts customers a contact would
put off (do-not-disturb).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lodestar.decisioning.offers import EffectSource, Offer
from lodestar.errors import ConfigError


@dataclass(frozen=True)
class ChannelEffect:
    offer_id: str
    channel: str
    source: str  # EffectSource value
    model_id: str | None
    effect: np.ndarray  # float64 per customer of the universe
    take: np.ndarray
    #: Probability of converting with contact, as a response model ranks customers (for
    #: uplift offers the response champion's probability where there is one): what a
    #: response-only plan would target, kept for the plan's comparison.
    propensity: np.ndarray


@dataclass(frozen=True)
class ModelScores:
    """A model's scores over the plan's universe: ``columns`` name -> values (NaN: unscored)."""

    model_id: str
    kind: str
    columns: dict[str, np.ndarray]
    treatments: tuple[str, ...] = ()


#: (model reference) -> scores over the universe; the plan caches one call per model.
ScoreLoader = Callable[[str], ModelScores]


def align(ids: np.ndarray, scored_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (in ``scored_ids`` order) re-ordered to ``ids``; NaN where a customer was not
    scored."""
    order = pd.Index(scored_ids).get_indexer(pd.Index(ids))
    out = np.full(len(ids), np.nan)
    found = order >= 0
    out[found] = np.asarray(values, dtype=np.float64)[order[found]]
    return out


def offer_effects(
    offer: Offer,
    channels: list[str],
    load: ScoreLoader,
    n: int,
    response: np.ndarray | None = None,
) -> list[ChannelEffect]:
    """One :class:`ChannelEffect` per channel of ``offer`` among ``channels``; ``response`` is the
    response champion's probability over the universe, if there is one (NaN: unscored)."""
    spec = offer.effect
    fallback = spec.rate
    out = []
    for channel in channels:
        if channel not in offer.channels:
            continue
        factor = offer.channels[channel].effect_factor
        model_id = None
        if spec.source is EffectSource.RATE:
            base = np.full(n, spec.rate)
        else:
            reference = spec.model or (f"campaign:{spec.campaign}" if spec.campaign
                                       else spec.source.value)  # fmt: skip
            scores = load(reference)
            model_id = scores.model_id
            base = _base(offer, channel, scores)
            if spec.source is EffectSource.NBP:
                # The next-best-product model says which product a customer takes next *given*
                # they take one; it ranks, and the offer's rate (the conversion rate the bank
                # sees with contact, on average) sets the level.
                mean = float(np.nanmean(base)) if np.isfinite(base).any() else 0.0
                base = base * (spec.rate / mean) if mean > 0 else np.full(n, spec.rate)
            base = np.where(np.isnan(base), fallback, base)
        effect = base * factor
        propensity = np.clip(effect, 0.0, 1.0)
        if spec.source is EffectSource.UPLIFT and response is not None:
            # who converts with contact, whether or not the contact caused it
            propensity = np.where(np.isnan(response), propensity, response)
        take = np.full(n, spec.take_rate) if spec.take_rate is not None else propensity
        out.append(ChannelEffect(offer.id, channel, spec.source.value, model_id, effect, take,
                          propensity))
    return out


def _base(offer: Offer, channel: str, scores: ModelScores) -> np.ndarray:
    spec = offer.effect
    if spec.source is EffectSource.UPLIFT:
        if scores.kind != "uplift":
            raise ConfigError(f"offer '{offer.id}': effect model {scores.model_id} is a "
                              f"{scores.kind} model, not an uplift model")  # fmt: skip
        if "uplift" in scores.columns:  # one treatment
            return scores.columns["uplift"]
        treatment = spec.treatments.get(channel, spec.treatment)
        if treatment is None:
            raise ConfigError(
                f"offer '{offer.id}': uplift model {scores.model_id} has several treatments "
                f"({', '.join(scores.treatments)}); say which one channel '{channel}' stands for",
                hint=f"effect: {{treatments: {{{channel}: {scores.treatments[0]}}}}}",
            )
        column = f"uplift_{treatment}"
        if column not in scores.columns:
            raise ConfigError(f"offer '{offer.id}': uplift model {scores.model_id} has no "
                              f"treatment '{treatment}'",
                              hint="its treatments are " + ", ".join(scores.treatments))  # fmt: skip
        return scores.columns[column]
    if spec.source is EffectSource.RESPONSE:
        if "probability" not in scores.columns:
            raise ConfigError(f"offer '{offer.id}': model {scores.model_id} gives no "
                              "probability")  # fmt: skip
        return scores.columns["probability"]
    # next-best-product: the probability of the offer's product
    if offer.product is None:
        raise ConfigError(f"offer '{offer.id}': effect source 'nbp' needs the offer's product")
    column = f"product:{offer.product}"
    if column not in scores.columns:
        raise ConfigError(f"offer '{offer.id}': next-best-product model {scores.model_id} "
                          f"does not rank product '{offer.product}'")  # fmt: skip
    return scores.columns[column]


def scores_from_frame(model_id: str, kind: str, scored: pd.DataFrame, ids: np.ndarray,
                      treatments: tuple[str, ...] = (),
                      proba: tuple[np.ndarray, list[str]] | None = None) -> ModelScores:
    """:class:`ModelScores` over ``ids`` from a scored frame (``customer_id`` plus score
    columns) or, for next-best-product, from the full probability matrix ``proba``."""
    scored_ids = scored["customer_id"].to_numpy()
    columns: dict[str, Any] = {}
    if proba is not None:
        matrix, classes = proba
        for j, product in enumerate(classes):
            columns[f"product:{product}"] = align(ids, scored_ids, matrix[:, j])
    for name in scored.columns:
        if name in {"probability", "uplift"} or name.startswith("uplift_"):
            columns[name] = align(ids, scored_ids, scored[name].to_numpy(dtype=np.float64))
    return ModelScores(model_id, kind, columns, treatments)
