"""Which customer events live campaigns listen to: what ingestion must put into the live event
feed (:mod:`lodestar.campaigns.event_feed`) so that file and stream loads trigger journeys too.

A campaign listens while it may still act on an event: approved, scheduled, running or paused
(a paused journey resumes and reads what happened meanwhile). It listens to its trigger
(``schedule.event``), every wait's ``until_event``, every branch's ``if_event`` (in ``then``
and ``otherwise`` too, however deep) and its goal (``goal.event``).

>>> from lodestar.campaigns.definition import CampaignDefinition
>>> d = CampaignDefinition.from_text('''
... campaign: CMP_X
... name: x
... schedule: {event: app_open}
... journey:
...   - send: {channel: sms}
...   - wait: {days: 1, until_event: apply_start}
...   - branch: {if_event: apply_done, then: [exit: {goal: true}]}
... goal: {event: drawdown}
... ''')
>>> sorted(names_in(d))
['app_open', 'apply_done', 'apply_start', 'drawdown']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lodestar.campaigns.definition import CampaignDefinition
from lodestar.campaigns.lifecycle import Campaigns, State

if TYPE_CHECKING:
    from lodestar.storage.operational import OperationalStore

#: States in which a campaign may still act on an event.
LISTENING = (State.APPROVED, State.SCHEDULED, State.RUNNING, State.PAUSED)


def names_in(definition: CampaignDefinition) -> set[str]:
    """Every event name ``definition`` reads: trigger, waits, branches and goal."""
    return definition.listened_events()


def listened_names(store: OperationalStore, extra: Iterable[str] = ()) -> set[str]:
    """The event names of every campaign in a listening state, plus ``extra`` (the workspace's
    ``events.always_feed``). The current version is read: in these states it is the approved
    one (an edit sends a campaign back to draft)."""
    campaigns = Campaigns(store)
    names = set(extra)
    for record in campaigns.all():
        if record.state in LISTENING:
            names |= names_in(campaigns.definition(record.campaign_id))
    return names


def listened_event_names(ws: Any) -> set[str]:
    """:func:`listened_names` for a workspace, with its ``events.always_feed`` setting."""
    settings = ws.config.events
    return listened_names(ws.ops, settings.always_feed if settings is not None else ())
