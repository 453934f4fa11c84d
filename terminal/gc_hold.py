"""Garbage collection held off while a tap's change is on its way to the screen.

The node runs in the app's process, and its allocations set off collections at
any moment: a young one costs a fraction of a millisecond, an older one tens,
and a full one with the day's ledger hundreds, with every thread of the process
stopped. Between a tap and the frame that shows its line, ``GcHold`` keeps
automatic collection off; it comes back once that frame is drawn, or after
``HOLD_MAX_S`` whatever happens, and the collections that were due run then.
No Kivy here: the app says when to hold and when a frame has been drawn.
"""

from __future__ import annotations

import gc
from typing import Protocol

HOLD_MAX_S = 1.0  # s: the longest collection stays off for one tap (a line that never comes)


class Collector(Protocol):
    def isenabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...


class GcHold:
    def __init__(self, collector: Collector = gc) -> None:
        self._gc = collector
        self.held = False  # collection is off because of this hold (not someone else's)

    def hold(self) -> bool:
        """Turn automatic collection off (if on); True when this call turned it off."""
        if self.held or not self._gc.isenabled():
            return False
        self._gc.disable()
        self.held = True
        return True

    def release(self) -> None:
        """Turn it back on, if this hold turned it off."""
        if self.held:
            self.held = False
            self._gc.enable()
