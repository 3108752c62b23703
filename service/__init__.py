"""I/O: FastAPI app, storage, auth, events, CLI, web map."""
