"""The disaster-connectivity layer: operator imports, reloads and map views."""
