"""Decisioning: offers, eligibility, contact policy, arbitration / budget optimisation, plans."""
