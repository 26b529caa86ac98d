"""Passage vectors kept between index builds, keyed by model and text.

Embedding the whole corpus takes about a quarter of an hour on this 2-core
machine; a corpus edit or a new statute directory changes a few hundred
passages. Keeping each vector under the hash of (model, kind, text) makes
every rebuild after the first embed only what changed.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

CHUNK = 500


def model_identity(name: str) -> str:
    """A local model folder is identified by where it really lives (make keeps
    one folder per converter version); a hub name by itself."""
    return os.path.realpath(name) if os.path.exists(name) else name


EMBED_PART = 2048  # texts embedded and committed at a time


class EmbeddingCache:
    def __init__(self, path: Path, model: str, kind: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self._prefix = f"{model_identity(model)}\x1f{kind}\x1f"

    def key(self, text: str) -> str:
        return hashlib.sha256((self._prefix + text).encode("utf-8")).hexdigest()[:32]

    def vectors(
        self, texts: Sequence[str], embed: Callable[[list[str]], np.ndarray], report: TextIO | None = None
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, embedding only those not cached; (vectors, how many embedded).
        With `report`, one line per part: how far, and an estimate of the time left
        (the model's own progress bar restarts with every part)."""
        keys = [self.key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        # committed a part at a time: an interrupted first build (about ten minutes
        # on the full corpus) keeps what it embedded, and the next one resumes
        began = time.monotonic()
        if report is not None and missing:
            print(
                f"embedding {len(missing)} of {len(keys)} texts ({len(keys) - len(missing)} cached; "
                "an interrupted build resumes from here)",
                file=report,
                flush=True,
            )
        for start in range(0, len(missing), EMBED_PART):
            part = missing[start : start + EMBED_PART]
            fresh = embed([texts[i] for i in part])
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(keys[i], fresh[j].astype(np.float32).tobytes()) for j, i in enumerate(part)],
                )
            for j, i in enumerate(part):
                found[keys[i]] = fresh[j].astype(np.float32)
            if report is not None:
                print(progress_line(start + len(part), len(missing), time.monotonic() - began), file=report, flush=True)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), np.float32), len(missing)

    def close(self) -> None:
        self._db.close()


def progress_line(done: int, total: int, elapsed_s: float) -> str:
    """「embedded 4096/25253 (16 %), 2.1 min so far, about 11 min left」."""
    left = elapsed_s / done * (total - done) if done else 0.0
    return (
        f"embedded {done}/{total} ({100 * done // max(total, 1)} %), {elapsed_s / 60:.1f} min so far, "
        f"about {max(1, round(left / 60)) if done < total else 0} min left"
    )
