"""`rolloutctl eval`: one agent over a dataset, with results kept in a run directory."""
