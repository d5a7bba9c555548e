"""The severity model is fitted on n-gram features scaled by their log-count ratio (NB-LR)
and saved as weights on the unscaled features: scoring must give what the model fitted on
the scaled features gives."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from classifiers.datasets import Example
from classifiers.taxonomy import SEVERITIES
from classifiers.train import TrainConfig, fit, nb_ratio, prepare_all, sample_weights
from tests.classifiers.test_classifier_modelfile import TEXTS


def test_ratio_favours_what_is_met_in_offensive_text():
    #                 only offensive, only clean, both, neither
    x = sp.csr_matrix(np.array([[1, 0, 1, 0], [1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0.0]]))
    positive = np.array([True, True, False, False])
    r = nb_ratio(x, positive, np.ones(4), alpha=1.0)
    # presence counts + 1: offensive (3, 1, 3, 1) of 8, clean (1, 3, 3, 1) of 8
    np.testing.assert_allclose(r, np.log([3.0, 1 / 3, 1.0, 1.0]))
    weighted = nb_ratio(x, positive, np.array([3.0, 3.0, 1.0, 1.0]), alpha=1.0)
    assert weighted[0] > r[0]       # rows count as much as they weigh


def test_scores_are_those_of_the_model_fitted_on_scaled_features():
    examples = [Example(t, "test", s, k, s) for t, s, k in TEXTS] * 3
    config = TrainConfig(word_max_features=500, char_max_features=500, kind_max_features=200,
                         max_iter=50, stack=False)
    assert config.nb_scale
    bundle = fit(examples, config, log=lambda *_: None)

    p = prepare_all([e.text for e in examples])
    xs = bundle.severity_features(p.masked, p.lex)
    n_ngram = xs.shape[1] - p.lex.shape[1]
    y = np.array([SEVERITIES.index(e.severity) for e in examples])
    w = sample_weights(examples, config.class_balance_power, config.class_boost_cap)
    ratio = nb_ratio(xs[:, :n_ngram], y > 0, w, config.nb_alpha)
    scaled = sp.hstack([xs[:, :n_ngram] @ sp.diags(ratio), xs[:, n_ngram:]], format="csr")
    reference = LogisticRegression(C=config.severity_c, max_iter=config.max_iter)
    reference.fit(scaled, y, sample_weight=w)

    z1, _ = bundle.base_logits(p.masked, p.lex)
    np.testing.assert_allclose(z1, reference.decision_function(scaled), atol=1e-4)
    assert np.abs(ratio).max() > 0.5        # the scaling did something to compare
