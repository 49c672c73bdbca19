"""AWS controls, one module per group of services; importing this package registers them all."""

from infra.policy.aws import compute, data, identity, network, observability, storage

__all__ = ["compute", "data", "identity", "network", "observability", "storage"]
