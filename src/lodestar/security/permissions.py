"""Roles and the permission matrix, in one place.

Every route of the REST API names one :class:`Permission`; :data:`MATRIX` says which roles hold
it. A role is not a rank: an approver can approve without being able to decide, so the matrix
lists roles per permission rather than a minimum level.

The human roles are those of the issue (viewer, analyst, marketer, approver, compliance,
admin). Two roles are *systems*. ``decisioning`` is a system role for the application back end that asks
``POST /v1/decide`` on behalf of a customer session: it may decide and nothing else. A key that
lives in an app server's configuration is the most likely to leak, so it must not also read
plans (customer lists with their offers) or rebuild the snapshot, as a marketer's key could.
``integration`` is the system that sends customer events (``POST /v1/events``: the app's
back end, a tag manager, a stream consumer): it may write events and read nothing.

>>> allowed(Role.DECISIONING, Permission.DECIDE)
True
>>> allowed(Role.DECISIONING, Permission.PLANS_READ)
False
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    MARKETER = "marketer"
    APPROVER = "approver"
    COMPLIANCE = "compliance"
    ADMIN = "admin"
    #: a system: the app back end asking for real-time decisions, nothing more
    DECISIONING = "decisioning"
    #: a system: the bank's event sources posting customer events, nothing more
    INTEGRATION = "integration"


class Permission(StrEnum):
    DECIDE = "decisions:decide"
    SNAPSHOT_REBUILD = "decisions:snapshot"
    PLANS_READ = "plans:read"
    ANALYTICS_READ = "analytics:read"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    CAMPAIGNS_ACT = "campaigns:act"
    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"
    REFERRALS_REVIEW = "referrals:review"
    EVENTS_WRITE = "events:write"


_PEOPLE_WHO_ANALYSE = frozenset(
    {Role.ANALYST, Role.MARKETER, Role.APPROVER, Role.COMPLIANCE, Role.ADMIN}
)

#: Which roles hold each permission. Anything not listed is refused.
MATRIX: dict[Permission, frozenset[Role]] = {
    # booking a contact against the caps is a marketing act: marketers (testing a placement),
    # admins, and the app back end's system key
    Permission.DECIDE: frozenset({Role.MARKETER, Role.ADMIN, Role.DECISIONING}),
    # the snapshot decides who can be offered what until the next rebuild
    Permission.SNAPSHOT_REBUILD: frozenset({Role.MARKETER, Role.ADMIN}),
    # plans name customers and their offers: analysts and up, not viewers (dashboards only)
    Permission.PLANS_READ: _PEOPLE_WHO_ANALYSE,
    # operations analytics (funnels, retention, paths, channel KPIs, CX) are aggregates:
    # dashboard figures every person may read; a drop-off saved as a segment is a write
    Permission.ANALYTICS_READ: _PEOPLE_WHO_ANALYSE | {Role.VIEWER},
    # campaigns: everyone who works on them reads them; marketers write them; the lifecycle
    # actions are open to the roles that take any (which action each role may take, and the
    # maker-checker rule, are the lifecycle's: lodestar.campaigns.lifecycle.TRANSITIONS)
    Permission.CAMPAIGNS_READ: _PEOPLE_WHO_ANALYSE,
    Permission.CAMPAIGNS_WRITE: frozenset({Role.MARKETER, Role.ADMIN}),
    Permission.CAMPAIGNS_ACT: frozenset({Role.MARKETER, Role.APPROVER, Role.COMPLIANCE,
                                         Role.ADMIN}),
    # referrals: funnel and leaderboard (ids, masked names) are dashboard figures, so viewers
    # read them too; marketers run the programme (codes, attribution, processing); a fraud
    # flag is reviewed by marketing or compliance
    Permission.REFERRALS_READ: _PEOPLE_WHO_ANALYSE | {Role.VIEWER},
    Permission.REFERRALS_WRITE: frozenset({Role.MARKETER, Role.ADMIN}),
    Permission.REFERRALS_REVIEW: frozenset({Role.MARKETER, Role.COMPLIANCE, Role.ADMIN}),
    # customer events start journeys: the event sources' system key and admins (for tests
    # and backfills), not people's keys, which have no business writing behaviour data
    Permission.EVENTS_WRITE: frozenset({Role.INTEGRATION, Role.ADMIN}),
}


def allowed(role: Role | str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` (an unknown role holds nothing)."""
    try:
        return Role(role) in MATRIX.get(permission, frozenset())
    except ValueError:
        return False
