"""What each asset does, as plain functions over sources and Arrow (no Dagster imports).

The Dagster layer (``datasets_pipeline.defs``) only wires these to assets, IO managers and checks.
"""
