"""The 360° customer view: RFM (more — tags, value tiers, lifecycle, personas, life events — as
issue 3 lands)."""
