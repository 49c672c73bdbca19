"""GCP controls, one module per group of services; importing this package registers them all."""

from infra.policy.gcp import data, identity, network

__all__ = ["data", "identity", "network"]
