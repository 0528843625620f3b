"""Model backends. Each module imports its heavy dependency only when used."""
