"""Training: word and character n-gram TF-IDF on the normalised, group-masked text plus
lexicon counts, a multinomial logistic regression for the severity (temperature-scaled on
a calibration split) and one logistic regression per kind on offensive text.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classifiers.datasets import Example
from classifiers.features import PLACEHOLDER, featurise
from classifiers.model import Bundle, softmax
from classifiers.taxonomy import KIND_CODES, SEVERITIES


@dataclass(frozen=True)
class TrainConfig:
    word_max_features: int = 60_000
    char_max_features: int = 80_000
    kind_max_features: int = 30_000
    severity_c: float = 2.0
    kind_c: float = 2.0
    class_balance_power: float = 0.5     # 0 = as sampled, 1 = fully balanced
    # (severity, most its examples may be up-weighted by balancing)
    class_boost_cap: tuple[tuple[str, float], ...] = ()
    lex_scale: float = 1.0
    # n-gram evidence of a longer text is scaled as if it were this long (evidence_scale)
    ngram_words: float | None = 60.0
    max_iter: int = 300
    stack: bool = True
    drop_group_ngrams: bool = True
    stack_c: float = 1.0
    # NB-LR (Wang & Manning 2012): the severity model's n-gram features scaled by their
    # log-count ratio, offensive vs clean, smoothed by nb_alpha. An n-gram met about as often
    # in clean as in offensive text then weighs little whatever its source: leave-one-source-
    # out at the clean-mail bar 0.628 -> 0.654, clean mail never trained on held 0.40 -> 0.10 %
    nb_scale: bool = True
    nb_alpha: float = 5.0


@dataclass
class Prepared:
    texts: list[str]
    norms: list[str]
    masked: list[str]
    lex: np.ndarray


def prepare_all(texts: Sequence[str]) -> Prepared:
    norms, masked, lex = featurise(list(texts))
    return Prepared(list(texts), norms, masked, lex)


def fit_vocabulary(vec: TfidfVectorizer, docs: Sequence[str],
                   drop: Callable[[str], bool] | None = None) -> TfidfVectorizer:
    """`vec.fit(docs)`, keeping its `max_features` most frequent terms as scikit-learn
    does, then without the terms `drop` names. Among terms of equal count it keeps the
    same ones on every machine: the alphabetically first. scikit-learn ranks them with
    numpy's default argsort, whose order among equal keys depends on the CPU's sort
    kernel and numpy's version, so the same data trained different vocabularies on two
    machines (3,541 of the 58,573 word n-grams, 762 of the 30,000 kind n-grams)."""
    count_keys = CountVectorizer().get_params().keys()
    counting = CountVectorizer(**{k: v for k, v in vec.get_params().items()
                                  if k in count_keys and k != "max_features"})
    counting.set_params(dtype=np.int64)
    totals = np.asarray(counting.fit_transform(docs).sum(axis=0)).ravel()
    terms = counting.get_feature_names_out()          # sorted
    keep = np.sort(np.argsort(-totals, kind="stable")[:vec.max_features])
    vocabulary = [t for t in terms[keep].tolist() if not (drop and drop(t))]
    params = vec.get_params()
    params.update(vocabulary=vocabulary, max_features=None, min_df=1)
    return TfidfVectorizer(**params).fit(docs)


def _is_group_term(term: str, all_group_ngrams: bool) -> bool:
    """The bare placeholder (naming a group is no evidence) and, with `all_group_ngrams`,
    every n-gram that contains it ("the xidx", "xidx are")."""
    return term == PLACEHOLDER or (all_group_ngrams and PLACEHOLDER in term.split())


def sample_weights(examples: Sequence[Example], power: float,
                   boost_cap: Sequence[tuple[str, float]] = ()) -> np.ndarray:
    w = np.array([e.weight for e in examples], dtype=np.float64)
    totals: Counter[str] = Counter()
    for e, wi in zip(examples, w, strict=True):
        totals[e.severity] += wi
    mean = sum(totals.values()) / len(totals)
    factor = {s: (mean / totals[s]) ** power for s in totals}
    for severity, cap in boost_cap:
        if severity in factor:
            factor[severity] = min(factor[severity], cap)
    w *= np.array([factor[e.severity] for e in examples])
    return w * (len(w) / w.sum())


def fit(examples: Sequence[Example], config: TrainConfig = TrainConfig(),
        calib: Sequence[Example] = (), log=print) -> Bundle:
    """One core only: the machine is shared, and the gateway's classifier is single-threaded."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _fit(examples, config, calib, log)


