"""Assistance requests (Res. 34): filing, routing to contact points, acknowledgement, escalation."""
