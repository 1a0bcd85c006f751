"""Campaign execution: rights, coupons and loyalty points (:mod:`lodestar.campaigns.rights`);
lifecycle, outbox, journeys and referrals join it in later work."""
