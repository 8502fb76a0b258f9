"""Dagster assets, one module per part of the pipeline."""
