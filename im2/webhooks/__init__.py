"""Outbound webhooks: endpoints per workspace, an outbox of deliveries that follows the event
log, and a sender job that POSTs each delivery signed with HMAC-SHA256, retrying with backoff."""
