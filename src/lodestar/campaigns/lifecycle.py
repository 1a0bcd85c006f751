"""The campaign lifecycle with maker-checker approval.

::

    draft -> submitted -> approved -> scheduled -> running <-> paused -> completed
      ^          |            |            |                              (any) -> cancelled
      +- reject -+            +--- edit ---+---> draft (an approval is for one version only)

- **Maker-checker**: the approver must be another person than the one who submitted the
  version and the one who wrote it, and must hold the ``approver`` role (not ``admin``: an
  administrator who can also approve would be maker and checker in one). The approval records
  who, when and which version.
- **An edit after approval needs a new approval**: editing a submitted, approved or scheduled
  campaign makes a new version and sends the campaign back to draft. A running campaign must be
  paused to be edited, and a paused one goes back to draft and must be approved again before
  it resumes.
- Every action is a row in ``campaign_events`` and an entry in the audit trail, in the same
  transaction as the state change, so the history and the state cannot disagree; the state row
  is locked (:meth:`OperationalStore.locked`: an advisory lock per campaign on PostgreSQL,
  ``BEGIN IMMEDIATE`` on SQLite — creating one included) so two approvers or
  an approval racing an edit serialise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.campaigns.definition import CampaignDefinition
from lodestar.errors import CampaignError, ConfigError, NotFound
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import campaign_events, campaign_versions, campaigns


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


FINAL = (State.COMPLETED, State.CANCELLED)
#: action -> (states it may start from, state it leads to, roles that may take it)
TRANSITIONS: dict[str, tuple[tuple[State, ...], State, frozenset[str]]] = {
    "submit": ((State.DRAFT,), State.SUBMITTED, frozenset({"marketer", "admin"})),
    "approve": ((State.SUBMITTED,), State.APPROVED, frozenset({"approver"})),
    "reject": ((State.SUBMITTED,), State.DRAFT, frozenset({"approver", "compliance"})),
    "schedule": ((State.APPROVED,), State.SCHEDULED, frozenset({"marketer", "admin"})),
    "start": ((State.APPROVED, State.SCHEDULED), State.RUNNING,
              frozenset({"marketer", "admin", "system"})),
    "pause": ((State.RUNNING,), State.PAUSED, frozenset({"marketer", "admin", "compliance"})),
    "resume": ((State.PAUSED,), State.RUNNING, frozenset({"marketer", "admin"})),
    "complete": ((State.RUNNING, State.PAUSED), State.COMPLETED,
                 frozenset({"marketer", "admin", "system"})),
    "cancel": ((State.DRAFT, State.SUBMITTED, State.APPROVED, State.SCHEDULED, State.RUNNING,
                State.PAUSED), State.CANCELLED, frozenset({"marketer", "admin", "compliance"})),
}  # fmt: skip
EDITABLE = (State.DRAFT, State.SUBMITTED, State.APPROVED, State.SCHEDULED, State.PAUSED)
AUTHORS = frozenset({"marketer", "admin"})


@dataclass(frozen=True)
class Actor:
    """Who acts: a person's or a system's name and the role they act in."""

    name: str
    role: str


@dataclass(frozen=True)
class CampaignRecord:
    campaign_id: str
    name: str
    state: State
    version: int
    approved_version: int | None
    submitted_by: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state.value,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}  # fmt: skip


class Campaigns:
    """Campaigns in the operational store (see the module doc)."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    # -- writing ------------------------------------------------------------------------------
    def save(self, definition: CampaignDefinition, actor: Actor) -> CampaignRecord:
        """Create the campaign, or store a new version of it (unchanged text: no new version).
        An edit of a submitted / approved / scheduled / paused campaign sends it back to draft."""
        if actor.role not in AUTHORS:
            raise CampaignError(f"{actor.name} ({actor.role}) may not write campaigns",
                                hint="campaigns are written by marketers")  # fmt: skip
        body, digest = definition.canonical(), definition.digest()
        now = datetime.now(UTC)
        cid = definition.campaign
        with self.store.locked(f"campaign:{cid}") as conn:
            row = self._row(conn, cid)
            if row is None:
                conn.execute(sa.insert(campaigns).values(
                    campaign_id=cid, name=definition.name, state=State.DRAFT.value, version=1,
                    approved_version=None, submitted_by=None, created_by=actor.name,
                    created_at=now, updated_at=now))  # fmt: skip
                self._version(conn, cid, 1, body, digest, actor, now)
                self._event(conn, cid, 1, "create", actor, None, State.DRAFT, None, now)
                return self._record(self._row(conn, cid))
            state = State(row["state"])
            latest = conn.execute(sa.select(campaign_versions.c.sha256).where(
                (campaign_versions.c.campaign_id == cid)
                & (campaign_versions.c.version == row["version"]))).scalar_one()  # fmt: skip
            if latest == digest:
                return self._record(row)
            if state not in EDITABLE:
                hint = "pause it first" if state is State.RUNNING else "make a new campaign"
                raise CampaignError(f"campaign {cid} is {state.value} and cannot be edited",
                                    hint=hint)  # fmt: skip
            version = int(row["version"]) + 1
            self._version(conn, cid, version, body, digest, actor, now)
            conn.execute(sa.update(campaigns).where(campaigns.c.campaign_id == cid).values(
                name=definition.name, version=version, state=State.DRAFT.value,
                approved_version=None, submitted_by=None, updated_at=now))  # fmt: skip
            self._event(conn, cid, version, "edit", actor, state, State.DRAFT,
                        "an edit needs a new approval" if state is not State.DRAFT else None,
                        now)  # fmt: skip
            return self._record(self._row(conn, cid))

    def act(self, campaign_id: str, action: str, actor: Actor, *,
            comment: str | None = None) -> CampaignRecord:  # fmt: skip
        """Take a lifecycle ``action`` (submit, approve, reject, schedule, start, pause, resume,
        complete, cancel) as ``actor``."""
        if action not in TRANSITIONS:
            raise ConfigError(f"unknown action '{action}'",
                              hint="the actions are " + ", ".join(TRANSITIONS))  # fmt: skip
        sources, target, roles = TRANSITIONS[action]
        now = datetime.now(UTC)
        with self.store.locked(f"campaign:{campaign_id}") as conn:
            row = self._row(conn, campaign_id)
            if row is None:
                raise NotFound(f"no campaign '{campaign_id}'",
                               hint="lodestar campaign save FILE creates it")  # fmt: skip
            state, version = State(row["state"]), int(row["version"])
            if state not in sources:
                raise CampaignError(
                    f"campaign {campaign_id} is {state.value}: it cannot be {_past(action)}",
                    hint="it can be " + ", ".join(_past(a) for a, (s, _, _) in
                                                  TRANSITIONS.items() if state in s) + " now",
                )  # fmt: skip
            if actor.role not in roles:
                raise CampaignError(f"{actor.name} ({actor.role}) may not {action} campaigns",
                                    hint="the roles that may: " + ", ".join(sorted(roles)))  # fmt: skip
            values: dict[str, Any] = {"state": target.value, "updated_at": now}
            if action == "submit":
                values["submitted_by"] = actor.name
            if action == "approve":
                self._check_checker(conn, row, actor)
                values["approved_version"] = version
            if action == "reject":
                if not comment:
                    raise CampaignError("a rejection needs a comment saying what to change")
                values["submitted_by"] = None
            if action in ("schedule", "start", "resume") and row["approved_version"] != version:
                raise CampaignError(f"version {version} of {campaign_id} is not approved",
                                    hint="submit it and have an approver approve it")  # fmt: skip
            conn.execute(sa.update(campaigns).where(campaigns.c.campaign_id == campaign_id)
                         .values(**values))  # fmt: skip
            self._event(conn, campaign_id, version, action, actor, state, target, comment, now)
            return self._record(self._row(conn, campaign_id))

    def _check_checker(self, conn: Connection, row: Any, actor: Actor) -> None:
        """Maker-checker: the approver wrote neither the version nor submitted it."""
        author = conn.execute(sa.select(campaign_versions.c.created_by).where(
            (campaign_versions.c.campaign_id == row["campaign_id"])
            & (campaign_versions.c.version == row["version"]))).scalar_one()  # fmt: skip
        if actor.name in (author, row["submitted_by"]):
            raise CampaignError(
                f"{actor.name} wrote or submitted version {row['version']} of "
                f"{row['campaign_id']} and may not also approve it (maker-checker)",
                hint="another person holding the approver role must approve it",
            )

    # -- reading ------------------------------------------------------------------------------
    def get(self, campaign_id: str) -> CampaignRecord:
        with self.store.engine.connect() as conn:
            row = self._row(conn, campaign_id)
        if row is None:
            raise NotFound(f"no campaign '{campaign_id}'")
        return self._record(row)

    def all(self) -> list[CampaignRecord]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(campaigns).order_by(campaigns.c.campaign_id))
            return [self._record(r) for r in rows.mappings()]

    def definition(self, campaign_id: str, version: int | None = None) -> CampaignDefinition:
        record = self.get(campaign_id)
        wanted = version or record.version
        with self.store.engine.connect() as conn:
            body = conn.execute(sa.select(campaign_versions.c.body).where(
                (campaign_versions.c.campaign_id == campaign_id)
                & (campaign_versions.c.version == wanted))).scalar_one_or_none()  # fmt: skip
        if body is None:
            raise CampaignError(f"campaign {campaign_id} has no version {wanted}")
        return CampaignDefinition.model_validate_json(body)

    def approved_definition(self, campaign_id: str) -> CampaignDefinition:
        """The version an approver approved: what an executor may run (never a later edit)."""
        record = self.get(campaign_id)
        if record.approved_version is None or record.approved_version != record.version:
            raise CampaignError(f"campaign {campaign_id} has no approved current version")
        return self.definition(campaign_id, record.approved_version)

    def history(self, campaign_id: str) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(campaign_events)
                                .where(campaign_events.c.campaign_id == campaign_id)
                                .order_by(campaign_events.c.id)).mappings()  # fmt: skip
            return [dict(r) for r in rows]

    # -- internals ----------------------------------------------------------------------------
    @staticmethod
    def _row(conn: Connection, campaign_id: str) -> Any:
        return conn.execute(sa.select(campaigns).where(campaigns.c.campaign_id == campaign_id)
                            ).mappings().first()  # fmt: skip

    @staticmethod
    def _record(row: Any) -> CampaignRecord:
        return CampaignRecord(
            row["campaign_id"], row["name"], State(row["state"]), int(row["version"]),
            None if row["approved_version"] is None else int(row["approved_version"]),
            row["submitted_by"], row["created_by"], _aware(row["created_at"]),
            _aware(row["updated_at"]),
        )  # fmt: skip

    @staticmethod
    def _version(conn: Connection, cid: str, version: int, body: str, digest: str,
                 actor: Actor, now: datetime) -> None:  # fmt: skip
        conn.execute(sa.insert(campaign_versions).values(
            campaign_id=cid, version=version, body=body, sha256=digest, created_by=actor.name,
            created_at=now))  # fmt: skip

    def _event(self, conn: Connection, cid: str, version: int, action: str, actor: Actor,
               before: State | None, after: State, comment: str | None,
               now: datetime) -> None:  # fmt: skip
        conn.execute(sa.insert(campaign_events).values(
            campaign_id=cid, version=version, action=action, actor=actor.name, role=actor.role,
            from_state=before.value if before else None, to_state=after.value, comment=comment,
            at=now))  # fmt: skip
        self.store.audit(conn, actor=actor.name, action=f"campaign.{action}", entity="campaign",
                         entity_id=f"{cid}@v{version}",
                         before={"state": before.value} if before else None,
                         after={"state": after.value, "role": actor.role,
                                "comment": comment})  # fmt: skip


def _past(action: str) -> str:
    return {"submit": "submitted", "approve": "approved", "reject": "rejected",
            "schedule": "scheduled", "start": "started", "pause": "paused",
            "resume": "resumed", "complete": "completed", "cancel": "cancelled"}.get(action,
                                                                                     action)  # fmt: skip


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