def _fit(examples: Sequence[Example], config: TrainConfig, calib: Sequence[Example],
         log) -> Bundle:
    t0 = time.perf_counter()
    p = prepare_all([e.text for e in examples])
    log(f"  prepared {len(examples)} texts in {time.perf_counter() - t0:.0f}s")
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_features=config.word_max_features,
                           sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", dtype=np.float32)
    word = fit_vocabulary(word, p.masked,
                          drop=lambda t: _is_group_term(t, config.drop_group_ngrams))
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=5,
                           max_features=config.char_max_features, sublinear_tf=True,
                           dtype=np.float32)
    char = fit_vocabulary(char, [m.replace(PLACEHOLDER, " ") for m in p.masked])
    kind_word = TfidfVectorizer(ngram_range=(1, 2), min_df=2,
                                max_features=config.kind_max_features, sublinear_tf=True,
                                token_pattern=r"(?u)\b\w+\b", dtype=np.float32)
    offensive = [i for i, e in enumerate(examples) if e.severity != "clean" and e.kinds]
    kind_word = fit_vocabulary(kind_word, [p.norms[i] for i in offensive])

    bundle = Bundle(word=word, char=char, kind_word=kind_word,
                    sev_coef=np.zeros((4, 0), np.float32), sev_intercept=np.zeros(4),
                    temperature=1.0, kind_coef=np.zeros((0, 0), np.float32),
                    kind_intercept=np.zeros(0), kinds=list(KIND_CODES),
                    lex_scale=config.lex_scale, ngram_words=config.ngram_words)
    xs = bundle.severity_features(p.masked, p.lex)
    y = np.array([SEVERITIES.index(e.severity) for e in examples])
    w = sample_weights(examples, config.class_balance_power, config.class_boost_cap)
    n_ngram = xs.shape[1] - p.lex.shape[1]
    ratio = None
    if config.nb_scale:
        ratio = nb_ratio(xs[:, :n_ngram], y > 0, w, config.nb_alpha)
        xs = sp.hstack([xs[:, :n_ngram] @ sp.diags(ratio), xs[:, n_ngram:]], format="csr")
    t1 = time.perf_counter()
    sev = LogisticRegression(C=config.severity_c, max_iter=config.max_iter)
    sev.fit(xs, y, sample_weight=w)
    if ratio is not None:      # the weights of the unscaled features: x.(r*w) = (x*r).w
        sev.coef_[:, :n_ngram] *= ratio
    log(f"  severity model: {xs.shape[1]} features, fitted in {time.perf_counter() - t1:.0f}s")
    coef = np.zeros((4, xs.shape[1]), np.float32)
    intercept = np.zeros(4)
    for j, cls in enumerate(sev.classes_):
        coef[cls] = sev.coef_[j]
        intercept[cls] = sev.intercept_[j]
    missing = set(range(4)) - set(sev.classes_)
    for cls in missing:
        intercept[cls] = -30.0
    bundle.sev_coef, bundle.sev_intercept = coef, intercept

    t2 = time.perf_counter()
    xk = bundle.kind_features([p.norms[i] for i in offensive], p.lex[offensive])
    kcoef = np.zeros((len(KIND_CODES), xk.shape[1]), np.float32)
    kint = np.full(len(KIND_CODES), -30.0)
    for k, code in enumerate(KIND_CODES):
        yk = np.array([code in examples[i].kinds for i in offensive])
        if yk.sum() < 3:
            continue
        wk = np.array([examples[i].weight for i in offensive])
        clf = LogisticRegression(C=config.kind_c, max_iter=config.max_iter)
        clf.fit(xk, yk, sample_weight=wk)
        kcoef[k], kint[k] = clf.coef_[0], clf.intercept_[0]
    bundle.kind_coef, bundle.kind_intercept = kcoef, kint
    log(f"  kind models fitted in {time.perf_counter() - t2:.0f}s")
    lex_model = LogisticRegression(C=1.0, max_iter=config.max_iter)
    lex_model.fit(p.lex, y, sample_weight=w)
    bundle.lex_coef, bundle.lex_intercept = _full(lex_model, p.lex.shape[1])
    if calib and config.stack:
        fit_stacker(bundle, calib, config, log)
    if calib:
        bundle.temperature = fit_temperature(bundle, calib)
        log(f"  temperature {bundle.temperature:.2f} (fitted on {len(calib)} calibration texts)")
    return bundle


