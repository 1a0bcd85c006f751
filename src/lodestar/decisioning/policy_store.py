"""Contact policies and the do-not-contact list in the operational store.

Policies are versioned: :func:`save_policy` validates the YAML text and stores it as the next
version of its name (the same text as the latest version is not stored again); versions are
never changed, so a plan can always say which policy it ran under. Every change writes an audit
entry.

>>> # store = OperationalStore("sqlite:///ops.sqlite"); store.migrate()
>>> # policy = save_policy(store, default_policy_text(), actor="ops1")
>>> # load_policy(store, "retail_default").version
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lodestar.decisioning.contact_windows import require_aware
from lodestar.decisioning.policy_rules import Channel, ContactPolicy, parse_policy_text
from lodestar.errors import ConfigError
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import contact_policies, do_not_contact


class DncReason(StrEnum):
    """Why a customer is on the do-not-contact list."""

    CUSTOMER_REQUEST = "customer_request"
    COMPLAINT = "complaint"
    REGULATOR_LIST = "regulator_list"
    DECEASED = "deceased"
    FRAUD = "fraud"
    LEGAL_HOLD = "legal_hold"
    OTHER = "other"


def save_policy(
    store: OperationalStore, text: str, *, actor: str, source: str = "<policy>"
) -> ContactPolicy:
    """Validate ``text`` and store it as the next version of the policy it names; returns the
    policy with its ``version``. Raises :class:`~lodestar.errors.DefinitionError` (file, line,
    field) without storing anything when the text is not a valid policy."""
    policy = parse_policy_text(text, source)
    with store.begin() as conn:
        latest = conn.execute(
            sa.select(contact_policies.c.version, contact_policies.c.body)
            .where(contact_policies.c.name == policy.name)
            .order_by(contact_policies.c.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.body == text:
            return policy.model_copy(update={"version": int(latest.version)})
        version = 1 if latest is None else int(latest.version) + 1
        conn.execute(
            sa.insert(contact_policies).values(
                name=policy.name,
                version=version,
                body=text,
                created_at=datetime.now(UTC),
                created_by=actor,
            )
        )
        store.audit(
            conn,
            actor=actor,
            action="save_version",
            entity="contact_policy",
            entity_id=f"{policy.name}@{version}",
            before=None if latest is None else {"version": int(latest.version)},
            after={"version": version, "source": source},
        )
    return policy.model_copy(update={"version": version})


def load_policy(store: OperationalStore, name: str, version: int | None = None) -> ContactPolicy:
    """The stored policy ``name`` at ``version`` (default: the latest)."""
    q = sa.select(contact_policies).where(contact_policies.c.name == name)
    q = q.where(contact_policies.c.version == version) if version is not None else q
    with store.engine.connect() as conn:
        row = (
            conn.execute(q.order_by(contact_policies.c.version.desc()).limit(1)).mappings().first()
        )
    if row is None:
        what = f"version {version} of " if version is not None else ""
        raise ConfigError(
            f"no {what}contact policy named '{name}' in the operational store",
            hint="store one with save_policy (versions: policy_versions)",
        )
    policy = parse_policy_text(row["body"], f"contact policy {name}@{row['version']}")
    return policy.model_copy(update={"version": int(row["version"])})


def policy_versions(store: OperationalStore, name: str) -> list[dict[str, Any]]:
    """Versions of ``name``, oldest first: version, created_at, created_by."""
    q = (
        sa.select(
            contact_policies.c.version, contact_policies.c.created_at, contact_policies.c.created_by
        )
        .where(contact_policies.c.name == name)
        .order_by(contact_policies.c.version)
    )
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def add_do_not_contact(
    store: OperationalStore,
    customer_id: str,
    channel: str,
    reason: str,
    *,
    actor: str,
    expires_at: datetime | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> int:
    """Put a customer on the do-not-contact list for ``channel`` (or ``all``); returns the
    entry id. ``reason`` is a :class:`DncReason` value."""
    scope = "all" if channel == "all" else Channel(channel).value
    why = DncReason(reason)
    added = require_aware(at) if at is not None else datetime.now(UTC)
    with store.begin() as conn:
        result = conn.execute(
            sa.insert(do_not_contact).values(
                customer_id=customer_id,
                channel=scope,
                reason=why.value,
                note=note,
                added_at=added,
                added_by=actor,
                expires_at=None if expires_at is None else require_aware(expires_at),
            )
        )
        pk = result.inserted_primary_key
        entry_id = int(pk[0]) if pk else 0
        store.audit(
            conn,
            actor=actor,
            action="add",
            entity="do_not_contact",
            entity_id=str(entry_id),
            after={"channel": scope, "reason": why.value, "expires_at": expires_at},
        )
    return entry_id


def do_not_contact_frame(store: OperationalStore) -> pd.DataFrame:
    """The whole list as :func:`~lodestar.decisioning.contact_policy.evaluate` takes it (times
    as UTC)."""
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(sa.select(do_not_contact)).mappings().all())
    if frame.empty:
        frame = pd.DataFrame(columns=[c.name for c in do_not_contact.columns])
    for name in ("added_at", "expires_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame
