"""`make compat`: the upstream ClickHouse clients' own integration suites against the embedded
endpoint, so its compatibility is measured by the clients' authors' tests, not ours."""