def nb_ratio(x, positive: np.ndarray, weights: np.ndarray, alpha: float) -> np.ndarray:
    """Each feature's log-count ratio between positive and negative rows (Wang & Manning
    2012), on presence, weighted as the rows are."""
    present = (x > 0).astype(np.float64).tocsr()
    p = alpha + present.T @ (weights * positive)
    q = alpha + present.T @ (weights * ~positive)
    return np.asarray(np.log(p / p.sum()) - np.log(q / q.sum()), np.float64)


def _full(model: LogisticRegression, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    coef = np.zeros((4, n_features), np.float32)
    intercept = np.full(4, -30.0)
    for j, cls in enumerate(model.classes_):
        coef[cls] = model.coef_[j]
        intercept[cls] = model.intercept_[j]
    return coef, intercept


def fit_stacker(bundle: Bundle, calib: Sequence[Example], config: TrainConfig, log) -> None:
    """Weigh the n-gram model against the lexicon-structure model on held-out text."""
    p = prepare_all([e.text for e in calib])
    z1, z2 = bundle.base_logits(p.masked, p.lex)
    y = np.array([SEVERITIES.index(e.severity) for e in calib])
    stack = LogisticRegression(C=config.stack_c, max_iter=1000)
    stack.fit(np.hstack([z1, z2]), y, sample_weight=sample_weights(
        calib, config.class_balance_power, config.class_boost_cap))
    bundle.stack_coef, bundle.stack_intercept = _full(stack, 8)
    log("  stacker weights (rows clean..gross; n-gram logits | lexicon logits):\n" + "\n".join(
        "    " + " ".join(f"{v:6.2f}" for v in row) for row in bundle.stack_coef))


def fit_temperature(bundle: Bundle, calib: Sequence[Example]) -> float:
    p = prepare_all([e.text for e in calib])
    z = bundle.severity_logits(p.masked, p.lex)
    y = np.array([SEVERITIES.index(e.severity) for e in calib])
    best, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.3), np.log(5.0), 60)):
        prob = softmax(z / t)
        nll = -np.mean(np.log(prob[np.arange(len(y)), y] + 1e-12))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def library_versions() -> dict[str, str]:
    import platform

    import scipy
    import sklearn
    import skops

    return {"python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            "skops": skops.__version__}


def train_and_save(out, examples: list[Example], dropped: dict[str, int],
                   config: TrainConfig = TrainConfig(), log=print) -> dict:
    """`aupgate model train`: fit on `examples` (`load_all`'s deduplicated, split data;
    `dropped` its duplicate counts, for the card), calibrate, evaluate on dev, save."""
    import datetime as dt
    from dataclasses import asdict

    from classifiers import modelfile
    from classifiers.datasets import MAPPING, REAL_SOURCES
    from classifiers.evaluate import HOLD_THRESHOLDS, hold_rates, report

    t0 = time.perf_counter()
    train = [e for e in examples if e.split == "train"]
    calib = [e for e in examples if e.split == "calib"]
    dev = [e for e in examples if e.split == "dev"]
    bundle = fit(train, config, calib, log=log)
    metrics = {}
    for source in REAL_SOURCES:
        metrics[source] = report(bundle, [e for e in dev if e.source == source], source)
    ham_dev = [e for e in dev if e.source == "spamassassin_ham"]
    metrics["clean_mail_hold"] = hold_rates(bundle, ham_dev, HOLD_THRESHOLDS)
    sizes: dict[str, dict[str, int]] = {}
    for e in examples:
        row = sizes.setdefault(e.source, {})
        key = f"{e.split}:{e.severity}"
        row[key] = row.get(key, 0) + 1
    card = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "train_config": asdict(config),
        "mapping": MAPPING,
        "sizes": sizes,
        "duplicates_dropped": dropped,
        "temperature": bundle.temperature,
        "dev_metrics": metrics,
        "training_seconds": round(time.perf_counter() - t0),
        "authored_note": "classifiers/authored/*.jsonl is project-written, train-only, never "
                         "evaluated on.",
    }
    return modelfile.save(bundle, out, card)
