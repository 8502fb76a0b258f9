"""simulator (see ARCHITECTURE.md)."""
