"""Raft as a pure, deterministic state machine (in the style of etcd-io/raft).

The caller drives everything: ``tick()``, ``step(msg)``, ``propose(data)``, then
``ready()`` hands back what to persist, what to send (only after persisting) and
what to apply; ``advance()`` acknowledges it.

Must never import: anything else of this project, sockets, asyncio, threading,
time, random, sqlite3 or any other I/O. Randomness is injected by the caller.
(The simulator in ``mesh.raft.sim`` is a test harness beside the core: it seeds
its own RNG and the core never imports it.)
"""
