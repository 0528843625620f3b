"""Tool calls and traces: wire formats, expectations, rendering and step figures."""
