"""The bootstrap model: what the endpoint serves before any model version has been approved.

It lets the first deploy into an empty account succeed (an endpoint needs a model), and it answers
honestly that no model is approved yet instead of inventing predictions.
"""
