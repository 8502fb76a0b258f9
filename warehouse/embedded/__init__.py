"""chDB served behind the ClickHouse HTTP interface: the default warehouse."""
