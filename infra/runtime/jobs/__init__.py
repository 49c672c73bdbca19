"""Batch jobs the retraining pipeline runs in the runtime image (SageMaker Processing steps)."""
