from __future__ import annotations

import pytest

from classifiers.inference import Classifier
from classifiers.modelfile import DEFAULT_MODEL


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    """The committed model (models/appendix1.skops), card and hash checked."""
    return Classifier.load(DEFAULT_MODEL)
