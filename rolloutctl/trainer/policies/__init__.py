"""Mock-trainer policies: who answers the chat calls. One module per policy."""
