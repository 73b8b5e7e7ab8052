"""Plumbing with no protocol knowledge: the HTTP pool, a lean HTTP server, socket binding."""
