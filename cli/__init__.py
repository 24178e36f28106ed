"""The ``shelfrank`` command: a face over the layers below, holding no logic of its own."""
