"""The `rolloutctl` command: option parsing (`definition`) and exit handling (`core`)."""
