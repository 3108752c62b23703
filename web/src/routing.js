// An alert's routing entries, read in both shapes the service has written: the contract's
// {"contact_point", "acknowledged_at", "escalated_to", "reasons"} and the earlier
// {"contact": {"id", ...}, "reason", "escalate_to"} (alerts stored before acknowledgement).

export function contactOf(entry) {
  return entry.contact_point ?? entry.contact?.id ?? '';
}

export function contactName(entry) {
  return entry.contact?.name || contactOf(entry);
}

export function reasonsOf(entry) {
  if (Array.isArray(entry.reasons)) return entry.reasons;
  return entry.reason ? [entry.reason] : [];
}

// The contact points an acknowledgement is still owed by, when the deadline falls.
export function deadlineOf(entry, received) {
  if (!entry.ack_within_seconds || !received) return null;
  return new Date(new Date(received).getTime() + entry.ack_within_seconds * 1000);
}
