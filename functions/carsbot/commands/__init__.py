"""Sub-commands of the carsbot CLI (one module each)."""
