"""Pricers per cloud: each module registers its type tokens with `infra.cost.estimate.pricer`."""
