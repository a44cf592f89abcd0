"""Live collection: read a cluster and Azure into the same state a bundle holds."""
