"""`aupgate check`: the same pipeline, offline."""

from __future__ import annotations

import json

from tests.support import ROOT, STAFF, import_directory, make_message, run_aupgate, write_config


def test_check_prints_the_verdict_as_json(tmp_path, store_url, dns_server):
    import asyncio

    asyncio.run(import_directory(store_url, ROOT / "config" / "directory.sample.csv"))
    config = write_config(tmp_path / "g.toml", {"store.url": store_url,
                                               "checks.auth.nameservers": [dns_server.address]})
    eml = tmp_path / "m.eml"
    eml.write_bytes(make_message("friend@example.org", [STAFF]).as_bytes())
    result = run_aupgate("check", str(eml), "--from", "friend@example.org", "--to", STAFF,
                         "--json", config=config)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["decisions"][STAFF]["audience"] == "staff"
    assert out["verdict"] in {"deliver", "tag", "defer", "quarantine", "escalate", "reject"}
    assert len(out["sha256"]) == 64
    codes = {f["code"] for f in out["findings"]}
    assert "auth.spf.none" in codes, "the sender's domain has no SPF record in the test zone"
