"""The reference model service: a signed scikit-learn classifier that knows when not to decide."""
