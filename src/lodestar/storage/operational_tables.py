"""Tables of the operational store (SQLAlchemy Core). Alembic migrations create and evolve them;
this module is the current shape, used by queries and by ``alembic check`` in the tests.

Operational state is what several processes write concurrently and what must be exact: ingestion
runs, consents (checked again at send time), the audit trail; campaigns, the outbox, coupons and
approvals join it in later issues.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    }
)

ingestion_runs = Table(
    "ingestion_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("source", Text, nullable=False),
    #: sha256 of the file bytes, the mapping and the kind: the same load twice is a no-op.
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows_read", BigInteger, nullable=False, default=0),
    Column("rows_inserted", BigInteger, nullable=False, default=0),
    Column("rows_updated", BigInteger, nullable=False, default=0),
    Column("rows_skipped", BigInteger, nullable=False, default=0),
    Column("actor", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("details", Text),
    Index("ix_ingestion_runs_fingerprint", "fingerprint"),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("source", String(32)),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True)),
    Index("ix_consents_customer_channel", "customer_id", "channel", "purpose"),
)

#: Append-only: rows are inserted, never updated or deleted (PostgreSQL enforces it with a
#: trigger, see the migration).
audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("entity_id", String(256)),
    Column("before", Text),
    Column("after", Text),
    Index("ix_audit_log_ts", "ts"),
)

#: Saved audiences (segments): one row per name, pointing at its latest version.
segments = Table(
    "segments",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Every version of every segment; versions are never changed once written.
segment_versions = Table(
    "segment_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    #: The canonical text of the expression (lodestar.segments.printer).
    Column("expression", Text, nullable=False),
    Column("description", Text),
    #: Members when saved, out of how many customers, on which data date.
    Column("count_at_save", BigInteger, nullable=False),
    Column("population_at_save", BigInteger, nullable=False),
    Column("data_as_of", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
    ForeignKeyConstraint(["name"], ["segments.name"]),
)

#: Every version of every contact policy (lodestar.decisioning.policy_store); a change is a new
#: version, never an update.
contact_policies = Table(
    "contact_policies",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    #: The YAML text as written (comments included).
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
)

#: Customers not to be contacted on a channel (or ``all``), with the reason, until expires_at.
do_not_contact = Table(
    "do_not_contact",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("note", Text),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Index("ix_do_not_contact_customer_id", "customer_id"),
)

#: Contacts reserved against the caps by real-time decisions and sends
#: (lodestar.decisioning.contact_ledger); ``ts`` is the (possibly held) send time and
#: ``local_day`` its date in the customer's zone.
contact_ledger = Table(
    "contact_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("campaign_id", String(64)),
    Column("weight", Float, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("local_day", Date, nullable=False),
    Index("ix_contact_ledger_customer_id_ts", "customer_id", "ts"),
)

#: API keys of systems and users (lodestar.security.api_keys). Only a SHA-256 of the secret is
#: kept; ``prefix`` is the public part of the key that finds the row.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(128)),
    Index("ix_api_keys_prefix", "prefix", unique=True),
)

#: The in-app inbox (lodestar.channels.inbox): one row per message sent to a customer's app.
#: ``idempotency_key`` is unique, so sending the same outbox row twice stores one message.
inbox_messages = Table(
    "inbox_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False),
    Column("campaign_id", String(64)),
    Column("idempotency_key", String(256), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True)),
    Index("ix_inbox_messages_idempotency_key", "idempotency_key", unique=True),
    Index("ix_inbox_messages_customer_id_created_at", "customer_id", "created_at"),
)

#: Campaigns (lodestar.campaigns.lifecycle): one row per campaign with its state, the version
#: being worked on and the version an approver approved (None until then, and again after an
#: edit: an approval is for one version only).
campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("approved_version", Integer),
    Column("submitted_by", String(128)),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Every version of every campaign's definition, never changed once written.
campaign_versions = Table(
    "campaign_versions",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["campaign_id"], ["campaigns.campaign_id"]),
)

#: The lifecycle's history: who did what to which version, when, from which state to which.
campaign_events = Table(
    "campaign_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("comment", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_campaign_events_campaign_id", "campaign_id", "id"),
)

#: The durable outbox (lodestar.campaigns.outbox): one row per (campaign, step, customer) send.
#: ``idempotency_key`` is unique (enqueuing twice stores one row) and goes to the gateway, so a
#: send repeated after a worker died mid-batch is recognised there. Workers claim rows with a
#: lease; a row whose lease ran out is claimed again.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(256), nullable=False),
    Column("campaign_id", String(64), nullable=False),
    Column("step", String(32), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("offer_id", String(64)),
    Column("purpose", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(128)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("provider_message_id", String(256)),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_outbox_idempotency_key", "idempotency_key", unique=True),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)


class Amount(TypeDecorator[Decimal]):
    """An exact amount with two decimals (CNY, or points), read and written as ``Decimal``.

    PostgreSQL keeps ``NUMERIC(20, 2)``. SQLite has no exact decimal type (its NUMERIC keeps
    fractions as binary floats, and SQLAlchemy warns about it), so there the column holds the
    amount in hundredths as an integer: sums stay exact, and SQL compares and sums work the
    same on both (a sum read through this type comes back in units).
    """

    impl = Numeric(20, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value)
        if dialect.name == "sqlite":
            return int((amount * 100).to_integral_exact())
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(_CENT)
        return Decimal(value).quantize(_CENT)


_CENT = Decimal("0.01")

#: Journal entries of the rights ledger (lodestar.campaigns.rights.ledger): append-only. A
#: reversal is a new entry pointing at the one it reverses (``reverses`` is unique, so an entry
#: is reversed at most once); ``effective_at`` is when the business event happened (a purchase
#: that earned points), ``created_at`` when it was posted.
rights_entries = Table(
    "rights_entries",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("idempotency_key", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reference", String(256), nullable=False),
    Column("reverses", Integer),
    Column("note", Text),
    ForeignKeyConstraint(["reverses"], ["rights_entries.entry_id"]),
    Index("ix_rights_entries_idempotency_key", "idempotency_key", unique=True),
    Index("ix_rights_entries_reverses", "reverses", unique=True),
    Index("ix_rights_entries_kind_reference", "kind", "reference"),
)

#: The postings of each entry; per entry and unit (CNY or points) they sum to zero.
rights_postings = Table(
    "rights_postings",
    metadata,
    Column("posting_id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, nullable=False),
    Column("account", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("amount", Amount, nullable=False),
    ForeignKeyConstraint(["entry_id"], ["rights_entries.entry_id"]),
    CheckConstraint("unit IN ('CNY', 'points')", name="ck_rights_postings_unit"),
    Index("ix_rights_postings_account", "account"),
    Index("ix_rights_postings_entry_id", "entry_id"),
)

#: Issued rights (coupons) and their state: issued -> redeemed | expired | reversed. The money
#: is in the postings; this table says which coupon is which, and until when it is valid.
rights_coupons = Table(
    "rights_coupons",
    metadata,
    Column("coupon_id", String(64), primary_key=True),
    Column("right_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cost", Amount, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("issue_entry_id", Integer, nullable=False),
    Column("closed_entry_id", Integer),
    ForeignKeyConstraint(["issue_entry_id"], ["rights_entries.entry_id"]),
    Index("ix_rights_coupons_right_id_status", "right_id", "status"),
    Index("ix_rights_coupons_customer_id", "customer_id"),
    Index("ix_rights_coupons_status_expires_at", "status", "expires_at"),
)

#: Delivery receipts and responses reported by the channels' gateways (webhooks), tied to the
#: outbox by idempotency key or the gateway's message id. The same event reported twice is
#: stored once.
delivery_events = Table(
    "delivery_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("idempotency_key", String(256)),
    Column("provider_message_id", String(256)),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("event_key", String(64), nullable=False),
    Index("ix_delivery_events_event_key", "event_key", unique=True),
    Index("ix_delivery_events_idempotency_key", "idempotency_key"),
)

#: Customer events as they arrive (the events API, or ingestion for the event names a running
#: journey listens to): what triggers journeys, ends waits and reaches goals. ``seq`` orders
#: them; writers append under one lock so a reader's cursor on ``seq`` never skips a row that
#: commits late. The same event id is stored once.
event_feed = Table(
    "event_feed",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False),
    Column("customer_id", String(64)),
    Column("anonymous_id", String(128)),
    Column("event_name", String(64), nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("properties", Text),
    Column("source", String(16), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    #: the event's other canonical fields (platform, page, session_id...) as JSON, so a flush
    #: into the analytical store loses nothing (migration 0011)
    Column("context", Text),
    Index("ix_event_feed_event_id", "event_id", unique=True),
    Index("ix_event_feed_customer_id_event_name", "customer_id", "event_name"),
    # referrals look up a device's registration when its click arrives after it (0011)
    Index("ix_event_feed_anonymous_id_event_name", "anonymous_id", "event_name"),
)

#: Member-get-member referrals (lodestar.campaigns.referrals). One code per customer and
#: programme: random (unguessable) and kept (stable), unique across programmes.
referral_codes = Table(
    "referral_codes",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("programme_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_referral_codes_programme_id_customer_id", "programme_id", "customer_id",
          unique=True),
)

#: Clicks on a referral link and codes typed in: the touches attribution chooses from. The
#: same event id is one touch; ``anonymous_id`` is the device that clicked.
referral_touches = Table(
    "referral_touches",
    metadata,
    Column("touch_id", Integer, primary_key=True, autoincrement=True),
    Column("programme_id", String(64), nullable=False),
    Column("code", String(32), nullable=False),
    Column("referrer_id", String(64), nullable=False),
    Column("customer_id", String(64)),
    Column("anonymous_id", String(128)),
    Column("event_id", String(128), nullable=False),
    Column("how", String(16), nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Index("ix_referral_touches_programme_id_event_id", "programme_id", "event_id", unique=True),
    Index("ix_referral_touches_programme_id_customer_id", "programme_id", "customer_id"),
    Index("ix_referral_touches_programme_id_anonymous_id", "programme_id", "anonymous_id"),
)

#: One referrer per referee and programme (the unique index), chosen by the first valid touch
#: inside the attribution window; ``status`` is active, flagged (fraud rules hit, rewards
#: withheld until review), cleared (reviewed, rewards released) or fraud (confirmed).
referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", Integer, primary_key=True, autoincrement=True),
    Column("programme_id", String(64), nullable=False),
    Column("referee_id", String(64), nullable=False),
    Column("referrer_id", String(64), nullable=False),
    Column("code", String(32), nullable=False),
    Column("how", String(16), nullable=False),
    Column("touch_event_id", String(128)),
    Column("touched_at", DateTime(timezone=True), nullable=False),
    Column("attributed_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Index("ix_referrals_programme_id_referee_id", "programme_id", "referee_id", unique=True),
    Index("ix_referrals_programme_id_referrer_id", "programme_id", "referrer_id"),
)

#: Hashed identity fingerprints (phone, ID number, device) of each referral's referee: what
#: the shared-device / shared-phone rule counts. Hashes only, never the values.
referral_fingerprints = Table(
    "referral_fingerprints",
    metadata,
    Column("referral_id", Integer, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("programme_id", String(64), nullable=False),
    ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
    Index("ix_referral_fingerprints_programme_id_kind_digest", "programme_id", "kind", "digest"),
)

#: Steps each referral reached (the primary key: each step once), with what became of its
#: rewards: issued, none (the step has none), withheld (flagged), refused (budget; ``reason``)
#: or forfeited (fraud confirmed).
referral_steps = Table(
    "referral_steps",
    metadata,
    Column("referral_id", Integer, primary_key=True),
    Column("step_id", String(64), primary_key=True),
    Column("event_id", String(128), nullable=False),
    Column("reached_at", DateTime(timezone=True), nullable=False),
    Column("reward_status", String(16), nullable=False),
    Column("reason", Text),
    ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
)

#: Rewards issued through the rights ledger: at most one per referral, step and role.
referral_rewards = Table(
    "referral_rewards",
    metadata,
    Column("reward_id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", Integer, nullable=False),
    Column("programme_id", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("right_id", String(64)),
    Column("points", Integer),
    Column("cost", Amount, nullable=False),
    Column("entry_id", Integer, nullable=False),
    Column("coupon_id", String(64)),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
    ForeignKeyConstraint(["entry_id"], ["rights_entries.entry_id"]),
    Index("ix_referral_rewards_referral_id_step_id_role", "referral_id", "step_id", "role",
          unique=True),
    Index("ix_referral_rewards_programme_id", "programme_id"),
)

#: Fraud rules a referral hit, with their evidence (hashes and counts, no personal data), and
#: the review: open, cleared or confirmed, by whom and when.
referral_flags = Table(
    "referral_flags",
    metadata,
    Column("flag_id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", Integer, nullable=False),
    Column("rule", String(32), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("review", String(16), nullable=False),
    Column("reviewer", String(128)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("note", Text),
    ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
    Index("ix_referral_flags_referral_id", "referral_id"),
    Index("ix_referral_flags_review", "review"),
)

#: How far each programme has read the live event feed (its ``seq``).
referral_cursors = Table(
    "referral_cursors",
    metadata,
    Column("programme_id", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: One row per customer's pass through a campaign's journey (lodestar.campaigns.journeys):
#: where they are (``pc`` in the compiled program of the version they entered under), when to
#: look at them next, and how they left. ``entry_key`` (campaign, customer, round or n-th entry)
#: is unique, so a trigger or a schedule firing processed twice enters nobody twice.
journey_entries = Table(
    "journey_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("entry_key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active | done
    Column("pc", Integer, nullable=False),
    Column("wake_at", DateTime(timezone=True)),
    Column("waiting_since", DateTime(timezone=True)),
    Column("until_event", String(64)),
    Column("channel", String(32)),  # the plan's channel for the customer, if any
    Column("offer_id", String(64)),  # the plan's offer for the customer, if any
    Column("purpose", String(16), nullable=False),
    Column("trigger_event_id", String(128)),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("exited_at", DateTime(timezone=True)),
    Column("exit_reason", String(32)),  # completed | goal | exit | cancelled
    Column("exit_label", String(32)),
    Column("claimed_by", String(128)),
    Column("lease_until", DateTime(timezone=True)),
    Index("ix_journey_entries_entry_key", "entry_key", unique=True),
    Index("ix_journey_entries_status_wake_at", "status", "wake_at"),
    Index("ix_journey_entries_campaign_id_customer_id", "campaign_id", "customer_id"),
)

#: Per campaign: how far the journey runner has read the event feed and checked the schedule.
journey_cursors = Table(
    "journey_cursors",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("event_seq", Integer, nullable=False),
    Column("checked_until", DateTime(timezone=True)),
    Column("rounds", Integer, nullable=False),
)

#: The experiment registry (lodestar.experiments.registry): one row per experiment with its
#: arms and holdout, and the slice of its layer's 10,000 hash buckets it owns. Running
#: experiments' slices in one layer never overlap (allocated under the layer's lock), so a
#: customer is in at most one experiment per layer.
experiments = Table(
    "experiments",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("name", Text),
    Column("layer", String(64), nullable=False),
    Column("arms", Text, nullable=False),  # JSON: [{"name": ..., "weight": ...}]
    Column("holdout", Float, nullable=False),
    Column("bucket_start", Integer, nullable=False),
    Column("bucket_end", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("stopped_at", DateTime(timezone=True)),
    CheckConstraint("bucket_start >= 0 AND bucket_end <= 10000 AND bucket_start < bucket_end",
                    name="ck_experiments_buckets"),
    Index("ix_experiments_layer_status", "layer", "status"),
)
