"""`rolloutctl validate`: static checks of an agent and one dry rollout."""
