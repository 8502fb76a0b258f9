"""expectations (see ARCHITECTURE.md)."""
