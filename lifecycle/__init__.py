"""The model's life outside the server: train, import, evaluate, sign and store (later: promote, roll back)."""
