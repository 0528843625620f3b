"""What users write: evalkit.yaml, suites, cases and templates (pydantic, extra="forbid")."""
