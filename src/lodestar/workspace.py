"""The ``Workspace``: the one facade that the CLI, the API and notebooks call.

A workspace is a folder::

    lodestar.yaml         settings (engine, time zone, database URL...)
    operational.sqlite    operational store (unless database_url points at PostgreSQL)
    analytics.duckdb      analytical store
    staging/              loads in progress (emptied after each load)
    exports/              Parquet snapshots for other engines
    report.html           the latest demo / summary report

>>> import tempfile
>>> ws = Workspace.init(tempfile.mkdtemp() + "/bank")
>>> ws.counts()["customers"]
0
>>> ws.close()
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from lodestar.config import DEFAULT_WORKSPACE, WORKSPACE_FILE, EnvSettings, WorkspaceConfig
from lodestar.data.ingest import IngestResult, Loader, Progress, fingerprint_file
from lodestar.data.mapping import FORMATS, load_mapping
from lodestar.data.schema import AUXILIARY, ENTITIES, any_entity, entity
from lodestar.data.validation import ValidationReport
from lodestar.errors import ConfigError, IngestError, WorkspaceError
from lodestar.i18n import DEFAULT_LOCALE
from lodestar.security.actors import local_actor
from lodestar.storage.analytical import AnalyticalEngine, DuckDBEngine
from lodestar.storage.operational import OperationalStore, sqlite_url
from lodestar.workspace_campaigns import CampaignsMixin
from lodestar.workspace_decisioning import DecisioningMixin
from lodestar.workspace_effect import EffectMixin
from lodestar.workspace_events import EventsMixin
from lodestar.workspace_experiments import ExperimentsMixin
from lodestar.workspace_referrals import ReferralsMixin
from lodestar.workspace_rights import RightsMixin
from lodestar.workspace_security import SecurityMixin

if TYPE_CHECKING:
    from datetime import date

    import pandas as pd

    from lodestar.experiments.campaign_effect import CampaignEffect
    from lodestar.experiments.iteration import RoundResult
    from lodestar.modeling.assessment import Assessment
    from lodestar.modeling.credit_terms import CreditPolicy
    from lodestar.modeling.monitoring import MonitoringResult, Thresholds
    from lodestar.modeling.registry import ModelRecord, ModelRegistry
    from lodestar.modeling.scoring import PrescreenPolicy
    from lodestar.modeling.training import TrainResult
    from lodestar.modeling.watch_list import WatchLevels
    from lodestar.profile.customer_view import CustomerView
    from lodestar.profile.life_events import LifeEventConfig, LifeEventResult
    from lodestar.profile.lifecycle import LifecycleConfig, LifecycleResult
    from lodestar.profile.personas import PersonaConfig, PersonaResult
    from lodestar.profile.rfm import RfmConfig, RfmResult
    from lodestar.profile.tag_build import TagBuild
    from lodestar.profile.tag_compiler import TagPlan
    from lodestar.profile.tag_summary import TagStats
    from lodestar.profile.tags import TagDef
    from lodestar.profile.value_tiers import ValueConfig, ValueTierResult
    from lodestar.reports.overview import Overview
    from lodestar.segments.index import ProfileIndex
    from lodestar.segments.session import Overlap, ParsedSegment, SegmentExport, Segments
    from lodestar.segments.store import SegmentVersion


_log = logging.getLogger("lodestar")


def default_workspace_path() -> Path:
    """``LODESTAR_WORKSPACE``, else ``./lodestar-workspace``."""
    return Path(os.environ.get("LODESTAR_WORKSPACE") or DEFAULT_WORKSPACE)


_actor = local_actor


class Workspace(DecisioningMixin, SecurityMixin, CampaignsMixin, RightsMixin, ReferralsMixin,
                ExperimentsMixin, EventsMixin, EffectMixin):
    """Everything Lodestar knows about one bank, and every operation on it."""

    def __init__(self, root: Path, config: WorkspaceConfig, *, database_url: str | None,
                 analytics_read_only: bool = False) -> None:  # fmt: skip
        self.root = root
        self.config = config
        url = database_url or config.database_url or sqlite_url(root / "operational.sqlite")
        self.ops = OperationalStore(url)
        self.ops.migrate()
        (root / "staging").mkdir(exist_ok=True)
        #: DuckDB lets one process open a file for writing, or several for reading: API
        #: server workers (and commands that touch only the operational store) read.
        self.analytics_read_only = analytics_read_only
        self.engine: AnalyticalEngine = DuckDBEngine(
            root / "analytics.duckdb",
            memory_limit=config.memory_limit,
            threads=config.threads,
            temp_directory=root / "staging" / "spill",
            read_only=analytics_read_only,
        )
        #: Why the tags could not be refreshed after the latest load (None: they were, or no
        #: refresh was due).
        self.tag_refresh_problem: str | None = None
        if not analytics_read_only:
            self.engine.ensure_schema()
            if "customer_profile" not in self.engine.tables():
                self.refresh_profile_view()

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        database_url: str | None = None,
        config: WorkspaceConfig | None = None,
    ) -> Workspace:
        """Create a workspace folder (or open it if it already is one)."""
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"{root} exists and is not a folder")
        cfg_file = root / WORKSPACE_FILE
        if cfg_file.exists():
            return cls.open(root, database_url=database_url)
        if root.exists() and any(root.iterdir()):
            raise WorkspaceError(
                f"{root} is a folder with other files in it, not a Lodestar workspace",
                hint="choose a new or empty folder",
            )
        root.mkdir(parents=True, exist_ok=True)
        cfg = config or WorkspaceConfig(name=root.resolve().name)
        cfg.dump(cfg_file)
        return cls(root, cfg, database_url=database_url or _env_database_url())

    @classmethod
    def open(cls, path: str | Path | None = None, *, database_url: str | None = None,
             analytics_read_only: bool = False) -> Workspace:  # fmt: skip
        """Open the workspace at ``path``; ``analytics_read_only`` opens the analytical store
        for reading only, so several processes (API workers, ``lodestar apikey``) can share it
        while nothing writes to it."""
        root = Path(path) if path is not None else default_workspace_path()
        cfg_file = root / WORKSPACE_FILE
        if not cfg_file.exists():
            raise WorkspaceError(
                f"no Lodestar workspace at {root} (missing {WORKSPACE_FILE})",
                hint=f"create one with: lodestar init {root}",
            )
        cfg = WorkspaceConfig.load(cfg_file)
        return cls(root, cfg, database_url=database_url or _env_database_url(),
                   analytics_read_only=analytics_read_only)  # fmt: skip

    def close(self) -> None:
        self.engine.close()
        self.ops.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading ------------------------------------------------------------------------------
    def _loader(self, progress: Progress | None, actor: str | None) -> Loader:
        loader = Loader(
            self.engine,
            self.ops,
            self.root / "staging",
            default_tz=self.config.default_time_zone,
            actor=actor or _actor(),
            progress=progress,
        )
        # loaded events that live campaigns listen to go on to the live feed (journeys)
        loader.after_apply = self._feed_listened
        return loader

    def ingest(
        self,
        kind: str,
        path: str | Path,
        *,
        mapping: str | Path | None = None,
        file_format: str | None = None,
        force: bool = False,
        progress: Progress | None = None,
        actor: str | None = None,
    ) -> IngestResult:
        """Validate and load one file of ``kind``. All or nothing; see :mod:`lodestar.data.ingest`.

        Raises :class:`~lodestar.errors.ValidationFailed` (with a report naming rows, columns,
        values and rules) when any row breaks a rule; nothing is written then.
        """
        ent = entity(kind)
        src = Path(path)
        if not src.is_file():
            raise IngestError(f"{src}: no such file")
        m = load_mapping(Path(mapping) if mapping else None)
        if file_format:
            if file_format not in FORMATS:
                raise ConfigError(
                    f"--format {file_format}: not one of {', '.join(FORMATS)}",
                    hint="or name the file .csv, .parquet or .jsonl",
                )
            m = replace(m, format=file_format)
        fmt = m.file_format(src)
        fingerprint = fingerprint_file(src, kind=kind, mapping=m)
        if not force and (previous := self.ops.find_run(fingerprint)):
            return IngestResult(
                str(src), (kind,), 0, {}, 0.0, already_ingested=True, previous_run=previous
            )
        report = ValidationReport(
            source=str(src), kind=kind, line_offset={"csv": 1, "jsonl": 0}.get(fmt)
        )
        loader = self._loader(progress, actor)
        loader.default_tz = m.time_zone or self.config.default_time_zone
        try:
            loader.add_file(ent, src, m, report)
        except BaseException:
            loader.staging.discard()
            raise
        result = loader.commit(str(src), kind, fingerprint)
        self._after_load()
        return result

    def load_tables(
        self,
        items: Iterable[tuple[str, pa.Table]],
        *,
        source: str,
        fingerprint: str | None = None,
        progress: Progress | None = None,
        actor: str | None = None,
        expected_rows: int | None = None,
    ) -> IngestResult:
        """Validate and load a bundle of (entity, table) pairs atomically (all entities in one
        transaction). Used by the synthetic bank and the public-dataset connectors."""
        loader = self._loader(progress, actor)
        try:
            loader.add_tables(items, source, expected_rows)
        except BaseException:
            loader.staging.discard()
            raise
        result = loader.commit(source, source, fingerprint or source)
        self._after_load()
        return result

    def _after_load(self) -> None:
        """Keep the profile current: the view always; the tags of the touched customers when
        tags were built before (audiences are counted on fresh data, not after a nightly job)."""
        from lodestar.errors import LodestarError
        from lodestar.profile.tag_build import STATE

        self.refresh_profile_view()
        self.tag_refresh_problem = None
        if self.config.refresh_tags_after_load and STATE in self.engine.tables():
            try:
                self.build_tags()
            except LodestarError as exc:
                # The load itself is committed; a tag file being edited must not make it look
                # failed. The tags stay as they were until the definitions are fixed.
                self.tag_refresh_problem = str(exc)
                _log.warning("tags not refreshed after the load: %s", exc)

    def generate(
        self,
        customers: int,
        seed: int = 42,
        *,
        as_of: date | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Generate a synthetic bank of ``customers`` customers into this workspace."""
        from lodestar.data.synthetic import estimate_rows, generate_bank

        kwargs: dict[str, Any] = {}
        if as_of is not None:
            kwargs["as_of"] = as_of
        items = generate_bank(customers, seed, **kwargs)
        return self.load_tables(
            items,
            source=f"synthetic:customers={customers},seed={seed}",
            progress=progress,
            expected_rows=estimate_rows(customers),
        )

    def import_dataset(
        self, name: str, path: str | Path, *, progress: Progress | None = None
    ) -> IngestResult:
        """Map a public dataset (``lodestar datasets``) into the canonical model and load it."""
        from lodestar.data.connectors import get_connector

        connector = get_connector(name)
        return self.load_tables(
            connector.read(Path(path)), source=f"dataset:{name}", progress=progress
        )

    # -- the main job -------------------------------------------------------------------------
    def demo(
        self,
        customers: int = 100_000,
        seed: int = 42,
        *,
        progress: Progress | None = None,
        locale: str = DEFAULT_LOCALE,
    ) -> DemoOutcome:
        """Generate a bank, run every stage that exists, write ``report.html``.

        Stages join this method as they land (profile, segments, models, decisions, campaigns,
        experiments, analytics); it stays one call and a few minutes at the default size.
        """
        started = time.perf_counter()
        stages: list[str] = []
        source = f"synthetic:customers={customers},seed={seed}"
        if any(r["source"] == source and r["status"] == "succeeded" for r in self.runs(50)):
            loaded = None  # this very bank is already here: reuse it
        else:
            loaded = self.generate(customers, seed, progress=progress)
        stages.append("generate")
        from lodestar.profile.view import data_as_of
        from lodestar.reports.html import render_report, rfm_section
        from lodestar.reports.lifecycle_section import lifecycle_section
        from lodestar.reports.overview import build_overview
        from lodestar.reports.personas_section import personas_section
        from lodestar.reports.segments_section import segments_section
        from lodestar.reports.tags_section import tags_section
        from lodestar.reports.tiers_section import tiers_section

        profile = self.build_profile(progress=progress)
        stages.extend(profile.stages)
        self.save_example_segments(actor="demo")
        saved = self.segments()
        seg_counts = {v.name: self.segment_count(f"in_segment('{v.name}')") for v in saved}
        largest = sorted(seg_counts, key=lambda n: -seg_counts[n])[:3]
        overlap = self.segment_overlap(largest) if len(largest) >= 2 else None
        stages.append("segments")
        models = self.build_models(progress=progress)
        stages.append("models")
        plan = self.demo_plan(progress=progress)
        stages.append("plan")
        iteration = self.demo_iteration()
        stages.append("iterate")
        effect = self.demo_effect()
        stages.append("effect")
        from lodestar.campaigns.demo_journey import run_demo_journey

        if progress is not None:
            progress("journey", 0, 1)
        journey = run_demo_journey(self, triggers=min(2000, max(50, customers // 50)))
        if progress is not None:
            progress("journey", 1, 1)
        stages.append("journey")
        overview = build_overview(self.engine, self.config.default_time_zone)
        stages.append("report")
        sections = [
            rfm_section(profile.rfm.summary(), profile.rfm.as_of, locale),
            tiers_section(profile.tiers, locale),
            lifecycle_section(profile.lifecycle, locale),
            personas_section(profile.personas, locale),
            tags_section(self.tag_stats(), self.tag_definitions_or_empty(), locale),
            segments_section(saved, seg_counts, self.segment_population(),
                             data_as_of(self.engine), locale, overlap=overlap),
            self._models_section(locale),
        ]  # fmt: skip
        if plan is not None:
            from lodestar.reports.plan_section import plan_section

            sections.append(plan_section(plan.summary, locale))
        if effect is not None:
            from lodestar.reports.effect_report import effect_sections

            sections.extend(effect_sections(self.past_effect_result(*effect[:2]), locale,
                                            prefix=f"{effect[0]}: "))  # fmt: skip
        if journey is not None:
            from lodestar.reports.campaign_funnel_section import campaign_funnel_section

            sections.append(campaign_funnel_section(journey, locale))
        report = render_report(
            self.root / "report.html",
            overview,
            locale=locale,
            stages=stages,
            runs=self.runs(10),
            extra_sections=sections,
        )
        return DemoOutcome(
            seconds=time.perf_counter() - started,
            report_path=report,
            counts=self.counts(),
            overview=overview,
            stages=stages,
            load_seconds=loaded.seconds if loaded is not None else None,
            rfm=profile.rfm.summary(),
            profile=profile,
            segments=seg_counts,
            models=models,
            plan=plan.summary if plan is not None else None,
            iteration=iteration,
            effect=effect,
            journey=journey,
        )

    def _models_section(self, locale: str) -> Any:
        from lodestar.reports.models_section import models_section

        registry = self.model_registry
        records = [registry.show(i) for i in registry.champions().values()]
        records = [r for r in records if r.data.get("frame")]
        holdouts = {r.id: registry.holdout(r.id) for r in records}
        scores = None
        if "profile_scores" in self.engine.tables():
            scores = self.query("SELECT * FROM profile_scores").to_pandas()
        return models_section(records, holdouts, scores, locale)

    def build_profile(self, *, progress: Progress | None = None) -> ProfileOutcome:
        """Every profile stage in dependency order: RFM, value tiers, lifecycle, tags (which
        may use the others), life events and personas. Each saves its ``profile_*`` table."""
        from lodestar.profile.tag_build import build_tags

        step = progress or (lambda stage, done, total: None)
        timings: dict[str, float] = {}
        total = 6

        def timed(name: str, i: int, fn: Any) -> Any:
            t0 = time.perf_counter()
            result = fn()
            timings[name] = time.perf_counter() - t0
            step("profile", i, total)
            return result

        step("profile", 0, total)
        rfm = timed("rfm", 1, self.rfm)
        tiers = timed("value_tiers", 2, self.value_tiers)
        life = timed("lifecycle", 3, self.lifecycle)
        tags = timed("tags", 4, lambda: build_tags(self.engine, self.root))
        events = timed("life_events", 5, self.life_events)
        personas = timed("personas", 6, self.personas)
        return ProfileOutcome(rfm, tiers, life, tags, events, personas, timings)

    def report(
        self,
        path: str | Path | None = None,
        *,
        locale: str = DEFAULT_LOCALE,
        stages: list[str] | None = None,
    ) -> Path:
        """Write the HTML overview report (charts work offline). Default: ``report.html``."""
        from lodestar.reports.html import render_report
        from lodestar.reports.overview import build_overview
        from lodestar.workspace_referrals import REFERRALS_FILE

        target = Path(path) if path else self.root / "report.html"
        overview = build_overview(self.engine, self.config.default_time_zone)
        # a workspace running a referral programme shows its funnel and leaderboard too
        extra = [self.referral_section(locale)] if (self.root / REFERRALS_FILE).is_file() else []
        return render_report(target, overview, locale=locale, stages=stages, runs=self.runs(10),
                             extra_sections=extra)  # fmt: skip

    # -- profile ------------------------------------------------------------------------------
    def rfm(self, config: RfmConfig | None = None, *, save: bool = True) -> RfmResult:
        """RFM scores and the eight classic groups for every customer; saved as ``profile_rfm``
        in the analytical store (for segments and reports) unless ``save`` is false."""
        from lodestar.profile.rfm import compute_rfm

        result = compute_rfm(self.engine, config)
        if save:
            self.save_profile_table("rfm", result.table)
        return result

    def value_tiers(
        self, config: ValueConfig | None = None, *, save: bool = True
    ) -> ValueTierResult:
        """Customer value (AUM, 12-month revenue), its concentration (Lorenz curve, Gini, top
        shares) and tiers (私人银行 / 贵宾 / 大众 / 长尾); saved as ``profile_value_tiers``
        unless ``save`` is false."""
        from lodestar.profile.value_tiers import compute_value_tiers

        result = compute_value_tiers(self.engine, config)
        if save:
            # the tag library owns ``aum`` in customer_profile; the tiers' copy is value_aum
            names = ["value_aum" if c == "aum" else c for c in result.table.column_names]
            self.save_profile_table("value_tiers", result.table.rename_columns(names))
        return result

    def lifecycle(
        self, config: LifecycleConfig | None = None, *, save: bool = True
    ) -> LifecycleResult:
        """Lifecycle stage of every customer at each month end and the month-over-month
        transition matrix; saves the current stage as ``profile_lifecycle`` and the monthly
        stages as table ``lifecycle_history`` unless ``save`` is false."""
        from lodestar.profile.lifecycle import compute_lifecycle

        result = compute_lifecycle(self.engine, config)
        if save:
            self.engine.replace_table("lifecycle_history", result.history)
            self.save_profile_table("lifecycle", result.table)
        return result

    def personas(self, config: PersonaConfig | None = None, *, save: bool = True) -> PersonaResult:
        """Cluster customers into named personas (k chosen by silhouette or BIC); saved as
        ``profile_personas`` plus the model in ``profile/personas/`` unless ``save`` is false."""
        from lodestar.profile.personas import compute_personas

        result = compute_personas(self.engine, config)
        if save:
            self.save_profile_table("personas", result.assignments)
            result.model.save(self.root / "profile" / "personas")
        return result

    def predict_personas(self, customer_ids: list[str] | None = None) -> pa.Table:
        """Assign customers (default: all open ones) to the saved personas, as they were fitted."""
        from lodestar.profile.features import customer_features
        from lodestar.profile.persona_model import PersonaModel

        model = PersonaModel.load(self.root / "profile" / "personas")
        features, _ = customer_features(
            self.engine,
            include_closed=bool(model.meta.get("params", {}).get("include_closed")),
            customer_ids=customer_ids,
        )
        return model.predict(features)

    def life_events(
        self, config: LifeEventConfig | None = None, *, save: bool = True
    ) -> LifeEventResult:
        """Detect life events (salary change, large flows, maturities, due dates, birthdays...);
        saved as table ``life_events`` (stable ids) and ``profile_life_events`` unless ``save``
        is false."""
        from lodestar.profile.life_events import TABLE, compute_life_events

        result = compute_life_events(self.engine, config)
        if save:
            self.engine.replace_table(TABLE, result.table)
            self.save_profile_table("life_events", result.profile)
        return result

    def save_profile_table(self, name: str, table: pa.Table) -> None:
        """Store a derived per-customer table as ``profile_<name>``; its columns join the
        ``customer_profile`` view that segments, the 360° view and reports read."""
        from lodestar.profile.view import save_profile_table

        save_profile_table(self.engine, name, table)

    def refresh_profile_view(self) -> list[str]:
        """Rebuild the ``customer_profile`` view (after loads; cheap). Returns its columns."""
        from lodestar.profile.view import refresh_profile_view

        return refresh_profile_view(self.engine)

    # -- tags ---------------------------------------------------------------------------------
    def tag_definitions(self) -> list[TagDef]:
        """The built-in tag library plus the workspace's ``tags/*.yaml`` (which replace
        built-ins of the same name). Raises DefinitionError listing every problem."""
        from lodestar.profile.tag_build import TagLibrary

        return TagLibrary(self.engine, self.root).definitions()

    def check_tags(self) -> TagPlan:
        """Validate every tag (names, types, windows, cycles) without building anything."""
        from lodestar.profile.tag_build import TagLibrary

        return TagLibrary(self.engine, self.root).plan()

    def build_tags(
        self,
        *,
        full: bool = False,
        as_of: date | None = None,
        progress: Progress | None = None,
    ) -> TagBuild:
        """Compute every tag into ``profile_tags`` (joined into ``customer_profile``). After
        loads only the affected customers and tags recompute; ``full`` rebuilds everything."""
        from lodestar.profile.tag_build import build_tags

        return build_tags(self.engine, self.root, as_of=as_of, full=full, progress=progress)

    def tag_stats(self, names: list[str] | None = None) -> list[TagStats]:
        """Coverage and distribution of built tags (share true, quantiles, top values)."""
        from lodestar.profile.tag_summary import summarise_tags

        return summarise_tags(self.engine, self.check_tags(), names)

    def tag_definitions_or_empty(self) -> dict[str, TagDef]:
        """Tag definitions by name for labels; empty when the definitions have problems (a
        view of a customer should not fail because a tag file is being edited)."""
        from lodestar.errors import DefinitionError

        try:
            return {t.name: t for t in self.tag_definitions()}
        except DefinitionError:
            return {}

    # -- the 360° view --------------------------------------------------------------------------
    def customer_view(
        self,
        customer_id: str,
        *,
        unmask: bool = False,
        timeline: int = 20,
        actor: str | None = None,
    ) -> CustomerView:
        """Everything about one customer (attributes, scores, tags, holdings, recent timeline,
        campaign contacts, consents, life events, complaints, surveys). PII is masked unless
        ``unmask``; an unmasked view is recorded in the audit trail (who, which customer)."""
        from lodestar.profile.customer_view import customer_view

        view = customer_view(self.engine, customer_id, unmask=unmask, timeline=timeline)
        if unmask:
            with self.ops.begin() as conn:
                self.ops.audit(conn, actor=actor or _actor(), action="pii.unmask",
                               entity="customer", entity_id=customer_id,
                               after={"view": "customer_360"})  # fmt: skip
        return view

    # -- segments -----------------------------------------------------------------------------
    @property
    def _segments(self) -> Segments:
        """Segment state of this workspace object (index, caches), created on first use."""
        session = self.__dict__.get("_segment_session")
        if session is None:
            from lodestar.segments.session import Segments

            session = Segments(self.engine, self.ops, self.root / "profile" / "index")
            self.__dict__["_segment_session"] = session
        return session

    def parse_segment(self, expr: str) -> ParsedSegment:
        """Read and check an audience expression (docs/segments.md); ``.warnings`` lists
        unknown event names and products, ``.canonical`` the normalised text."""
        return self._segments.parse(expr)

    def segment_count(self, expr: str, *, method: Literal["index", "sql"] = "index") -> int:
        """How many customers match ``expr``: from the in-memory profile index (microseconds
        once built), or with ``method="sql"`` by the engine (the same number)."""
        return self._segments.count(expr, method)

    def segment_fields(self) -> list[tuple[str, str, str]]:
        """(name, kind, DuckDB type) of every field expressions can use."""
        segs = self._segments
        segs.refresh()
        return [(f.name, f.kind.value, f.sql_type) for f in segs.catalogue.fields.values()]

    def profile_index(self) -> ProfileIndex:
        """The in-memory index of ``customer_profile`` behind segment counts (built or loaded
        on first use, rebuilt when the data changes)."""
        segs = self._segments
        segs.refresh()
        return segs.index()

    def segment_population(self) -> int:
        """Customers in ``customer_profile`` (the denominator of segment shares)."""
        return self._segments.population()

    def segment_members(self, expr: str) -> pa.Table:
        """customer_id of every customer matching ``expr`` (or a saved segment's expression)."""
        return self._segments.members(expr)

    def segment_sql(self, expr: str) -> tuple[str, list[Any]]:
        """The DuckDB SQL (with ``?`` parameters) that lists the members of ``expr``."""
        return self._segments.sql(expr)

    def save_segment(
        self, name: str, expr: str, description: str | None = None, actor: str | None = None
    ) -> SegmentVersion:
        """Validate ``expr`` and save it as the next version of segment ``name`` (a new version
        only when the expression or description changed); audit-logged."""
        version, _ = self._segments.save(name, expr, description, actor or _actor())
        return version

    def segments(self) -> list[SegmentVersion]:
        """The latest version of every saved segment, by name."""
        return self._segments.store.all_latest()

    def segment(self, name: str, version: int | None = None) -> SegmentVersion:
        """One saved segment (its latest version unless ``version`` is given)."""
        return self._segments.store.get(name, version)

    def segment_versions(self, name: str) -> list[SegmentVersion]:
        self._segments.store.get(name)  # a clear error for an unknown name
        return self._segments.store.versions(name)

    def segment_overlap(self, items: list[str]) -> Overlap:
        """Sizes of every region of the Venn diagram of 2 or 3 saved segments (or expressions),
        and the Jaccard index of each pair."""
        return self._segments.overlap(items)

    def segment_sample(self, expr_or_name: str, n: int = 10, seed: int | None = None) -> pa.Table:
        """``n`` members at random, with a few descriptive columns; personal data masked."""
        return self._segments.sample(expr_or_name, n, seed)

    def export_segment(
        self,
        name: str,
        path: str | Path,
        *,
        columns: list[str] | None = None,
        unmask: bool = False,
        actor: str | None = None,
    ) -> SegmentExport:
        """Write a saved segment's members (customer_id plus ``columns``) to .csv or .parquet.
        Personal data is masked unless ``unmask``; every export is in the audit trail."""
        return self._segments.export(name, Path(path), columns, unmask, actor or _actor())

    def save_example_segments(self, actor: str | None = None) -> list[SegmentVersion]:
        """Save the example audiences a bank's marketers usually start from (see
        :mod:`lodestar.segments.examples`)."""
        from lodestar.segments.examples import save_examples

        return save_examples(self._segments, actor or _actor())

    # -- models -------------------------------------------------------------------------------
    @property
    def model_registry(self) -> ModelRegistry:
        """Trained models under ``models/`` (:mod:`lodestar.modeling.registry`)."""
        from lodestar.modeling.registry import ModelRegistry

        return ModelRegistry(self.root / "models")

    def train_model(
        self,
        kind: str,
        data: str | Path | None = None,
        target: str | None = None,
        *,
        exclude: Iterable[str] = (),
        test_size: float = 0.2,
        seed: int = 0,
        positive: str | None = None,
        treatment: str | None = None,
        params: dict[str, Any] | None = None,
        campaign: str | None = None,
        horizon_days: int | None = None,
        as_of: date | None = None,
        actor: str | None = None,
    ) -> TrainResult:
        """Train a ``kind`` model (risk, response, uplift, scorecard, churn, nbp), evaluate it on
        a held-out split fixed by ``seed`` and register it (:mod:`lodestar.modeling.training`).

        With ``data`` (a CSV / Parquet file) the model learns ``target`` from the file. Without
        it, from the workspace itself: a point-in-time frame whose features stop at a cut-off
        and whose label comes after it (:mod:`lodestar.modeling.training_frames`): churn in the
        next ``horizon_days`` (default 90), delinquency in the next 180 for risk and scorecard,
        the first new product in the next 180 for nbp, and the outcome of the past randomised
        ``campaign`` for response and uplift. Recorded in the audit trail.
        """
        from lodestar.modeling.training import train_data, train_file

        who = actor or _actor()
        if data is not None:
            if target is None:
                raise ConfigError("training on a file needs the target column",
                                  hint="name it with --target COLUMN")  # fmt: skip
            result = train_file(kind, data, target, registry=self.model_registry,
                                exclude=exclude, test_size=test_size, seed=seed,
                                positive=positive, treatment=treatment, params=params,
                                actor=who)  # fmt: skip
        else:
            prepared, about = self._workspace_training_data(
                kind, campaign=campaign, horizon_days=horizon_days, as_of=as_of
            )
            result = train_data(kind, prepared, registry=self.model_registry,
                                test_size=test_size, seed=seed, params=params, source=about,
                                actor=who)  # fmt: skip
        self._audit_model("model.train", result.model_id, who, after=result.metrics)
        return result

    def _workspace_training_data(
        self,
        kind: str,
        *,
        campaign: str | None,
        horizon_days: int | None,
        as_of: date | None,
    ) -> tuple[Any, dict[str, Any]]:
        from lodestar.modeling.registry import model_kind
        from lodestar.modeling.tabular import HELD_COLUMN, prepare
        from lodestar.modeling.training import task_of
        from lodestar.modeling.training_frames import build_frame

        parsed = model_kind(kind)
        frame_kind = {"scorecard": "risk"}.get(parsed, str(parsed))
        options: dict[str, Any] = {}
        if frame_kind in ("response", "uplift"):
            if campaign is None:
                raise ConfigError(f"a {parsed} model learns from a past randomised campaign",
                                  hint="name it with --campaign CAMPAIGN_ID "
                                       "(lodestar model campaigns lists them)")  # fmt: skip
            options["campaign_id"] = campaign
        else:
            if horizon_days is not None:
                options["horizon_days"] = horizon_days
            if as_of is not None:
                options["as_of"] = as_of
        frame, info = build_frame(self, frame_kind, **options)
        task = task_of(parsed)
        exclude = [c for c in info.exclude if not (task == "multiclass" and c == HELD_COLUMN)
                   and c != info.treatment]  # fmt: skip
        prepared = prepare(frame, info.target, exclude=exclude, positive=info.positive,
                           source=Path(f"<workspace {frame_kind} frame>"), task=task,
                           treatment=info.treatment)  # fmt: skip
        about = {"workspace": str(self.root), "frame": {**info.summary(), "kind": frame_kind},
                 "excluded_tags": dict(info.excluded_tags)}  # fmt: skip
        return prepared, about

    def _audit_model(self, action: str, model_id: str, actor: str, *, before: Any = None,
                     after: Any = None) -> None:  # fmt: skip
        with self.ops.begin() as conn:
            self.ops.audit(conn, actor=actor, action=action, entity="model", entity_id=model_id,
                           before=before, after=after)  # fmt: skip

    def promote_model(
        self, model_id: str, *, reason: str = "", actor: str | None = None
    ) -> str | None:
        """Make ``model_id`` the champion of its kind (used by scoring by kind and decisioning);
        returns the model it replaces. Recorded in the audit trail."""
        who = actor or _actor()
        replaced = self.model_registry.promote(model_id, actor=who, reason=reason)
        self._audit_model("model.promote", model_id, who, before={"champion": replaced},
                          after={"champion": model_id, "reason": reason})  # fmt: skip
        return replaced

    def build_models(
        self,
        *,
        campaign: str | None = None,
        quick: bool = True,
        progress: Progress | None = None,
    ) -> ModelsOutcome:
        """Train every kind from the workspace (risk, scorecard, churn, nbp; response and uplift
        on ``campaign`` or the largest past randomised one), promote each, and score every
        customer into ``profile_scores`` (:mod:`lodestar.modeling.customer_scores`)."""
        from lodestar.modeling.customer_scores import customer_scores, train_portfolio

        started = time.perf_counter()
        trained, skipped = train_portfolio(self, campaign=campaign, quick=quick,
                                           progress=progress)  # fmt: skip
        table = customer_scores(self, progress=progress)
        self.save_profile_table("scores", table)
        return ModelsOutcome(trained, table.num_rows, time.perf_counter() - started, skipped)

    def score_customers(self, *, progress: Progress | None = None) -> int:
        """Re-score every customer with the current champions into ``profile_scores``."""
        from lodestar.modeling.customer_scores import customer_scores

        table = customer_scores(self, progress=progress)
        self.save_profile_table("scores", table)
        return int(table.num_rows)

    def score_model(
        self,
        model: str,
        data: str | Path | pd.DataFrame | None = None,
        *,
        reasons: int = 0,
        top: int = 3,
        keep: Iterable[str] = ("customer_id",),
        prescreen: PrescreenPolicy | None = None,
        progress: Progress | None = None,
    ) -> ScoreOutcome:
        """Score rows with ``model`` (an id, or a kind for its champion / latest version).

        ``data`` is a CSV / Parquet file or a frame holding the model's feature columns; without
        it the workspace's customers are scored from their features as of the data date.
        ``prescreen`` (risk and scorecard models) adds pass / decline with reasons.
        """
        from lodestar.modeling.scoring import prescreen as apply_prescreen
        from lodestar.modeling.scoring import score_in_chunks
        from lodestar.modeling.tabular import read_table

        model_id = self.model_registry.resolve(model)
        record = self.model_registry.show(model_id)
        estimator = self.model_registry.load(model_id)
        if data is None:
            frame = self.scoring_frame(record)
        elif isinstance(data, str | Path):
            frame = read_table(data)
        else:
            frame = data
        started = time.perf_counter()
        scored = score_in_chunks(estimator, record, frame, reasons=reasons, top=top,
                                 keep=tuple(keep), progress=progress)  # fmt: skip
        if prescreen is not None:
            if record.task != "binary":
                raise ConfigError(f"{model_id}: a pre-screen cut-off applies to risk scores only")
            scored = apply_prescreen(scored, prescreen)
        return ScoreOutcome(model_id, record.kind, scored, time.perf_counter() - started)

    def assess_model(
        self,
        model: str,
        data: str | Path | pd.DataFrame | None = None,
        *,
        thresholds: Thresholds | None = None,
    ) -> Assessment:
        """Assess ``model`` on new rows: metrics on the new outcomes when ``data`` holds the
        target, PSI / CSI against the training reference, AUC decay and alerts; kept in the
        model's ``assessments/`` (:mod:`lodestar.modeling.assessment`). Without ``data`` the
        workspace's customers as of the data date are compared (drift only)."""
        from lodestar.modeling.assessment import assess
        from lodestar.modeling.tabular import read_table

        model_id = self.model_registry.resolve(model)
        frame = read_table(data) if isinstance(data, str | Path) else data
        if frame is None:
            frame = self.scoring_frame(self.model_registry.show(model_id))
        return assess(self.model_registry, model_id, frame, thresholds=thresholds)

    def model_report(
        self,
        model: str,
        path: str | Path | None = None,
        *,
        monitoring: MonitoringResult | None = None,
        locale: str = DEFAULT_LOCALE,
    ) -> Path:
        """Write ``model``'s HTML report: gains table, ROC, KS, lift, calibration (or Qini and
        uplift curves), importance and monitoring; default ``models/<id>/report.html``."""
        from lodestar.modeling.assessment import write_report

        model_id = self.model_registry.resolve(model)
        record = self.model_registry.show(model_id)
        data = self._training_data_again(record) if record.kind == "scorecard" else None
        return write_report(self.model_registry, model_id, path, monitoring=monitoring,
                            data=data, locale=locale)  # fmt: skip

    def _training_data_again(self, record: ModelRecord) -> Any:
        """The data ``record`` was trained on, read again: the file if it is unchanged (same
        sha256), else the workspace frame at the same cut-off; None when neither is possible."""
        from datetime import date

        from lodestar.modeling.tabular import fingerprint, read_training_data

        about = record.data
        frame = about.get("frame")
        if frame:
            prepared, _ = self._workspace_training_data(
                record.kind, campaign=frame.get("campaign_id"),
                horizon_days=frame.get("horizon_days"),
                as_of=date.fromisoformat(frame["cutoff"]) if frame.get("cutoff") else None,
            )  # fmt: skip
            return prepared
        source = Path(str(about.get("path", "")))
        if not source.is_file() or fingerprint(source) != about.get("sha256"):
            _log.warning("%s: training file missing or changed, general report", record.id)
            return None
        return read_training_data(source, record.target, exclude=about.get("excluded", ()),
                                  positive=record.positive or None)  # fmt: skip

    def credit_policy(self, path: str | Path | None = None) -> CreditPolicy:
        """The credit policy for limits and rates: ``path``, else the workspace's
        ``credit_policy.yaml``, else the built-in default (:mod:`lodestar.modeling.credit_terms`)."""
        from lodestar.modeling.credit_terms import DEFAULT_POLICY, CreditPolicy

        source = Path(path) if path is not None else self.root / "credit_policy.yaml"
        if path is not None or source.is_file():
            return CreditPolicy.from_yaml(source)
        return CreditPolicy.from_mapping(DEFAULT_POLICY)

    def credit_terms(
        self,
        model: str = "scorecard",
        data: str | Path | pd.DataFrame | None = None,
        *,
        income: str = "monthly_income",
        debt: str = "monthly_debt",
        policy: str | Path | None = None,
        explain: int = 0,
        locale: str = DEFAULT_LOCALE,
    ) -> pd.DataFrame:
        """Points, band, credit limit and rate for each row, scored with a scorecard ``model``.

        ``income`` and ``debt`` name the monthly income and monthly debt-service columns. The
        first ``explain`` rows get an ``explanation`` (which rule bound the limit, how the rate
        was built), in ``locale``.
        """
        import pandas as pd

        from lodestar.modeling.credit_terms import credit_terms, credit_terms_frame
        from lodestar.modeling.tabular import read_table

        model_id = self.model_registry.resolve(model)
        record = self.model_registry.show(model_id)
        if record.kind != "scorecard":
            raise ConfigError(f"{model_id} is a {record.kind} model: limits and rates come from "
                              "a scorecard's points", hint="lodestar model train scorecard")  # fmt: skip
        frame = read_table(data) if isinstance(data, str | Path) else data
        if frame is None:
            frame = self.scoring_frame(record)
        for column, option in ((income, "--income"), (debt, "--debt")):
            if column not in frame.columns:
                raise ConfigError(f"the data has no column '{column}'",
                                  hint=f"name the column with {option}")  # fmt: skip
        rules = self.credit_policy(policy)
        scored = self.score_model(model_id, frame, reasons=3).scores
        inputs = pd.DataFrame({"points": scored["points"].to_numpy(),
                               "monthly_income": frame[income].to_numpy(),
                               "monthly_debt": frame[debt].to_numpy()})  # fmt: skip
        terms = credit_terms_frame(inputs, rules).reset_index(drop=True)
        out = scored.drop(columns=["band"]).join(terms)
        if explain:
            texts = [
                " ".join(credit_terms(p, i, d, rules, locale=locale).explanation)
                for p, i, d in inputs.head(explain).itertuples(index=False)
            ]
            out["explanation"] = pd.Series(texts, dtype=object).reindex(out.index).fillna("")
        return out

    def churn_watch_list(
        self,
        model: str = "churn",
        data: str | Path | pd.DataFrame | None = None,
        *,
        value: str | None = None,
        top: int | None = 50,
        levels: WatchLevels | None = None,
    ) -> pd.DataFrame:
        """Customers likely to leave, highest value at risk first, with leading indicators
        (:mod:`lodestar.modeling.watch_list`). ``value`` names a column of ``data`` (or of the
        customer profile, e.g. ``value_aum``) holding what each customer is worth."""
        from lodestar.modeling.tabular import read_table
        from lodestar.modeling.watch_list import watch_list

        model_id = self.model_registry.resolve(model)
        if self.model_registry.show(model_id).task != "binary":
            raise ConfigError(f"{model_id} is not a churn model: a watch list needs probabilities")
        frame = read_table(data) if isinstance(data, str | Path) else data
        if frame is None:
            frame = self.scoring_frame(self.model_registry.show(model_id))
        scored = self.score_model(model_id, frame, reasons=3).scores
        amounts = None
        if value is not None:
            if value in frame.columns:
                amounts = frame[value].reset_index(drop=True)
            else:
                amounts = self._profile_values(value, scored["customer_id"])
        return watch_list(scored, value=amounts, levels=levels, top=top)

    def _profile_values(self, column: str, customer_ids: pd.Series) -> pd.Series:
        """``column`` of customer_profile for ``customer_ids``, in their order."""
        import pandas as pd

        from lodestar.profile.view import VIEW

        known = {name for name, *_ in self.segment_fields()}
        if column not in known:
            raise ConfigError(f"no column '{column}' in the data or the customer profile",
                              hint="value_aum comes from the value tiers (lodestar profile "
                                   "build); or name a numeric column of --data")  # fmt: skip
        table = self.query(f'SELECT customer_id, "{column}" AS v FROM {VIEW}')
        values = pd.Series(table.column("v").to_pylist(),
                           index=table.column("customer_id").to_pylist())  # fmt: skip
        return values.reindex(customer_ids.to_numpy()).reset_index(drop=True)

    def scoring_frame(self, record: ModelRecord) -> pd.DataFrame:
        """The workspace customers' features as of the data date, as ``record`` was trained on
        (customers open at the data date; nbp adds what each holds)."""
        from lodestar.modeling.training_frames import scoring_frame

        frame_info = record.data.get("frame")
        if not frame_info:
            raise ConfigError(
                f"{record.id} was trained on a file: score it on a file with the same columns",
                hint=f"lodestar model score {record.id} --data FILE",
            )
        return scoring_frame(self, str(frame_info.get("kind", record.kind)))

    def models(self, kind: str | None = None) -> list[ModelRecord]:
        return self.model_registry.list(kind)

    def model(self, model_id: str) -> ModelRecord:
        return self.model_registry.show(model_id)

    def load_model(self, model_id: str) -> Any:
        return self.model_registry.load(model_id)

    # -- reading ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        names = [*ENTITIES, *AUXILIARY]
        return {name: self.engine.count(name) for name in names}

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run SQL on the analytical store (read it; write through the loaders)."""
        return self.engine.query(sql, params)

    def table(self, name: str, limit: int | None = None) -> pa.Table:
        any_entity(name)  # a clear error for an unknown name
        sql = f'SELECT * FROM "{name}"' + (f" LIMIT {int(limit)}" if limit else "")
        return self.engine.query(sql)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.ops.runs(limit)

    def export_parquet(self, name: str, dest: str | Path | None = None) -> Path:
        any_entity(name)
        target = Path(dest) if dest else self.root / "exports" / f"{name}.parquet"
        return self.engine.export_parquet(name, target)


@dataclass(frozen=True)
class ModelsOutcome:
    """What :meth:`Workspace.build_models` trained (by kind) and how many customers it scored."""

    trained: dict[str, TrainResult]
    customers_scored: int
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why it was not trained


@dataclass(frozen=True)
class ScoreOutcome:
    """Scores from :meth:`Workspace.score_model`: which model, the scored rows, how long."""

    model_id: str
    kind: str
    scores: pd.DataFrame
    seconds: float


@dataclass(frozen=True)
class DemoOutcome:
    seconds: float
    report_path: Path
    counts: dict[str, int]
    overview: Overview
    stages: list[str]
    load_seconds: float | None
    rfm: list[dict[str, Any]]
    profile: ProfileOutcome | None = None
    segments: dict[str, int] = field(default_factory=dict)  # saved segment -> customers
    models: ModelsOutcome | None = None
    plan: dict[str, Any] | None = None  # the demo campaign's plan summary
    iteration: RoundResult | None = None  # one round of automatic strategy update
    #: a past campaign's incremental effect against its holdout, and the true one
    effect: tuple[str, CampaignEffect, float | None] | None = None
    #: the journey campaign run through local gateways: lodestar campaign status's answer
    journey: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProfileOutcome:
    """What :meth:`Workspace.build_profile` computed, stage by stage."""

    rfm: RfmResult
    tiers: ValueTierResult
    lifecycle: LifecycleResult
    tags: TagBuild
    life_events: LifeEventResult
    personas: PersonaResult
    seconds: dict[str, float]

    @property
    def stages(self) -> list[str]:
        return list(self.seconds)


def _env_database_url() -> str | None:
    return EnvSettings().database_url
