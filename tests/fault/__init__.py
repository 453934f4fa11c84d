"""Fault injection for tablemesh: a nemesis on real node processes and a checker of histories.

``harness`` runs a site in network namespaces with clients recording a history,
``nemesis`` applies a seeded fault schedule, ``checker`` and ``linearizability``
judge the history and the final states. ``soak`` runs many seeds from the command
line. See docs/testing.md.
"""
