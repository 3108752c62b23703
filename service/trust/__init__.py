"""Trust in signed alerts: the certificates each CAP sender's signatures must chain to, and the
senders whose messages must carry a verified signature."""
