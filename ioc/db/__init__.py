"""Database access: migrations and the queries shared by the API and the processor."""
