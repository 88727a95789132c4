"""The guard console: FastAPI app, authentication, and its server thread."""
