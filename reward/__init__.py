"""The reward model as an app: versions, clip scores, suggestions, agreement reports; reward/ml/ is pure torch."""
