"""Silver: typed, standardized, checked tables built from bronze."""
