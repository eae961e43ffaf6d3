"""Dataset construction: raw files by manifest, then one validated Parquet table per dataset."""
