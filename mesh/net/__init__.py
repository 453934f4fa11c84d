"""The wire: ZeroMQ CURVE transport, ZAP allowlist, mDNS discovery, and the message schema.

The only package of the project that opens sockets. Must never import:
``mesh.node``, ``mesh.client``, the apps, or the store.
"""
