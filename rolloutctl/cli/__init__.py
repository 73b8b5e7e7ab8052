"""The `rolloutctl` command: the Typer `app`, shared `options`, one module per command in
`commands/`, and exit handling in `core`."""
