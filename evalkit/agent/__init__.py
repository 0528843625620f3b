"""Tool calls, agent loops and traces: evaluating LLM systems, not just single model calls."""
