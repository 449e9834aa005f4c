"""Manual adjustments under separation of duties: never one's own, large ones by two."""
