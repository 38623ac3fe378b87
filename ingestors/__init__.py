"""Ingestors: take what source systems send, validate and normalise it, put it on Kafka."""
