"""Alerts: CAP ingest, the lifecycle (Update, Cancel, Ack, Error, expiry), impacts, views and feeds out."""
