"""The decisioning half of the :class:`~lodestar.workspace.Workspace` facade: the offer
catalogue, the contact policy, campaign plans and their explanations.

Kept apart from ``workspace.py`` so each file stays readable; :class:`Workspace` inherits it and
callers see one object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lodestar.errors import ConfigError
from lodestar.security.actors import local_actor as _actor

if TYPE_CHECKING:
    import pandas as pd

    from lodestar.data.ingest import Progress
    from lodestar.decisioning.next_best_action import Decision, NextBestAction
    from lodestar.decisioning.offers import OfferCatalogue
    from lodestar.decisioning.plan_spec import PlanSpec
    from lodestar.decisioning.plan_store import SavedPlan
    from lodestar.decisioning.policy_rules import ContactPolicy

OFFERS_FILE = "offers.yaml"
EXAMPLE_CAMPAIGN = "campaign.yaml"


class DecisioningMixin:
    root: Path
    ops: Any
    query: Any  # Workspace.query
    _nba: NextBestAction | None = None  # the real-time engine, loaded on first use

    # -- offers -------------------------------------------------------------------------------
    def offer_catalogue(self, path: str | Path | None = None) -> OfferCatalogue:
        """The offers in ``path``, else the workspace's ``offers.yaml``."""
        from lodestar.decisioning.offers import OfferCatalogue

        source = Path(path) if path is not None else self.root / OFFERS_FILE
        if not source.is_file():
            raise ConfigError(f"no offer catalogue at {source}",
                              hint="lodestar offers init writes the example catalogue into the "
                                   "workspace; edit it to your products")  # fmt: skip
        return OfferCatalogue.from_yaml(source)

    def init_offers(self, *, overwrite: bool = False, actor: str | None = None) -> list[Path]:
        """Copy the example offer catalogue and campaign plan into the workspace."""
        from lodestar.workspace_examples import copy_examples

        return copy_examples(self.ops, self.root, "lodestar.decisioning",
                             (OFFERS_FILE, EXAMPLE_CAMPAIGN), action="offers.init",
                             actor=actor or _actor(), overwrite=overwrite)  # fmt: skip

    def train_offer_models(self, catalogue: OfferCatalogue, *, actor: str | None = None) -> list[str]:
        """Train the uplift models the offers name by campaign and the registry lacks (quick
        settings); returns the new model ids."""
        from lodestar.decisioning.planning import uplift_model_of
        from lodestar.modeling.registry import ModelError

        trained = []
        campaigns = dict.fromkeys(o.effect.campaign for o in catalogue.offers if o.effect.campaign)
        for campaign in campaigns:
            if campaign is None:
                continue
            try:
                uplift_model_of(self, campaign)
            except ModelError:
                result = self.train_model("uplift", campaign=campaign,  # type: ignore[attr-defined]
                                          params={"cv_repeats": 1}, actor=actor)  # fmt: skip
                trained.append(result.model_id)
        return trained

    def demo_plan(self, *, progress: Progress | None = None) -> SavedPlan | None:
        """The demo's campaign: the example offers and plan, the uplift models they need, and
        the plan itself (None when the bank is too small for a model the offers need)."""
        from lodestar.modeling.registry import ModelError

        self.init_offers(actor="demo")
        catalogue = self.offer_catalogue()
        try:
            self.train_offer_models(catalogue, actor="demo")
            return self.plan(self.root / EXAMPLE_CAMPAIGN, actor="demo", progress=progress)
        except (ModelError, ConfigError, ValueError) as error:
            import logging

            logging.getLogger("lodestar").warning("demo plan skipped: %s", error)
            return None

    # -- contact policy -----------------------------------------------------------------------
    def contact_policy(self, name: str | None = None) -> ContactPolicy:
        """The contact policy in force: the latest stored version of ``name`` (default: the
        shipped policy's name, ``retail_default``), else the shipped example itself."""
        from lodestar.decisioning.policy_rules import default_policy
        from lodestar.decisioning.policy_store import load_policy, policy_versions

        shipped = default_policy()
        wanted = name or shipped.name
        if wanted == shipped.name and not policy_versions(self.ops, wanted):
            return shipped  # never changed here: the shipped example is in force
        return load_policy(self.ops, wanted)

    def save_contact_policy(self, path: str | Path, *, actor: str | None = None) -> ContactPolicy:
        """Store the policy in ``path`` as the next version of the policy it names (audited)."""
        from lodestar.decisioning.policy_store import save_policy

        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
        return save_policy(self.ops, text, actor=actor or _actor(), source=str(source))

    def do_not_contact_frame(self) -> pd.DataFrame:
        """The do-not-contact list (``customer_id``, ``channel``, ``reason``, ``added_at``,
        ``expires_at``)."""
        from lodestar.decisioning.policy_store import do_not_contact_frame

        return do_not_contact_frame(self.ops)

    # -- plans --------------------------------------------------------------------------------
    @property
    def plans_root(self) -> Path:
        return self.root / "plans"

    def plan(
        self,
        spec: str | Path | PlanSpec,
        *,
        offers: str | Path | None = None,
        policy: str | None = None,
        actor: str | None = None,
        progress: Progress | None = None,
    ) -> SavedPlan:
        """Make and keep the plan for a campaign (a YAML file or a :class:`PlanSpec`)."""
        from lodestar.decisioning.plan_spec import PlanSpec
        from lodestar.decisioning.plan_store import save_plan
        from lodestar.decisioning.plan_summary import summarise
        from lodestar.decisioning.planning import make_plan

        asked = spec if isinstance(spec, PlanSpec) else PlanSpec.from_yaml(spec)
        catalogue = self.offer_catalogue(offers)
        rules = self.contact_policy(policy)
        made = make_plan(self, asked, catalogue, rules, progress=progress)
        summary = summarise(made, catalogue)
        summary["created_at"] = datetime.now(UTC).isoformat()
        summary["created_by"] = actor or _actor()
        summary["data_as_of"] = made.meta.get("data_as_of")
        summary["policy"] = made.meta.get("policy")
        saved = save_plan(self.plans_root, made, summary)
        with self.ops.begin() as conn:
            self.ops.audit(conn, actor=summary["created_by"], action="plan.create",
                           entity="plan", entity_id=saved.plan_id,
                           after={k: summary[k] for k in ("contacts", "expected_cost",
                                                          "expected_net", "budget")})  # fmt: skip
        return saved

    def plans(self) -> list[SavedPlan]:
        from lodestar.decisioning.plan_store import list_plans

        return list_plans(self.plans_root)

    def saved_plan(self, plan_id: str) -> SavedPlan:
        from lodestar.decisioning.plan_store import load_plan

        return load_plan(self.plans_root, plan_id)

    # -- real-time next-best-action -----------------------------------------------------------
    @property
    def snapshot_dir(self) -> Path:
        return self.root / "decisions" / "snapshot"

    def build_decision_snapshot(
        self,
        *,
        offers: str | Path | None = None,
        policy: str | None = None,
        holdout: float = 0.05,
        actor: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Refresh what real-time decisions read: every eligible, profitable customer x offer x
        channel with its value, cost, limit and rate (:mod:`~.next_best_action`)."""
        from lodestar.decisioning.next_best_action import REALTIME, save_snapshot
        from lodestar.decisioning.plan import build_plan
        from lodestar.decisioning.plan_spec import PlanSpec
        from lodestar.decisioning.planning import plan_inputs

        catalogue = self.offer_catalogue(offers)
        rules = self.contact_policy(policy)
        spec = PlanSpec(campaign=REALTIME, holdout=holdout)
        inputs, send_on = plan_inputs(self, spec, catalogue, rules, progress=progress,
                                      open_gate=True)  # fmt: skip
        made = build_plan(spec, catalogue, inputs, send_on)
        made.meta["data_as_of"] = str(send_on)
        assert inputs.contacts is not None
        meta = save_snapshot(self.snapshot_dir, made, inputs.contacts)
        self._nba = None
        with self.ops.begin() as conn:
            self.ops.audit(conn, actor=actor or _actor(), action="decisions.snapshot",
                           entity="decisions", after=meta)  # fmt: skip
        return meta

    def next_best_action(self, *, policy: str | None = None) -> NextBestAction:
        """The real-time decision engine (loaded once, kept until the snapshot is rebuilt, here
        or by another process)."""
        from datetime import UTC, datetime, timedelta

        from lodestar.decisioning.next_best_action import NextBestAction

        cached = getattr(self, "_nba", None)
        if cached is not None and cached.is_current():
            return cached
        since = (datetime.now(UTC) - timedelta(days=120)).replace(tzinfo=None)
        history = self.query(
            "SELECT customer_id, channel, contacted_at, arm, outcome, outcome_at "
            "FROM campaign_contacts WHERE contacted_at >= ?", [since]).to_pandas()  # fmt: skip
        complaints = self.query("SELECT customer_id, ts FROM complaints").to_pandas()
        engine = NextBestAction(self.snapshot_dir, self.contact_policy(policy), self.ops,
                                history=history, complaints=complaints)  # fmt: skip
        self._nba = engine
        return engine

    def decide(
        self,
        customer_id: str,
        *,
        channel: str | None = None,
        context: dict[str, Any] | None = None,
        purpose: str = "marketing",
        reserve: bool = True,
    ) -> Decision:
        """The best allowed action for one customer now; the contact is booked against the
        caps unless ``reserve`` is False (:meth:`NextBestAction.decide`)."""
        return self.next_best_action().decide(customer_id, channel=channel, context=context,
                                              purpose=purpose, reserve=reserve)  # fmt: skip

    def recheck_plan(self, plan_id: str, *, at: datetime | None = None) -> pd.DataFrame:
        """The plan's contacts checked against the contact policy as things are now (consent
        and the do-not-contact list from the operational store): ``still_allowed``, ``reason``
        (:mod:`~lodestar.decisioning.plan_recheck`)."""
        from lodestar.decisioning.plan_recheck import operational_consents, recheck
        from lodestar.decisioning.planning import policy_frames

        saved = self.saved_plan(plan_id)
        rows = saved.rows()
        policy = self.contact_policy((saved.summary.get("policy") or {}).get("name"))
        ids = sorted(set(rows.loc[rows["contact"], "customer_id"].astype(str)))
        customers = self.query(
            "SELECT customer_id, time_zone, phone, email, app_user_id, wecom_id FROM customers"
        ).to_pandas()
        customers = customers[customers["customer_id"].isin(ids)]
        frames = policy_frames(self, at or datetime.now(UTC))
        return recheck(rows, policy, customers, purpose=saved.summary.get("purpose", "marketing"),
                       consents_now=operational_consents(self.ops, ids),
                       do_not_contact=frames["do_not_contact"], history=frames["history"],
                       complaints=frames["complaints"], at=at)  # fmt: skip

    def explain_plan(self, plan_id: str, customer_id: str) -> dict[str, Any]:
        """Why ``customer_id`` got what they got in ``plan_id`` (or nothing)."""
        from lodestar.decisioning.plan_store import explain

        return explain(self.saved_plan(plan_id), customer_id)
