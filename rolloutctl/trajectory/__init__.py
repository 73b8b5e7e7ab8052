"""Trajectory files: the document, its builder from events, foreign formats, summary, view."""
