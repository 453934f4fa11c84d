"""The reference back office: check numbers, posted checks, catalog (HTTP + SQLAlchemy).

A separate service the leader syncs with. Must never import ``mesh`` internals
(it shares only the documented HTTP contract) nor the apps.
"""
