"""The one error type of the local node: its message is shown to the user as is."""


class NodeError(RuntimeError):
    """Something the user can act on (port taken, JDK missing, download failed...)."""
