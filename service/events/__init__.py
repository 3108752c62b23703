"""The durable event log and the live websocket stream over it."""
