"""Levels (等级): names for how far a person has come, from their all-time points."""
