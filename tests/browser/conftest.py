"""Browser tests: the `browser` and `artifacts` fixtures live in tests/conftest.py."""
