"""Scoring: rating maths, leaderboard snapshots, Celery recomputes and websocket pushes of the boards."""
