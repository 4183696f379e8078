"""A static site in a GCS bucket behind Cloud CDN."""
