"""The 360° view of one customer: attributes, tags, scores, holdings, timeline, contacts,
consents and life events — everything the profile knows, in one call.

PII (name, phone, ID number, e-mail, third-party ids) is masked unless the caller asks for it
unmasked; the Workspace records every unmasked view in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lodestar.data.pii import mask
from lodestar.data.schema import ENTITIES, Pii
from lodestar.errors import ConfigError
from lodestar.profile.view import VIEW, data_as_of
from lodestar.storage.analytical import AnalyticalEngine

#: columns of customer_profile that are scores / segments rather than attributes
SCORE_PREFIXES = ("rfm_", "value_", "customer_value", "aum", "revenue_", "lifecycle_",
                  "persona", "score_", "risk_", "churn_", "nbp_", "best_treatment")  # fmt: skip


@dataclass
class CustomerView:
    customer_id: str
    as_of: date | None
    masked: bool
    attributes: dict[str, Any]
    scores: dict[str, Any]
    tags: dict[str, Any]
    holdings: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    life_events: list[dict[str, Any]] = field(default_factory=list)
    complaints: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _pii_columns() -> dict[str, Pii]:
    return {f.name: f.pii for f in ENTITIES["customers"].fields if f.pii is not Pii.NONE}


def _rows(engine: AnalyticalEngine, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return engine.query(sql, params).to_pylist()


def customer_view(
    engine: AnalyticalEngine,
    customer_id: str,
    *,
    unmask: bool = False,
    timeline: int = 20,
) -> CustomerView:
    """Everything about one customer; raises ConfigError for an unknown id."""
    rows = _rows(engine, f"SELECT * FROM {VIEW} WHERE customer_id = ?", [customer_id])
    if not rows:
        close = _rows(
            engine,
            "SELECT customer_id FROM customers ORDER BY jaro_winkler_similarity(customer_id, ?) "
            "DESC LIMIT 3",
            [customer_id],
        )
        hint = ", ".join(r["customer_id"] for r in close)
        raise ConfigError(f"no customer '{customer_id}'",
                          hint=f"similar ids: {hint}" if hint else "the workspace has no customers")  # fmt: skip
    row = rows[0]
    customer_cols = [f.name for f in ENTITIES["customers"].fields]
    pii = _pii_columns()
    attributes: dict[str, Any] = {}
    for col in [*customer_cols, "age", "tenure_months"]:
        value = row.get(col)
        if col in pii and not unmask:
            value = mask(None if value is None else str(value), pii[col])
        attributes[col] = value
    tags = _tag_columns(engine)
    scores = {k: v for k, v in row.items()
              if k not in attributes and k not in tags and k.startswith(SCORE_PREFIXES)}  # fmt: skip
    tag_values = {k: row[k] for k in row if k in tags}
    holdings = _rows(
        engine,
        "SELECT h.account_id, h.product_id, p.name AS product_name, p.name_en AS product_name_en,"
        " p.category, h.status, h.open_date, h.close_date, h.balance, h.credit_limit,"
        " h.days_past_due, h.currency FROM holdings h LEFT JOIN products p USING (product_id)"
        " WHERE h.customer_id = ? ORDER BY h.open_date DESC, h.account_id",
        [customer_id],
    )
    recent = _rows(
        engine,
        "SELECT * FROM ("
        " SELECT ts, 'transaction' AS kind, type AS what, amount, direction, channel AS via,"
        "  merchant_category AS detail FROM transactions WHERE customer_id = ?"
        " UNION ALL"
        " SELECT ts, 'event' AS kind, event_name AS what, NULL, NULL, platform, page"
        "  FROM events_resolved WHERE customer_id = ?"
        f") ORDER BY ts DESC, kind, what LIMIT {int(timeline)}",
        [customer_id, customer_id],
    )
    contacts = _rows(
        engine,
        "SELECT c.campaign_id, p.name AS campaign, c.arm, c.channel, c.offer_id, c.contacted_at,"
        " c.outcome, c.responded, c.converted, c.revenue FROM campaign_contacts c"
        " LEFT JOIN past_campaigns p USING (campaign_id) WHERE c.customer_id = ?"
        " ORDER BY c.contacted_at DESC LIMIT 20",
        [customer_id],
    )
    consents = _rows(
        engine,
        "SELECT channel, purpose, in_force, ts, withdrawn_at FROM consents_current"
        " WHERE customer_id = ? ORDER BY channel, purpose",
        [customer_id],
    )
    life_events: list[dict[str, Any]] = []
    if "life_events" in engine.tables():
        life_events = _rows(
            engine,
            "SELECT * EXCLUDE (customer_id) FROM life_events WHERE customer_id = ?"
            " ORDER BY ts DESC LIMIT 20",
            [customer_id],
        )
    complaints = _rows(
        engine,
        "SELECT ts, channel, category, severity, status FROM complaints WHERE customer_id = ?"
        " ORDER BY ts DESC LIMIT 10",
        [customer_id],
    )
    surveys = _rows(
        engine,
        "SELECT ts, survey_type, score, touchpoint, journey_stage FROM surveys"
        " WHERE customer_id = ? ORDER BY ts DESC LIMIT 10",
        [customer_id],
    )
    return CustomerView(
        customer_id=customer_id, as_of=data_as_of(engine), masked=not unmask,
        attributes=attributes, scores=scores, tags=tag_values, holdings=holdings,
        timeline=recent, contacts=contacts, consents=consents, life_events=life_events,
        complaints=complaints, surveys=surveys,
    )  # fmt: skip


def _tag_columns(engine: AnalyticalEngine) -> set[str]:
    if "profile_tags" not in engine.tables():
        return set()
    rows = engine.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'profile_tags'"
    )
    return {str(v) for v in rows.column(0).to_pylist()} - {"customer_id"}
