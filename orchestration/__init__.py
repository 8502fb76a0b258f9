"""orchestration (see ARCHITECTURE.md)."""
