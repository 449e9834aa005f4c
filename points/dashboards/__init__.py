"""Department head dashboards (adoption figures) and pilot programmes (试点)."""
