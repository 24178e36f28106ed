"""Shared core: settings, the metadata database and the OpenSearch client.

The bottom layer: everything may import it, it imports nothing of Shelfrank's.
"""
