"""The admin console: a Flask app where search engineers and merchandisers see, tune and trust ranking."""
