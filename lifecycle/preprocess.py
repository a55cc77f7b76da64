"""The kit's preprocessing in front of any estimator it trains: numbers imputed (median) and
standardised, categories one-hot encoded over the contract's values (a value the encoder never saw
becomes all zeros, so an unseen category never breaks a prediction; routing flags it instead).

A contract of required numbers only gets a plain ``StandardScaler`` (no column dispatch): the
same result, several times faster per prediction.

Usage::

    pipeline = make_pipeline(kit_preprocessor(contract), estimator)
"""

from __future__ import annotations

from typing import Any

from slipway.contract import Contract

MISSING_CATEGORY = "__missing__"


def kit_preprocessor(contract: Contract) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f.name for f in contract.inputs if f.numeric]
    categorical = [f for f in contract.inputs if f.type == "category"]
    if not categorical and all(f.required for f in contract.inputs):
        return StandardScaler()
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        encoder = OneHotEncoder(
            categories=[[*(f.values or ()), MISSING_CATEGORY] for f in categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        imputer = SimpleImputer(missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY)
        parts.append(("categories", make_pipeline(imputer, encoder), [f.name for f in categorical]))
    return ColumnTransformer(parts)
