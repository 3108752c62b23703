"""Bearer tokens (issue, list, revoke) and browser sessions over HTTP."""
