"""The reviewers' pages under ``/ui/``, served by the model service (see ``app``)."""
