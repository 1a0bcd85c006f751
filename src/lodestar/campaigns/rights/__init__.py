"""Rights, coupons and loyalty points (权益 / 积分) as a double-entry ledger.

* :mod:`~lodestar.campaigns.rights.catalogue` — the rights a bank offers (YAML, located errors);
* :mod:`~lodestar.campaigns.rights.ledger` — issue, redeem, expire, reverse, earn and spend as
  balanced journal entries in the operational store; budgets locked per right;
* :mod:`~lodestar.campaigns.rights.points_rules` — points earned from transactions and events,
  and member levels from points earned in a rolling window.

See ``docs/rights.md``.
"""
