"""Doors to the tools teams already use: the pytest plugin, OpenTelemetry, MLflow, the GitHub
pull-request comment and importers of other tools' configs."""
