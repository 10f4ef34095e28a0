"""Annotation campaigns: invited raters, assignments, gold pairs, rater quality and dataset exports."""
