"""Policy as code: the controls of the mlopsgen policy pack (CrossGuard) and the offline audit that runs them.

This directory is also the pack users pass to `pulumi preview --policy-pack infra/policy` (see
`PulumiPolicy.yaml` and `__main__.py`).
"""
