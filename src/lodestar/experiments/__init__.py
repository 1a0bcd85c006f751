"""Experiments: deterministic assignment to arms and holdouts, statistics, bandits."""
