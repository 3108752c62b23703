"""Polled CAP feeds: registration, health and the poller."""
