"""The head of a pilot.toml for a project on Google Cloud (project acme, GCP project
acme-prod in europe-west1), which the tests of its CI trust, Cloud Run previews and the
watch continue with their own tables."""

GCP_PROJECT = """\
[project]
name = "acme"

[gcp]
project = "acme-prod"
region = "europe-west1"

[server]
home = "gcp"
"""
