"""Deliveries of events to contact points: signed webhooks and e-mail, from a persistent outbox."""
