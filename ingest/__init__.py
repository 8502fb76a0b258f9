"""ingest (see ARCHITECTURE.md)."""
