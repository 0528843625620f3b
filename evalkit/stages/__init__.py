"""The stages of a run in data-flow order: plan, retrieve, execute, scoring, conclude."""
