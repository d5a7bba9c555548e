"""The installed model, picked up again when `aupgate model retrain` or `rollback` replaces it.

`ModelWatcher.current()` is called once per message: at most every `interval` seconds
it looks at the model file and its card (size and mtime). When they changed, the new
model is loaded in a worker thread while messages go on using the one they have; once
loaded (card and hash checked as at start), the next message gets it. A file that
cannot be loaded (half moved, tampered) keeps the current model and is logged; a later
change is tried again. No connection is dropped and no message sees half a model.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from classifiers.modelfile import ModelFileError, card_path

log = logging.getLogger(__name__)


def _signature(path: Path) -> tuple:
    out = []
    for p in (path, card_path(path)):
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


class ModelWatcher:
    def __init__(self, path: Path | str, model: Any, load: Callable[[Path], Any],
                 interval: float = 2.0) -> None:
        self.path = Path(path)
        self.model = model
        self.load = load
        self.interval = interval
        self._signature = _signature(self.path)
        self._checked = time.monotonic()
        self._loading: asyncio.Task | None = None
        self.reloads = 0

    def current(self) -> Any:
        now = time.monotonic()
        if now - self._checked >= self.interval and self._loading is None:
            self._checked = now
            signature = _signature(self.path)
            if signature != self._signature:
                self._loading = asyncio.get_running_loop().create_task(
                    self._reload(signature), name="model-reload")
        return self.model

    async def _reload(self, signature: tuple) -> None:
        try:
            model = await asyncio.to_thread(self.load, self.path)
        except (ModelFileError, OSError) as e:
            log.warning("model file changed but cannot be used yet; keeping the current "
                        "model: %s", e)
        else:
            self.model = model      # one assignment: the next message uses it
            self._signature = signature
            self.reloads += 1
            log.info("loaded the newly installed model %s", self.path)
        finally:
            self._loading = None
