"""``mvpipe providers``: every provider and model, whether its key is set (never the key), retirement."""

from __future__ import annotations

import json
from datetime import date

import pytest

from mvpipe.cli import main
from mvpipe.generation.provider import Capabilities
from mvpipe.generation.providers import PROVIDERS, catalog


def test_json_lists_every_registered_provider_and_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = {caps.spec for cls in PROVIDERS.values() for caps in cls().models()}
    assert {r["name"] for r in rows} == expected
    assert {"footage:clip", "animatic:card"} <= expected
    for r in rows:
        assert {"durations", "shapes", "max_references", "native_audio", "price_per_second", "key_configured",
                "retired", "retires"} <= r.keys()


def test_keys_are_reported_as_set_or_missing_and_never_printed(monkeypatch, capsys) -> None:
    remote = [r for r in catalog() if r["key_env"]]
    if not remote:
        pytest.skip("no remote provider registered yet")
    var = remote[0]["key_env"][0]
    secret = "sk-test-THIS-MUST-NOT-APPEAR-0123456789"
    for r in remote:
        for name in r["key_env"]:
            monkeypatch.delenv(name, raising=False)
    assert main(["providers"]) == 0
    assert "MISSING: " + ",".join(remote[0]["key_env"]) in capsys.readouterr().out
    for name in remote[0]["key_env"]:
        monkeypatch.setenv(name, secret)
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert secret not in out and f"set: {var}" in out
    assert main(["providers", "--json"]) == 0
    out = capsys.readouterr().out
    assert secret not in out
    assert next(r for r in json.loads(out) if r["name"] == remote[0]["name"])["key_configured"] is True


def test_retirement_is_judged_against_today(monkeypatch) -> None:
    class Old:
        name = "old"

        def models(self) -> list[Capabilities]:
            return [Capabilities(provider="old", model="m", retires=date(2026, 9, 24), key_env=["OLD_KEY"])]

    monkeypatch.setitem(PROVIDERS, "old", Old)  # type: ignore[arg-type]
    before = next(r for r in catalog({}, today=date(2026, 9, 23)) if r["name"] == "old:m")
    after = next(r for r in catalog({}, today=date(2026, 9, 24)) if r["name"] == "old:m")
    assert (before["retired"], after["retired"]) == (False, True)
    assert before["key_configured"] is False
    assert next(r for r in catalog({"OLD_KEY": "x"}) if r["name"] == "old:m")["key_configured"] is True
