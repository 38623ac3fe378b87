"""The stream processor: Kafka micro-batches in, idempotent database state and KPIs out."""
