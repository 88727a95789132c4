"""What cameras see: faces and licence plates. Knows nothing of the gate service."""
