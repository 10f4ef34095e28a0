"""The arena: catalogue of systems, prompts and clips, audio ingest, battles, votes and the rater's page."""
