"""Saving and loading the model: skops (never pickle), a model card, and checks.

The skops file holds only plain data: numbers, strings, lists, dicts and numpy arrays.
The fitted vectorizers are stored as their settings, vocabulary and IDF weights and
rebuilt on load, so loading needs no scikit-learn object to be trusted at all.
`TRUSTED_TYPES` is the complete list of types a model file may contain: before
anything is loaded, every node of the file's skops schema is checked against it, and
a file holding any other type (even one skops itself would trust) is refused.

Beside `model.skops` sits `model.card.json`: format version, the SHA-256 of the skops
file, the taxonomy it was trained for, data, mapping, sizes, metrics, date and library
versions. `load` refuses a file whose card is missing, whose hash does not match,
whose format version differs, whose taxonomy is not the running one, or whose features
were other word lists and patterns than the running code's (`features.fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from classifiers.features import LEX_NAMES, fingerprint
from classifiers.model import Bundle
from classifiers.taxonomy import KIND_CODES, SEVERITIES

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

# skops and scikit-learn are imported where a model is read or written, not at import:
# every `aupgate` command imports this module for its paths, and skops pulls in
# scikit-learn's array-API shims, which import PyTorch whenever it is installed (seconds).

FORMAT_VERSION = 2
TRUSTED_TYPES: frozenset[str] = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int",
    "builtins.float", "builtins.bool", "numpy.ndarray"})
_SEP = "\x1f"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = PROJECT_ROOT / "models" / "appendix1.skops"


class ModelFileError(Exception):
    """A model file that must not be used; str() says why."""


def card_path(path: Path) -> Path:
    return path.with_suffix(".card.json")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pack_vectorizer(vec: TfidfVectorizer) -> dict[str, Any]:
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    return {"analyzer": vec.analyzer, "ngram_range": list(vec.ngram_range),
            "token_pattern": vec.token_pattern, "sublinear_tf": bool(vec.sublinear_tf),
            "lowercase": bool(vec.lowercase), "terms": _SEP.join(terms),
            "idf": np.asarray(vec.idf_, dtype=np.float32)}


def _unpack_vectorizer(d: dict[str, Any]) -> TfidfVectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    terms = d["terms"].split(_SEP) if d["terms"] else []
    vec = TfidfVectorizer(analyzer=d["analyzer"], ngram_range=tuple(d["ngram_range"]),
                          token_pattern=d["token_pattern"], sublinear_tf=d["sublinear_tf"],
                          lowercase=d["lowercase"], vocabulary=terms, dtype=np.float32)
    vec._validate_vocabulary()
    vec.idf_ = np.asarray(d["idf"], dtype=np.float64)
    return vec


def _schema_types(path: Path) -> set[str]:
    """Every `module.class` named in a skops file's schema, without loading anything."""
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__class__" in node and "__module__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


def pack(bundle: Bundle) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "severities": list(SEVERITIES),
            "lexicon_features": list(LEX_NAMES),
            "kinds": list(bundle.kinds),
            "word": _pack_vectorizer(bundle.word), "char": _pack_vectorizer(bundle.char),
            "kind_word": _pack_vectorizer(bundle.kind_word),
            "sev_coef": bundle.sev_coef.astype(np.float32),
            "sev_intercept": np.asarray(bundle.sev_intercept, np.float64),
            "temperature": float(bundle.temperature),
            "kind_coef": bundle.kind_coef.astype(np.float32),
            "kind_intercept": np.asarray(bundle.kind_intercept, np.float64),
            "lex_scale": float(bundle.lex_scale),
            "ngram_words": float(bundle.ngram_words or 0.0),
            "lex_coef": np.asarray(bundle.lex_coef, np.float32),
            "lex_intercept": np.asarray(bundle.lex_intercept, np.float64),
            "stack_coef": np.asarray(bundle.stack_coef if bundle.stack_coef is not None
                                     else _identity_stack(), np.float32),
            "stack_intercept": np.asarray(bundle.stack_intercept if bundle.stack_intercept
                                          is not None else np.zeros(4), np.float64)}


def _identity_stack() -> np.ndarray:
    return np.hstack([np.eye(4), np.zeros((4, 4))])


def unpack(d: dict[str, Any]) -> Bundle:
    return Bundle(word=_unpack_vectorizer(d["word"]), char=_unpack_vectorizer(d["char"]),
                  kind_word=_unpack_vectorizer(d["kind_word"]),
                  sev_coef=np.asarray(d["sev_coef"], np.float32),
                  sev_intercept=np.asarray(d["sev_intercept"]),
                  temperature=float(d["temperature"]),
                  kind_coef=np.asarray(d["kind_coef"], np.float32),
                  kind_intercept=np.asarray(d["kind_intercept"]),
                  kinds=list(d["kinds"]), lex_scale=float(d["lex_scale"]),
                  ngram_words=float(d["ngram_words"]) or None,
                  lex_coef=np.asarray(d["lex_coef"], np.float32),
                  lex_intercept=np.asarray(d["lex_intercept"]),
                  stack_coef=np.asarray(d["stack_coef"], np.float32),
                  stack_intercept=np.asarray(d["stack_intercept"]))


def save(bundle: Bundle, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write the skops file and its card; returns the card as written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import skops.io as sio

    sio.dump(pack(bundle), path, compression=zipfile.ZIP_DEFLATED)
    card = dict(card)
    card.update(format_version=FORMAT_VERSION, model_file=path.name, sha256=sha256_of(path),
                severities=list(SEVERITIES), kinds=list(bundle.kinds),
                lexicon_features=list(LEX_NAMES), feature_fingerprint=fingerprint(),
                size_bytes=path.stat().st_size)
    card_path(path).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n",
                               encoding="utf-8")
    return card


def read_card(path: Path) -> dict[str, Any]:
    cp = card_path(Path(path))
    try:
        return json.loads(cp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{cp}: model card missing; refusing {path}") from None
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{cp}: model card is not valid JSON: {e}") from None


def load(path: Path | str | None = None) -> tuple[Bundle, dict[str, Any]]:
    """Verify the card and hash, refuse untrusted types, and rebuild the model."""
    path = Path(path or DEFAULT_MODEL)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    card = read_card(path)
    if card.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: card format version {card.get('format_version')!r}, "
                             f"this code reads {FORMAT_VERSION}")
    if card.get("sha256") != sha256_of(path):
        raise ModelFileError(f"{path}: SHA-256 does not match its model card (tampered or "
                             "replaced); refusing to load it")
    if card.get("kinds") != list(KIND_CODES) or card.get("severities") != list(SEVERITIES):
        raise ModelFileError(f"{path}: trained for a different Appendix I taxonomy")
    if (card.get("lexicon_features") != list(LEX_NAMES)
            or card.get("feature_fingerprint") != fingerprint()):
        raise ModelFileError(f"{path}: trained with different lexicon features (word lists "
                             "or patterns); retrain it")
    import skops.io as sio

    try:
        types = _schema_types(path) | set(sio.get_untrusted_types(file=path))
    except Exception as e:  # noqa: BLE001 - a corrupt zip or schema
        raise ModelFileError(f"{path}: not a readable skops file: {e}") from None
    unexpected = sorted(types - TRUSTED_TYPES)
    if unexpected:
        raise ModelFileError(f"{path}: holds types that are not trusted: {unexpected}")
    try:
        data = sio.load(path, trusted=sorted(types))
    except Exception as e:  # noqa: BLE001
        raise ModelFileError(f"{path}: could not be loaded: {e}") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: not an aupgate model of format {FORMAT_VERSION}")
    return unpack(data), card
