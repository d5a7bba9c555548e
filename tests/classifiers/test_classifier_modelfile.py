"""The model file round-trips through skops; a tampered or foreign file is refused."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
import skops.io as sio

from classifiers import modelfile
from classifiers.datasets import Example
from classifiers.modelfile import ModelFileError
from classifiers.train import TrainConfig, fit

TEXTS = [("what a lovely day for a picnic", "clean", ()),
         ("see you at the staff meeting", "clean", ()),
         ("thanks for the report, all fine", "clean", ()),
         ("you are a fucking idiot", "serious", ("bad_language",)),
         ("shut the fuck up you prick", "serious", ("bad_language",)),
         ("what a load of shit", "serious", ("bad_language",)),
         ("forward this to ten people or bad luck", "mild", ("chain_letter",)),
         ("send this chain letter on to all your friends", "mild", ("chain_letter",)),
         ("pass it on or you will have bad luck", "mild", ("chain_letter",)),
         ("kill all of them, vermin", "gross", ("inciting",)),
         ("they are subhuman vermin, exterminate them", "gross", ("inciting",)),
         ("burn them all, scum", "gross", ("inciting",))]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    examples = [Example(t, "test", s, k, s) for t, s, k in TEXTS] * 3
    config = TrainConfig(word_max_features=500, char_max_features=500, kind_max_features=200,
                         max_iter=50)
    bundle = fit(examples, config, log=lambda *_: None)
    path = tmp_path_factory.mktemp("model") / "tiny.skops"
    modelfile.save(bundle, path, {"note": "test"})
    return bundle, path


def test_round_trip_scores_identically(tiny):
    bundle, path = tiny
    loaded, card = modelfile.load(path)
    # the last is long enough for its n-gram evidence to be scaled
    texts = ["you are a fucking idiot", "lovely picnic", "what a load of shit today " * 30]
    assert loaded.ngram_words == bundle.ngram_words == TrainConfig().ngram_words
    np.testing.assert_allclose(bundle.score(texts)[0], loaded.score(texts)[0], atol=1e-5)
    assert card["note"] == "test" and card["sha256"] == modelfile.sha256_of(path)


def test_tampered_file_is_refused(tiny, tmp_path):
    _, path = tiny
    bad = tmp_path / "tiny.skops"
    shutil.copy(path, bad)
    shutil.copy(modelfile.card_path(path), modelfile.card_path(bad))
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="SHA-256"):
        modelfile.load(bad)


def test_missing_or_mismatched_card_is_refused(tiny, tmp_path):
    _, path = tiny
    bad = tmp_path / "tiny.skops"
    shutil.copy(path, bad)
    with pytest.raises(ModelFileError, match="card missing"):
        modelfile.load(bad)
    card = json.loads(modelfile.card_path(path).read_text())
    card["format_version"] = 999
    modelfile.card_path(bad).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="format version"):
        modelfile.load(bad)
    card = json.loads(modelfile.card_path(path).read_text())
    card["kinds"] = card["kinds"][:-1]
    modelfile.card_path(bad).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="taxonomy"):
        modelfile.load(bad)
    card = json.loads(modelfile.card_path(path).read_text())
    card["feature_fingerprint"] = "0" * 64        # trained with other word lists
    modelfile.card_path(bad).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="lexicon features"):
        modelfile.load(bad)


def test_the_fingerprint_changes_with_a_word_list(monkeypatch):
    from classifiers import features, lexicon

    before = features.fingerprint()
    monkeypatch.setattr(lexicon, "THREAT", lexicon.THREAT + ("smite",))
    assert features.fingerprint() != before


def test_untrusted_types_are_refused_even_with_a_matching_card(tmp_path):
    from sklearn.linear_model import LogisticRegression

    evil = tmp_path / "evil.skops"
    sio.dump({"format_version": modelfile.FORMAT_VERSION, "x": LogisticRegression()}, evil,
             compression=zipfile.ZIP_DEFLATED)
    from classifiers.features import LEX_NAMES, fingerprint
    from classifiers.taxonomy import KIND_CODES, SEVERITIES
    modelfile.card_path(evil).write_text(json.dumps({
        "format_version": modelfile.FORMAT_VERSION, "sha256": modelfile.sha256_of(evil),
        "kinds": list(KIND_CODES), "severities": list(SEVERITIES),
        "lexicon_features": list(LEX_NAMES), "feature_fingerprint": fingerprint()}))
    with pytest.raises(ModelFileError, match="not trusted"):
        modelfile.load(evil)


def test_committed_model_matches_its_card(classifier):
    assert classifier.card["sha256"] == modelfile.sha256_of(modelfile.DEFAULT_MODEL)
    assert modelfile.DEFAULT_MODEL.stat().st_size < 15_000_000


def test_class_balancing_boosts_rare_severities_up_to_their_cap():
    from classifiers.train import sample_weights

    examples = ([Example("c", "test", "clean", (), "clean")] * 90
                + [Example("m", "test", "mild", (), "mild")] * 10)
    w = sample_weights(examples, power=1.0)
    assert w[-1] / w[0] == pytest.approx(9.0)              # fully balanced: 90 / 10
    capped = sample_weights(examples, power=1.0, boost_cap=(("mild", 1.0),))
    assert capped[-1] / capped[0] == pytest.approx(90 / 50)   # mild as sampled, clean still cut
    assert capped.sum() == pytest.approx(len(examples))
