"""The blocks of evalkit.yaml that belong to one feature (rag:, history:): pydantic, extra="forbid"."""
