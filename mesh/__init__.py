"""tablemesh's mesh: everything a device runs to stay consistent with the rest of the floor.

Sub-packages, top to bottom: ``client`` (what apps and ``ctl`` call), ``node``
(the asyncio driver), and below it ``raft`` (pure consensus), ``ledger`` (the pure
restaurant), ``net`` (the only code that opens sockets) and ``sync`` (the
leader's cloud agent). Arrows point down only.
"""
