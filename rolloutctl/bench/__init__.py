"""`rolloutctl bench`: a closed-loop load generator and its report."""
