"""Embedded runtime: a PostgreSQL and a Kafka-compatible broker that `ioc up` starts itself."""
