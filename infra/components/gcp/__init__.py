"""The GCP backend: Vertex AI managed (profile `cloud: gcp`), registered beside AWS in the catalog."""
