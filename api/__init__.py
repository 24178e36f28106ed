"""The storefront HTTP API (Flask application factory + blueprints) and its Python client."""
