# rolloutctl completion for fish: `rolloutctl completions fish` prints it.
# At each TAB it runs `rolloutctl` (found on PATH) to ask for the completions.
# Commands when generated: bench, check, completions, diff, eval, export, init, mock-trainer, replay, serve, try, validate, view, watch

complete --command rolloutctl --no-files --arguments "(env _ROLLOUTCTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) rolloutctl)" --condition "env _ROLLOUTCTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) rolloutctl"
