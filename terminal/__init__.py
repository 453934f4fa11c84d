"""The server's touchscreen app (Kivy): PIN login, floor, checks, payments.

Views hold no business rules and read only from ``mesh.client``. Must never
import: ``mesh.raft``, ``mesh.net``, ``mesh.node``, ``mesh.ledger`` internals or the store.
"""
