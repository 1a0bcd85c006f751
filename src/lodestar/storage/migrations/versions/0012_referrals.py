"""Member-get-member referrals: codes, touches, referrals, steps, rewards, fraud flags and the
event-feed cursor of each programme (lodestar.campaigns.referrals); the event feed gains an index
on the device (anonymous_id).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lodestar.storage.operational_tables import Amount

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a click that arrives after the registration it led to is matched by its device
    op.create_index("ix_event_feed_anonymous_id_event_name", "event_feed",
                    ["anonymous_id", "event_name"])  # fmt: skip
    op.create_table(
        "referral_codes",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_referral_codes"),
    )
    op.create_index("ix_referral_codes_programme_id_customer_id", "referral_codes", ["programme_id", "customer_id"], unique=True)
    op.create_table(
        "referral_touches",
        sa.Column("touch_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("referrer_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("anonymous_id", sa.String(128)),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("touch_id", name="pk_referral_touches"),
    )
    op.create_index("ix_referral_touches_programme_id_anonymous_id", "referral_touches", ["programme_id", "anonymous_id"])
    op.create_index("ix_referral_touches_programme_id_event_id", "referral_touches", ["programme_id", "event_id"], unique=True)
    op.create_index("ix_referral_touches_programme_id_customer_id", "referral_touches", ["programme_id", "customer_id"])
    op.create_table(
        "referrals",
        sa.Column("referral_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("referee_id", sa.String(64), nullable=False),
        sa.Column("referrer_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("touch_event_id", sa.String(128)),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attributed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name="pk_referrals"),
    )
    op.create_index("ix_referrals_programme_id_referrer_id", "referrals", ["programme_id", "referrer_id"])
    op.create_index("ix_referrals_programme_id_referee_id", "referrals", ["programme_id", "referee_id"], unique=True)
    op.create_table(
        "referral_fingerprints",
        sa.Column("referral_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", "kind", "digest", name="pk_referral_fingerprints"),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"],
                                name="fk_referral_fingerprints_referral_id_referrals"),
    )
    op.create_index("ix_referral_fingerprints_programme_id_kind_digest", "referral_fingerprints", ["programme_id", "kind", "digest"])
    op.create_table(
        "referral_steps",
        sa.Column("referral_id", sa.Integer, nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reward_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.PrimaryKeyConstraint("referral_id", "step_id", name="pk_referral_steps"),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"],
                                name="fk_referral_steps_referral_id_referrals"),
    )
    op.create_table(
        "referral_rewards",
        sa.Column("reward_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.Integer, nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("right_id", sa.String(64)),
        sa.Column("points", sa.Integer),
        sa.Column("cost", Amount, nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("coupon_id", sa.String(64)),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reward_id", name="pk_referral_rewards"),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"],
                                name="fk_referral_rewards_referral_id_referrals"),
        sa.ForeignKeyConstraint(["entry_id"], ["rights_entries.entry_id"],
                                name="fk_referral_rewards_entry_id_rights_entries"),
    )
    op.create_index("ix_referral_rewards_referral_id_step_id_role", "referral_rewards", ["referral_id", "step_id", "role"], unique=True)
    op.create_index("ix_referral_rewards_programme_id", "referral_rewards", ["programme_id"])
    op.create_table(
        "referral_flags",
        sa.Column("flag_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(128)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("flag_id", name="pk_referral_flags"),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"],
                                name="fk_referral_flags_referral_id_referrals"),
    )
    op.create_index("ix_referral_flags_review", "referral_flags", ["review"])
    op.create_index("ix_referral_flags_referral_id", "referral_flags", ["referral_id"])
    op.create_table(
        "referral_cursors",
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme_id", name="pk_referral_cursors"),
    )


def downgrade() -> None:
    op.drop_index("ix_event_feed_anonymous_id_event_name", table_name="event_feed")
    op.drop_table("referral_cursors")
    op.drop_table("referral_flags")
    op.drop_table("referral_rewards")
    op.drop_table("referral_steps")
    op.drop_table("referral_fingerprints")
    op.drop_table("referrals")
    op.drop_table("referral_touches")
    op.drop_table("referral_codes")
