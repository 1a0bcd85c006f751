"""Member-get-member referrals (MGM, 老带新): codes and links per customer, attribution of a
referee to a referrer within a window, multi-step rewards through the rights ledger, anti-fraud
rules and their review, and the funnel and leaderboard.

* :mod:`~lodestar.campaigns.referrals.programme` — the programme (``referrals.yaml``);
* :mod:`~lodestar.campaigns.referrals.codes` — codes and links;
* :mod:`~lodestar.campaigns.referrals.engine` — touches, attribution, steps, from events;
* :mod:`~lodestar.campaigns.referrals.rewards` — a step's rewards, all or nothing, in budget;
* :mod:`~lodestar.campaigns.referrals.fingerprints` and :mod:`~.fraud` — hashed identities and
  the rules; :mod:`~.review` — clearing or confirming what they flag;
* :mod:`~lodestar.campaigns.referrals.reporting` — funnel, leaderboard, cost against budget.

See ``docs/referrals.md``.
"""
