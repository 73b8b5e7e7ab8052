# rolloutctl completion for bash: `rolloutctl completions bash` prints it.
# At each TAB it runs `rolloutctl` (found on PATH) to ask for the completions.
# Commands when generated: bench, check, completions, diff, eval, export, init, mock-trainer, replay, serve, try, validate, view, watch

_rolloutctl_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _ROLLOUTCTL_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _rolloutctl_completion rolloutctl
