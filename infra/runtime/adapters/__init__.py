"""Adapters from the runtime controllers to the serving platforms and clouds they act on."""
