"""Leaderboards read from period scores, and the frozen results of closed periods."""
