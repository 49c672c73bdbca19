"""Pulumi components, one per capability, and the registry that maps a profile's kinds to them."""
