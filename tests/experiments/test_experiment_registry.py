"""The experiment registry on SQLite and PostgreSQL: layers of mutually exclusive experiments
(a customer in at most one per layer, shares never above 100%, even when created at the same
moment), arms by weight inside an experiment's slice, stopping frees the slice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lodestar.errors import ConfigError, NotFound
from lodestar.experiments.assignment import Arm
from lodestar.experiments.registry import ExperimentRegistry, layer_buckets
from lodestar.storage.operational import OperationalStore

IDS = np.array([f"C{i:06d}" for i in range(20_000)], dtype=object)


@pytest.fixture
def registry(tmp_path: Path, database_url: str | None) -> Iterator[ExperimentRegistry]:
    store = OperationalStore(database_url or f"sqlite:///{tmp_path / 'ops.sqlite'}")
    store.migrate()
    yield ExperimentRegistry(store)
    store.dispose()


def test_a_layer_never_exceeds_its_traffic(registry: ExperimentRegistry) -> None:
    a = registry.create("banner-a", arms=[Arm("A"), Arm("B")], layer="home", traffic=0.3)
    b = registry.create("banner-b", arms=[Arm("X")], layer="home", traffic=0.5, holdout=0.1)
    assert (a.start, a.end, b.start, b.end) == (0, 3000, 3000, 8000)
    with pytest.raises(ConfigError, match=r"20\.00% of its traffic free .* asks for 30\.00%"):
        registry.create("banner-c", arms=[Arm("A")], layer="home", traffic=0.3)
    registry.create("other-layer", arms=[Arm("A")], layer="search", traffic=1.0)
    registry.stop("banner-a")
    c = registry.create("banner-c", arms=[Arm("A")], layer="home", traffic=0.3)
    assert (c.start, c.end) == (0, 3000)  # the stopped experiment's slice, reused
    assert [e.key for e in registry.list_experiments("home")] == ["banner-a", "banner-c",
                                                                  "banner-b"]  # fmt: skip


def test_a_customer_is_in_at_most_one_experiment_per_layer(registry: ExperimentRegistry) -> None:
    registry.create("a", arms=[Arm("A", 3), Arm("B", 1)], layer="home", traffic=0.4)
    registry.create("b", arms=[Arm("X")], layer="home", traffic=0.6, holdout=0.2)
    registry.create("s", arms=[Arm("S")], layer="search", traffic=0.5)
    home = registry.assign(IDS, "home")
    inside = np.stack([home[k] != None for k in ("a", "b")])  # noqa: E711
    assert (inside.sum(axis=0) == 1).all()  # 100% of the layer is used: exactly one each
    share_a = inside[0].mean()
    assert abs(share_a - 0.4) < 3 * np.sqrt(0.4 * 0.6 / len(IDS))
    arms_a = home["a"][inside[0]]
    assert abs((arms_a == "A").mean() - 0.75) < 3 * np.sqrt(0.75 * 0.25 / len(arms_a))
    arms_b = home["b"][inside[1]]
    assert abs((arms_b == "control").mean() - 0.2) < 3 * np.sqrt(0.2 * 0.8 / len(arms_b))
    # another layer draws independently: half of experiment a's customers are in s too
    search = registry.assign(IDS, "search")["s"] != None  # noqa: E711
    both = (inside[0] & search).mean()
    assert abs(both - 0.4 * 0.5) < 3 * np.sqrt(0.2 * 0.8 / len(IDS))
    again = registry.get("a").assign(IDS)
    assert (again == home["a"]).all()  # deterministic


def test_buckets_are_the_layers_hash() -> None:
    b = layer_buckets(IDS[:5], "home")
    assert (b == layer_buckets(IDS[:5], "home")).all()
    assert not (b == layer_buckets(IDS[:5], "search")).all()


def test_a_stopped_experiment_assigns_nobody(registry: ExperimentRegistry) -> None:
    registry.create("a", arms=[Arm("A")], traffic=1.0)
    assert registry.stop("a").status == "stopped"
    assert (registry.get("a").assign(IDS[:100]) == None).all()  # noqa: E711


def test_bad_input_says_what_and_where(registry: ExperimentRegistry) -> None:
    with pytest.raises(ConfigError, match="traffic must be a share"):
        registry.create("a", arms=[Arm("A")], traffic=1.5)
    with pytest.raises(ConfigError, match=r"steps of 0\.01%"):
        registry.create("a", arms=[Arm("A")], traffic=0.123456)
    with pytest.raises(ConfigError, match="not a valid layer"):
        registry.create("a", arms=[Arm("A")], layer="bad layer")
    with pytest.raises(ConfigError, match="arm names repeat"):
        registry.create("a", arms=[Arm("A"), Arm("A")])
    registry.create("a", arms=[Arm("A")], traffic=0.1)
    with pytest.raises(ConfigError, match="exists already"):
        registry.create("a", arms=[Arm("A")], traffic=0.1)
    with pytest.raises(NotFound):
        registry.get("nope")


def test_concurrent_creations_never_oversubscribe_a_layer(registry: ExperimentRegistry) -> None:
    """Eight experiments of 30% each asked for at once: three fit, the rest are refused."""
    made, refused = [], []
    start = threading.Barrier(8)

    def create(i: int) -> None:
        start.wait()
        try:
            made.append(registry.create(f"e{i}", arms=[Arm("A")], layer="race", traffic=0.3))
        except ConfigError:
            refused.append(i)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 3 and len(refused) == 5
    slices = sorted((e.start, e.end) for e in made)
    assert slices == [(0, 3000), (3000, 6000), (6000, 9000)]


def test_the_commands(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from lodestar.cli.main import app, register_commands
    from lodestar.workspace import Workspace

    register_commands()
    Workspace.init(tmp_path / "ws").close()
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--lang", "en", *args, "--workspace", str(tmp_path / "ws")])

    made = run("experiment", "create", "banner", "--arms", "A,B", "--weights", "3,1",
               "--layer", "home", "--traffic", "0.6", "--holdout", "0.1")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "60.00% of its traffic (buckets 0-6000)" in made.output
    full = run("experiment", "create", "other", "--arms", "A", "--layer", "home",
               "--traffic", "0.5")  # fmt: skip
    assert full.exit_code == 1 and "40.00% of its traffic free" in full.output
    bad = run("experiment", "create", "x", "--arms", "A,B", "--weights", "1")
    assert bad.exit_code == 1 and "2 arms but 1 weights" in bad.output
    shown = json.loads(run("experiment", "show", "banner").output)
    assert shown["arms"] == [{"name": "A", "weight": 3.0}, {"name": "B", "weight": 1.0}]
    assert "banner" in run("experiment", "list", "--layer", "home").output
    assert run("experiment", "stop", "banner").exit_code == 0
    assert run("experiment", "create", "other", "--arms", "A", "--layer", "home",
               "--traffic", "0.5").exit_code == 0  # fmt: skip
