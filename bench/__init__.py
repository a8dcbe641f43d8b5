"""The benchmark at a million endpoints: the portal's list, detail, export, bulk
actions, addressing and network API measured against the SQL they run and
against stock Django admin on the same data. ``make bench`` / ``make bench-smoke``;
see docs/benchmark.md."""
