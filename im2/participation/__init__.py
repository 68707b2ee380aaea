"""Participants (anonymous first, by a signed device cookie), consent, rate limits and risk."""
