"""Plumbing with no protocol knowledge: the HTTP connection pool and socket binding."""
