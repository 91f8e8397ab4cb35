"""App descriptions: the built-in apps load; mistakes are reported with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors import InputError
from simulator.loader import builtin_apps, load_app
from simulator.spec import AppSpec


def test_builtin_apps_load_and_differ() -> None:
    assert {"shop", "saas"} <= set(builtin_apps())
    shop, saas = load_app("shop"), load_app("saas")
    assert isinstance(shop, AppSpec) and isinstance(saas, AppSpec)
    assert {f.name for f in shop.flows} != {f.name for f in saas.flows}
    assert "checkout" in {f.name for f in shop.flows}
    assert "onboarding" in {f.name for f in saas.flows}
    for app in (shop, saas):
        kinds = {p.kind for p in app.problems.frictions}
        assert kinds == {"dropoff", "retry", "error_abandon", "slow_step"}
        assert app.problems.bad_deploys
        # an innocent deploy to the culprit's service, too
        culprit = app.problems.bad_deploys[0].service
        assert culprit in {d.service for d in app.problems.deploys}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.toml"
    path.write_text(text)
    return path


def _shop_text() -> str:
    return (Path(__file__).resolve().parents[2] / "simulator" / "apps" / "shop.toml").read_text()


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, _shop_text().replace("think_s = 9", "think_seconds = 9"))
    with pytest.raises(InputError) as info:
        load_app(path)
    message = str(info.value)
    assert str(path) in message
    assert "steps.product.think_seconds" in message


def test_bad_value_names_field(tmp_path: Path) -> None:
    path = _write(tmp_path, _shop_text().replace("rate = 0.45", "rate = 1.7"))
    with pytest.raises(InputError) as info:
        load_app(path)
    assert "problems.frictions.0.dropoff.rate" in str(info.value)


def test_dangling_references_are_explained(tmp_path: Path) -> None:
    path = _write(tmp_path, _shop_text().replace('step = "address"', 'step = "adress"'))
    with pytest.raises(InputError) as info:
        load_app(path)
    assert "problems.frictions[0].step" in str(info.value)
    assert "'adress'" in str(info.value)
    path = _write(
        tmp_path,
        _shop_text().replace(
            'service = "pricing"\nmethod = "POST"\nroute = "/v1/quotes"',
            'service = "prices"\nmethod = "POST"\nroute = "/v1/quotes"',
        ),
    )
    with pytest.raises(InputError, match="unknown service 'prices'"):
        load_app(path)


def test_invalid_toml_and_missing_app(tmp_path: Path) -> None:
    path = _write(tmp_path, "name = \n")
    with pytest.raises(InputError, match="invalid TOML"):
        load_app(path)
    with pytest.raises(InputError, match="not a built-in app"):
        load_app("no-such-app")


def test_problems_must_fit_the_flow(tmp_path: Path) -> None:
    text = _shop_text().replace(
        'kind = "dropoff"\nflow = "checkout"\nstep = "address"',
        'kind = "dropoff"\nflow = "checkout"\nstep = "confirm"',
    )
    with pytest.raises(InputError, match="needs a next step"):
        load_app(_write(tmp_path, text))
