"""The fitted TF-IDF model, kept on disk between runs: the ranker's only disk I/O.

Fitting reads every stored paper, so it is done once per corpus: the file records the
corpus fingerprint it was fitted on (the caller's, e.g. ``"<count>:<max rowid>:<hash>"``),
the scikit-learn version and the vectorizer recipe, and is reused while all three match.
It is written atomically (a temporary file in the same folder, then ``os.replace``), so a
crash leaves the old model or the new one, never half of one. A file that cannot be read
(corrupt, truncated, from another scikit-learn) is refitted and replaced, never fatal.
The file is a joblib pickle: only load cache folders that digest itself wrote. May import
:mod:`digest.files` (every write goes through it) and the vectorizing recipe.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

from ..files import make_private_dir, write_atomically_with
from .vectorizing import build_vectorizer, fit_model

log = logging.getLogger(__name__)

CACHE_FILE = "tfidf.joblib"
FORMAT = 2  # 2: the model keeps the corpus term frequencies


def _recipe() -> str:
    """The vectorizer's settings: a new digest that changes them must not reuse old fits."""
    return repr(sorted(build_vectorizer().get_params().items()))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with warnings.catch_warnings():
            # A pickle from another scikit-learn warns; the version check below refits it.
            warnings.simplefilter("ignore")
            payload = joblib.load(path)
    except FileNotFoundError:
        return None
    except Exception as exc:  # any unreadable cache is only a cache miss
        log.warning("%s: cannot read the cached model (%s); fitting a new one", path, exc)
        return None
    old = isinstance(payload, dict) and isinstance(payload.get("format"), int)
    if old and payload["format"] < FORMAT:  # expected once after an upgrade: no warning
        log.info("%s: a model of an older digest; fitting a new one", path)
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        log.warning("%s: not a digest model file; fitting a new one", path)
        return None
    return payload


def _write(path: Path, payload: dict[str, Any]) -> None:
    write_atomically_with(path, lambda out: joblib.dump(payload, out), fsync=True)


def load_or_fit(
    cache_dir: Path, fingerprint: str, texts: Callable[[], Sequence[str]]
) -> TfidfVectorizer:
    """The TF-IDF model for the corpus ``fingerprint``: cached, or fitted on ``texts()``.

    ``texts`` is only called when a fit is needed. A cache that cannot be written (a
    read-only folder, a full disk) is logged and the freshly fitted model returned.
    """
    path = Path(cache_dir) / CACHE_FILE
    recipe = _recipe()
    payload = _read(path)
    if (
        payload is not None
        and payload.get("fingerprint") == fingerprint
        and payload.get("sklearn") == sklearn.__version__
        and payload.get("recipe") == recipe
        and isinstance(payload.get("model"), TfidfVectorizer)
    ):
        model: TfidfVectorizer = payload["model"]
        return model
    model = fit_model(texts())
    try:
        make_private_dir(path.parent)
        _write(
            path,
            {
                "format": FORMAT,
                "fingerprint": fingerprint,
                "sklearn": sklearn.__version__,
                "recipe": recipe,
                "model": model,
            },
        )
    except OSError as exc:
        log.warning(
            "%s: cannot save the fitted model (%s); it will be refitted next run", path, exc
        )
    return model
