"""AWS controls, one module per group of services; importing this package registers them all."""

from infra.policy.aws import compute, data, eks, identity, network, observability, storage

__all__ = ["compute", "data", "eks", "identity", "network", "observability", "storage"]
