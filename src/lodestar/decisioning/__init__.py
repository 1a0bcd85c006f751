"""Decisioning: offers, eligibility, contact policy, arbitration and plans (issue 5)."""
