"""Retrieval-augmented generation as variant settings: corpus ingestion, an embedded index,
BM25 / dense / hybrid retrievers (and custom ones), rendered into each case's prompt."""
