"""S3 operations, one module per area; server/routes.py maps requests to them."""
