"""Shopper events: validation of the event format, idempotent storage, attribution, retention,
and the click log that click models read."""
