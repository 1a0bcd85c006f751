"""The experiment registry: experiments by key in the operational store, in **layers** of
mutually exclusive experiments.

A layer's traffic is cut into 10,000 buckets by a hash of the layer name and the customer id
(:func:`~lodestar.experiments.assignment.draws`, salted ``layer``), the same for every
experiment of the layer. Each experiment owns a contiguous slice of buckets — its traffic share
— and slices of running experiments never overlap, so a customer is in at most one experiment
per layer, and a layer's shares cannot add up to more than 100%. Inside its slice an
experiment deals customers to its holdout and arms with its own key's hash (independent of the
layer's), so its arms stay balanced whatever slice it got. Experiments of different layers draw
independently: a customer can be in one experiment of each layer.

Slices are allocated under the store's locked transaction on the layer
(:meth:`~lodestar.storage.operational.OperationalStore.locked`): two experiments created at the
same moment in one layer never get the same buckets. Stopping an experiment frees its slice.

>>> buckets = layer_buckets(["C1", "C2"], "home-banner")
>>> bool(((0 <= buckets) & (buckets < BUCKETS)).all())
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from lodestar.errors import ConfigError, NotFound
from lodestar.experiments.assignment import Arm, assign, draws
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import experiments

BUCKETS = 10_000
RUNNING, STOPPED = "running", "stopped"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")


def layer_buckets(ids: Sequence[str] | np.ndarray, layer: str) -> np.ndarray:
    """Each id's bucket in ``layer`` (0 .. 9,999)."""
    return np.floor(draws(ids, layer, salt="layer") * BUCKETS).astype(np.int64)


