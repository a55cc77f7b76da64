"""The embedded breast-cancer contract as the tests use it (names in model input order)."""

from __future__ import annotations

from slipway.contract import load_contract

WDBC = load_contract("wdbc")
FEATURE_NAMES: tuple[str, ...] = WDBC.input_names
FEATURES = WDBC.features
