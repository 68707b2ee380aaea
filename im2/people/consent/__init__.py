"""Consent by purpose: the texts a workspace shows (versioned per purpose and language), what
each person granted or withdrew, and the condition that keeps the others out of processing."""
