"""Live generation: generator adapters chosen per System, the router that reads a listener's input, moderation,
and the services that turn a prompt into an open battle (the ingest half runs in Celery, arena.generation.run)."""
