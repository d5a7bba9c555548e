"""Labels that retrain: `aupgate model retrain` and `rollback`, and a running gateway that
picks up the new model between two messages on one SMTP connection.

The base and held-out data here are small generated sets (tests/reports/retraindata.py)
trained with `--small`: a full retrain on ../shared/data takes minutes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.reports import retraindata
from tests.support import (
    STAFF,
    audit_actions,
    import_directory,
    in_store,
    make_message,
    run_aupgate,
    traces,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
pytest.importorskip("classifiers.train", reason="the classifier (issue 5) is not merged yet")
pytest.importorskip("quarantine.store.reviews", reason="the web app (issue 6) is not merged yet")


@pytest.fixture
def store_url(tmp_path):
    """SQLite only: what these tests exercise is the model file, not the store."""
    return f"sqlite+aiosqlite:///{tmp_path / 'aupgate.db'}"


def add_labels(store_url: str, texts: list[str], severity: str) -> None:
    from quarantine.store.reviews import Label

    async def work(session):
        for text in texts:
            session.add(Label(kind="corrected", category="content", severity=severity,
                              text=text, labelled_by="head",
                              labelled_at=datetime.now(UTC)))
    in_store(store_url, work)


def labels(store_url: str) -> list:
    from quarantine.store.reviews import Label

    async def work(session):
        return list((await session.scalars(select(Label).order_by(Label.id))).all())
    return in_store(store_url, work)


def classify(config: Path, model: Path, text: str) -> dict:
    """What the installed model says (in-process: `aupgate classify` runs the same code)."""
    from classifiers.inference import Classifier

    [result] = Classifier.load(model).score([text])
    return {"severity": result.severity, "probability": result.probability}


@pytest.fixture
def retrain_env(tmp_path):
    from quarantine.store import open_store

    store_url = f"sqlite+aiosqlite:///{tmp_path / 'aupgate.db'}"

    async def upgrade():
        await (await open_store(store_url)).close()
    asyncio.run(upgrade())
    base, heldout = retraindata.write(tmp_path / "data")
    config = write_config(tmp_path / "gateway.toml", {"store.url": store_url})
    model = tmp_path / "models" / "appendix1.skops"

    def retrain(*extra: str):
        return run_aupgate("model", "retrain", "--model", str(model), "--base", str(base),
                           "--heldout", str(heldout), "--small", *extra, config=config)
    return store_url, config, model, retrain


def test_a_label_changes_the_retrained_model_and_a_worse_model_is_refused(retrain_env):
    store_url, config, model, retrain = retrain_env
    first = retrain()
    assert first.returncode == 0, first.stderr.decode()
    before = classify(config, model, retraindata.NEAR_IDENTICAL)
    assert before["severity"] != "serious"
    installed = model.read_bytes()

    add_labels(store_url, [retraindata.LABELLED], "serious")
    second = retrain()
    assert second.returncode == 0, second.stderr.decode()
    assert b"installed the retrained model" in second.stdout
    assert b"held-out F1" in second.stdout and b"serious" in second.stdout, second.stdout
    assert classify(config, model, retraindata.NEAR_IDENTICAL)["severity"] == "serious"
    assert (model.parent / "previous" / model.name).read_bytes() == installed
    [label] = labels(store_url)
    assert label.used_in_model == json.loads(model.with_suffix(".card.json").read_text())[
        "sha256"]

    # labels that call ordinary school mail offensive would make it worse: refused
    good = model.read_bytes()
    add_labels(store_url, retraindata.POISON, "serious")
    third = retrain()
    assert third.returncode == 3
    out = third.stdout.decode()
    assert "kept the current model" in out and "clean: F1" in out, out
    assert model.read_bytes() == good

    rolled = run_aupgate("model", "rollback", "--model", str(model), config=config)
    assert rolled.returncode == 0, rolled.stderr.decode()
    assert model.read_bytes() == installed
    assert classify(config, model, retraindata.NEAR_IDENTICAL)["severity"] != "serious"
    actions = audit_actions(store_url)
    assert actions.count("model.retrain") == 3 and "model.rollback" in actions


def test_a_running_gateway_uses_the_new_model_without_dropping_the_connection(
        gateway_factory, store_url, sink, tmp_path):
    from tests.support import ROOT

    base, heldout = retraindata.write(tmp_path / "data")
    model = tmp_path / "models" / "appendix1.skops"
    asyncio.run(import_directory(store_url, ROOT / "config" / "directory.sample.csv"))
    config = write_config(tmp_path / "cli.toml", {"store.url": store_url})

    def retrain():
        result = run_aupgate("model", "retrain", "--model", str(model), "--base", str(base),
                             "--heldout", str(heldout), "--small", config=config)
        assert result.returncode == 0, result.stderr.decode()
    retrain()
    gw = gateway_factory(**{"checks.content.model": str(model)})

    def content_of(subject):
        found = wait_until(lambda: [t for t in traces(store_url) if t.subject == subject],
                           timeout=15)
        return {f["code"].split(".")[1] for f in found[0].findings
                if f["code"].startswith("content.") and f["code"].count(".") == 2}

    with gw.smtp() as client:
        client.send_message(make_message("parent@example.org", [STAFF], subject="one",
                                         body=retraindata.NEAR_IDENTICAL))
        assert "serious" not in content_of("one")
        add_labels(store_url, [retraindata.LABELLED], "serious")
        retrain()
        for n in range(30):   # the watcher looks every 2 seconds
            subject = f"two-{n}"
            client.send_message(make_message("parent@example.org", [STAFF], subject=subject,
                                             body=retraindata.NEAR_IDENTICAL))
            if "serious" in content_of(subject):
                break
            asyncio.run(asyncio.sleep(0.5))
        else:
            pytest.fail("the gateway never used the retrained model")
        assert client.noop()[0] == 250
