"""Boundary tables that resolve CAP geocodes: operator imports and reloads."""