@dataclass(frozen=True)
class Experiment:
    key: str
    layer: str
    arms: tuple[Arm, ...]
    holdout: float
    start: int  # first bucket of the slice
    end: int  # one past the last
    status: str
    name: str | None = None
    created_by: str = ""
    created_at: datetime | None = None

    @property
    def traffic(self) -> float:
        return (self.end - self.start) / BUCKETS

    def assign(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Each id's arm (``control`` for the holdout), ``None`` outside the experiment's
        slice of its layer (or for every id once the experiment is stopped)."""
        out = np.full(len(ids), None, dtype=object)
        if self.status != RUNNING or not len(ids):
            return out
        buckets = layer_buckets(ids, self.layer)
        inside = (buckets >= self.start) & (buckets < self.end)
        if inside.any():
            chosen = np.asarray(ids, dtype=object)[inside]
            out[inside] = assign(chosen, self.key, arms=self.arms, holdout=self.holdout)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "layer": self.layer,
                "arms": [{"name": a.name, "weight": a.weight} for a in self.arms],
                "holdout": self.holdout, "traffic": self.traffic,
                "buckets": [self.start, self.end], "status": self.status,
                "created_by": self.created_by,
                "created_at": self.created_at.isoformat() if self.created_at else None}  # fmt: skip


def _free(taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The gaps between the taken slices of a layer, in bucket order."""
    gaps, at = [], 0
    for start, end in sorted(taken):
        if start > at:
            gaps.append((at, start))
        at = max(at, end)
    if at < BUCKETS:
        gaps.append((at, BUCKETS))
    return gaps


def _buckets(traffic: float) -> int:
    need = round(traffic * BUCKETS)
    if not 0 < traffic <= 1 or abs(need - traffic * BUCKETS) > 1e-6:
        raise ConfigError(f"traffic must be a share in (0, 1] in steps of 0.01% (1 / "
                          f"{BUCKETS:,}), got {traffic}",
                          hint="e.g. --traffic 0.3 for 30% of the layer")  # fmt: skip
    return int(need)


class ExperimentRegistry:
    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def create(self, key: str, *, arms: Sequence[Arm], layer: str = "default",
               traffic: float = 1.0, holdout: float = 0.0, name: str | None = None,
               actor: str = "lodestar", now: datetime | None = None) -> Experiment:  # fmt: skip
        """Register ``key`` in ``layer`` with ``traffic`` of the layer's customers (the first
        free slice large enough), split into ``holdout`` and ``arms`` by weight."""
        for what, value in (("experiment key", key), ("layer", layer)):
            if not _KEY.fullmatch(value):
                raise ConfigError(f"'{value}' is not a valid {what}: letters, digits and "
                                  "_ . : - only, up to 64")  # fmt: skip
        if not arms:
            raise ConfigError("an experiment needs at least one arm", hint="--arms A,B")
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise ConfigError(f"arm names repeat: {', '.join(names)}")
        if not 0.0 <= holdout < 1.0:
            raise ConfigError(f"holdout must be in [0, 1), got {holdout}")
        need = _buckets(traffic)
        at = now or datetime.now(UTC)
        with self.store.locked(f"experiment-layer:{layer}") as conn:
            if conn.execute(sa.select(experiments.c.key)
                            .where(experiments.c.key == key)).first() is not None:  # fmt: skip
                raise ConfigError(f"experiment '{key}' exists already",
                                  hint="pick another key; lodestar experiment list shows them")  # fmt: skip
            taken = [(int(r[0]), int(r[1])) for r in conn.execute(
                sa.select(experiments.c.bucket_start, experiments.c.bucket_end).where(
                    (experiments.c.layer == layer) & (experiments.c.status == RUNNING)))]  # fmt: skip
            gaps = _free(taken)
            gap = next((g for g in gaps if g[1] - g[0] >= need), None)
            if gap is None:
                free = sum(e - s for s, e in gaps) / BUCKETS
                largest = max((e - s for s, e in gaps), default=0) / BUCKETS
                raise ConfigError(
                    f"layer '{layer}' has {free:.2%} of its traffic free (largest free slice "
                    f"{largest:.2%}); experiment '{key}' asks for {traffic:.2%}",
                    hint="a customer is in at most one experiment per layer: lower --traffic, "
                         "stop an experiment of the layer, or use another --layer")  # fmt: skip
            row = {"key": key, "name": name, "layer": layer,
                   "arms": json.dumps([{"name": a.name, "weight": a.weight} for a in arms]),
                   "holdout": holdout, "bucket_start": gap[0], "bucket_end": gap[0] + need,
                   "status": RUNNING, "created_by": actor, "created_at": at}  # fmt: skip
            conn.execute(sa.insert(experiments).values(**row))
            self.store.audit(conn, actor=actor, action="experiment.create",
                             entity="experiment", entity_id=key,
                             after={k: v for k, v in row.items() if k != "created_at"})  # fmt: skip
        return self.get(key)

    def stop(self, key: str, *, actor: str = "lodestar", now: datetime | None = None) -> Experiment:
        """Stop ``key``: it assigns nobody any more and its slice of the layer is free."""
        found = self.get(key)
        with self.store.locked(f"experiment-layer:{found.layer}") as conn:
            conn.execute(sa.update(experiments).where(experiments.c.key == key)
                         .values(status=STOPPED, stopped_at=now or datetime.now(UTC)))  # fmt: skip
            self.store.audit(conn, actor=actor, action="experiment.stop", entity="experiment",
                             entity_id=key, before={"status": found.status},
                             after={"status": STOPPED})  # fmt: skip
        return self.get(key)

    def get(self, key: str) -> Experiment:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(experiments).where(experiments.c.key == key)).mappings().first()
        if row is None:
            raise NotFound(f"no experiment '{key}'",
                           hint="lodestar experiment list shows the registered ones")  # fmt: skip
        return _experiment(row)

    def list_experiments(self, layer: str | None = None) -> list[Experiment]:
        q = sa.select(experiments).order_by(experiments.c.layer, experiments.c.bucket_start,
                                            experiments.c.key)  # fmt: skip
        if layer is not None:
            q = q.where(experiments.c.layer == layer)
        with self.store.engine.connect() as conn:
            return [_experiment(r) for r in conn.execute(q).mappings()]

    def assign(self, ids: Sequence[str] | np.ndarray, layer: str) -> dict[str, np.ndarray]:
        """For each running experiment of ``layer``, each id's arm (``None`` outside it); an
        id has a non-``None`` arm in at most one of them."""
        return {e.key: e.assign(ids) for e in self.list_experiments(layer) if e.status == RUNNING}


def _experiment(row: Any) -> Experiment:
    arms = tuple(Arm(a["name"], float(a["weight"])) for a in json.loads(row["arms"]))
    created = row["created_at"]
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Experiment(row["key"], row["layer"], arms, float(row["holdout"]),
                      int(row["bucket_start"]), int(row["bucket_end"]), row["status"],
                      row["name"], row["created_by"], created)  # fmt: skip
