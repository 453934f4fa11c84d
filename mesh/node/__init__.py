"""The asyncio driver of one device: tick, persist, send, apply, forward; the SQLite store.

Wires ``raft``, ``ledger``, ``net`` and ``sync`` on one loop and serves the
local control socket. Must never import: ``mesh.client`` or the apps.
"""
