"""Deploy target kinds: one module or folder per kind (see docs/adding-a-target.md)."""
