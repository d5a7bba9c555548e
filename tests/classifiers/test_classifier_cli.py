"""`classify` writes one valid JSON line per input line."""

from __future__ import annotations

import argparse
import io
import json

from classifiers import cli
from classifiers.taxonomy import KIND_CODES, SEVERITIES


def run(argv, stdin_text, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    code = cli.main(argv)
    return code, capsys.readouterr().out


def test_register_adds_subcommands():
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["classify"]).func is cli.cmd_classify
    assert parser.parse_args(["model", "train"]).func is cli.cmd_train
    assert parser.parse_args(["model", "evaluate", "--loso"]).func is cli.cmd_evaluate


def test_classify_plain_and_json_lines(monkeypatch, capsys):
    lines = ["Parents' evening is on Tuesday at 4pm.",
             json.dumps({"text": "you are a fucking idiot", "id": 7}),
             "",
             json.dumps({"no_text": 1}),
             "Forward this to 10 people or you will have bad luck for 7 years!"]
    code, out = run(["classify"], "\n".join(lines) + "\n", monkeypatch, capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == len(lines)
    for i, row in enumerate(rows):
        if i == 3:
            assert "error" in row
            continue
        assert row["severity"] in SEVERITIES
        assert 0.0 <= row["probability"] <= 1.0
        assert set(row["kinds"]) == set(KIND_CODES)
    assert rows[0]["severity"] == "clean"
    assert rows[1]["severity"] in ("serious", "gross")


def test_classify_explain(monkeypatch, capsys):
    code, out = run(["classify", "--explain"], "you are a fucking idiot\n", monkeypatch, capsys)
    row = json.loads(out)
    assert "fucking" in row["evidence"]


def test_classify_refuses_a_missing_model(monkeypatch, capsys, tmp_path):
    code, _ = run(["classify", "--model", str(tmp_path / "none.skops")], "x\n", monkeypatch,
                  capsys)
    assert code == 2
