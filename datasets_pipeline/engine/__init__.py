"""Arrow-native dataset operations (no Dagster imports)."""
