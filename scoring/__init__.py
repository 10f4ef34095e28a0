"""Scoring: rating maths, leaderboard snapshots, Celery recomputes, websocket pushes and the reward model."""
