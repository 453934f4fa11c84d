"""The narrow, thread-safe API the apps and ``ctl`` use: submit, query, watch.

Must never import: the apps. The apps import this package and nothing else of
``mesh`` (never ``mesh.raft``, ``mesh.net`` or ``mesh.node`` directly).
"""
