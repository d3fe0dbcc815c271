"""The HTTP layer: routers, schemas, authentication and error mapping."""
