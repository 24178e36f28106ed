"""Who may do what: console users and roles, shop API keys, the audit log and login throttling.

Shared core, below every face: the admin console logs people in with it, the HTTP API checks keys
with it, and the CLI creates the first admin with it.
"""
