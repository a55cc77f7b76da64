"""BentoML services and their runtime: the classifier, routing, drift, review queue."""
