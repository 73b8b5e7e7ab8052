"""`rolloutctl check`: protocol conformance of any running server, judged from outside."""
