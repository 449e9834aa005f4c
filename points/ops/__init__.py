"""Running the product: periodic jobs without Redis, backups and restores."""
