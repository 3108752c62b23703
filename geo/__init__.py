"""Domain: CAP area geometry, gazetteers, the connectivity layer and impact assessment."""
