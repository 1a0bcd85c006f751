"""The rights half of the :class:`~lodestar.workspace.Workspace` facade: the rights catalogue
(``rights.yaml``), the points rules (``points_rules.yaml``) and the rights ledger
(:mod:`lodestar.campaigns.rights`). Kept apart so ``workspace.py`` stays readable."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lodestar.errors import ConfigError
from lodestar.security.actors import local_actor as _actor

if TYPE_CHECKING:
    import pandas as pd

    from lodestar.campaigns.rights.catalogue import RightsCatalogue
    from lodestar.campaigns.rights.ledger import Coupon, Entry, Issued, RightsLedger
    from lodestar.campaigns.rights.points_rules import EarnSummary, PointsRules

RIGHTS_FILE = "rights.yaml"
POINTS_RULES_FILE = "points_rules.yaml"


class RightsMixin:
    root: Path
    ops: Any
    config: Any
    query: Any  # Workspace.query

    # -- configuration ------------------------------------------------------------------------
    def init_rights(self, *, overwrite: bool = False, actor: str | None = None) -> list[Path]:
        """Copy the example rights catalogue and points rules into the workspace."""
        from lodestar.workspace_examples import copy_examples

        return copy_examples(self.ops, self.root, "lodestar.campaigns.rights",
                             (RIGHTS_FILE, POINTS_RULES_FILE), action="rights.init",
                             actor=actor or _actor(), overwrite=overwrite)  # fmt: skip

    def rights_catalogue(self, path: str | Path | None = None) -> RightsCatalogue:
        """The rights in ``path``, else the workspace's ``rights.yaml``."""
        from lodestar.campaigns.rights.catalogue import RightsCatalogue

        return RightsCatalogue.from_yaml(self._rights_file(path, RIGHTS_FILE))

    def points_rules(self, path: str | Path | None = None) -> PointsRules:
        from lodestar.campaigns.rights.points_rules import PointsRules

        return PointsRules.from_yaml(self._rights_file(path, POINTS_RULES_FILE))

    def _rights_file(self, path: str | Path | None, name: str) -> Path:
        source = Path(path) if path is not None else self.root / name
        if not source.is_file():
            raise ConfigError(f"no {name} at {source}",
                              hint="lodestar rights init writes the examples into the "
                                   "workspace; edit them to your programme")  # fmt: skip
        return source

    def sync_rights(self, path: str | Path | None = None, *, actor: str | None = None
                    ) -> dict[str, Any]:  # fmt: skip
        """Fund every right's budget from the catalogue and audit a changed catalogue (its
        SHA-256); returns the budget left per right."""
        source = self._rights_file(path, RIGHTS_FILE)
        catalogue = self.rights_catalogue(source)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        who = actor or _actor()
        import sqlalchemy as sa

        from lodestar.storage.operational_tables import audit_log

        with self.ops.begin() as conn:
            last = conn.execute(sa.select(audit_log.c.after)
                                .where(audit_log.c.action == "rights.catalogue")
                                .order_by(audit_log.c.audit_id.desc()).limit(1)).scalar()  # fmt: skip
            if last is None or digest not in last:
                self.ops.audit(conn, actor=who, action="rights.catalogue", entity="rights",
                               entity_id=source.name,
                               after={"sha256": digest, "rights": [r.id for r in catalogue.rights]})  # fmt: skip
        ledger = self.rights_ledger()
        return {r.id: ledger.fund(r, actor=who) for r in catalogue.rights}

    # -- the ledger ---------------------------------------------------------------------------
    def rights_ledger(self) -> RightsLedger:
        from lodestar.campaigns.rights.ledger import RightsLedger

        return RightsLedger(self.ops, time_zone=self.config.default_time_zone)

    def issue_right(self, right_id: str, customer_id: str, *, key: str | None = None,
                    actor: str | None = None) -> Issued:  # fmt: skip
        """Issue a right of the catalogue to a customer (within its budget). Pass the same
        ``key`` to retry safely; without one each call is a new issue."""
        right = self.rights_catalogue().get(right_id)
        return self.rights_ledger().issue(right, customer_id, key or f"manual:{uuid.uuid4()}",
                                          actor=actor or _actor())  # fmt: skip

    def spend_points(self, customer_id: str, right_id: str, *, key: str | None = None,
                     actor: str | None = None) -> Issued:  # fmt: skip
        right = self.rights_catalogue().get(right_id)
        return self.rights_ledger().spend_points(customer_id, right,
                                                 key or f"manual:{uuid.uuid4()}",
                                                 actor=actor or _actor())  # fmt: skip

    def redeem_coupon(self, coupon_id: str, *, key: str | None = None,
                      actor: str | None = None) -> Entry:  # fmt: skip
        """Redeem a coupon; a points bundle credits its points."""
        from lodestar.campaigns.rights.catalogue import RightKind

        ledger = self.rights_ledger()
        right = self.rights_catalogue().get(ledger.coupon(coupon_id).right_id)
        points = int(right.face_value) if right.kind is RightKind.POINTS_BUNDLE else None
        return ledger.redeem(coupon_id, key or f"redeem:{coupon_id}", face_points=points,
                             actor=actor or _actor())  # fmt: skip

    def expire_rights(self, as_of: datetime | None = None, *,
                      actor: str | None = None) -> list[Entry]:  # fmt: skip
        return self.rights_ledger().expire(as_of, actor=actor or _actor())

    def reverse_rights_entry(self, entry_id: int, reason: str, *,
                             actor: str | None = None) -> Entry:  # fmt: skip
        return self.rights_ledger().reverse(entry_id, reason, actor=actor or _actor())

    def earn_points(self, as_of: datetime | None = None, *,
                    actor: str | None = None) -> EarnSummary:  # fmt: skip
        """Credit the points the rules earn from the workspace's transactions and events up
        to ``as_of`` (default now); safe to run again."""
        from lodestar.campaigns.rights.points_rules import earn_from_events

        as_of = as_of or datetime.now(UTC)
        rules = self.points_rules()
        frames: dict[str, pd.DataFrame | None] = {"transaction": None, "event": None}
        sql = {
            "transaction": "SELECT transaction_id, customer_id, account_id, ts, type, amount, "
                           "direction, currency, channel, merchant_category, merchant_name, "
                           "quantity FROM transactions WHERE ts <= ?",
            "event": "SELECT event_id, ts, customer_id, platform, event_name, page, source, "
                     "medium, campaign FROM events WHERE ts <= ? AND customer_id IS NOT NULL",
        }  # fmt: skip
        for on in {r.on for r in rules.rules}:
            frames[on] = self.query(sql[on], [as_of]).to_pandas()
        return earn_from_events(self.rights_ledger(), rules, transactions=frames["transaction"],
                                events=frames["event"], as_of=as_of,
                                actor=actor or _actor())  # fmt: skip

    def customer_rights(self, customer_id: str) -> dict[str, Any]:
        """A customer's points, CNY held in unredeemed rights, and coupons."""
        from lodestar.campaigns.rights.ledger import Unit, wallet_account

        ledger = self.rights_ledger()
        coupons: list[Coupon] = ledger.coupons(customer_id)
        return {"customer_id": customer_id, "points": ledger.points(customer_id),
                "wallet": ledger.balance(wallet_account(customer_id), Unit.CNY),
                "coupons": coupons}  # fmt: skip

    def member_levels(self, as_of: datetime | None = None) -> pd.DataFrame:
        from lodestar.campaigns.rights.points_rules import member_levels

        rules = self.points_rules()
        if rules.levels is None:
            raise ConfigError("the points rules define no levels",
                              hint="add a 'levels' section with tiers to points_rules.yaml")  # fmt: skip
        return member_levels(self.rights_ledger(), rules.levels, as_of or datetime.now(UTC))


