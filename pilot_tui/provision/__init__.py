"""Provisioning the Pilot Server: Terraform (tf/), the state backend, the server's keys and
TLS, reaching it, and the team that shares it."""
