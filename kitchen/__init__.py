"""The kitchen display screen (Kivy): tickets by station, bump, recall, all-day counts.

Views hold no business rules and read only from ``mesh.client``. Must never
import: ``mesh.raft``, ``mesh.net``, ``mesh.node``, ``mesh.ledger`` internals or the store.
"""
