"""The Pulumi program: settings, the approved-cluster guard, one ComponentResource per concern, render."""
