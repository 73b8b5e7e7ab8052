"""One module per command; each function turns options into library calls."""
