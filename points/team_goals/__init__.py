"""Department challenges (team goals): measured over a window, paid when it closes."""
