"""ClickHouse connection settings, the client factory and the embedded endpoint."""
