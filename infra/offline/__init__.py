"""Run the real Pulumi program offline: under the SDK's mock runtime (preview) or against moto (sandbox)."""
