"""The append-only event log: every user-visible action becomes one row here."""
