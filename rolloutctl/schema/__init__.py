"""JSON Schema of tools: lint findings and argument generation, shared by check and validate."""
