"""Mock-trainer policies: who answers the chat calls, and the registry that builds them by name."""
