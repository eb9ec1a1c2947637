"""Memory: keep long-lived stream objects out of the garbage collector's full passes.

At 10,000 streams a full collection walks every stream's objects (~100 ms on our 2-core box,
docs/benchmarks.md), and CPython runs one each time the long-lived objects grow by a quarter,
so a burst of connections causes a series of stalls. Freezing (``gc.freeze``) moves what
exists into a generation the collector never scans. Frozen objects that later become cyclic
garbage (a closed stream's) are only reclaimed after ``gc.unfreeze``, so after heavy churn we
unfreeze once and let the next full collection reclaim them.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

GROWTH = 0.10  # freeze again once streams grew by this fraction since the last freeze
CHURN = 0.50  # unfreeze once this fraction of the open streams closed since the last unfreeze


class FreezePolicy:
    def __init__(self) -> None:
        self._frozen_at = 0
        self._closed_at_unfreeze = 0

    def tick(self, open_streams: int, closed_total: int) -> None:
        """Called about once a second with the open streams and all streams ever closed."""
        churned = closed_total - self._closed_at_unfreeze
        if churned > max(CHURN * open_streams, 1000):
            gc.unfreeze()
            self._closed_at_unfreeze = closed_total
            self._frozen_at = 0
            logger.debug("unfroze the heap after %d closed streams", churned)
        elif open_streams > self._frozen_at * (1 + GROWTH) + 100:
            gc.freeze()
            self._frozen_at = open_streams
