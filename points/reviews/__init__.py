"""Review before award: awards of rules with ``review`` wait for a reviewer."""
