"""Google Cloud Run: a service, its secrets in Secret Manager."""
