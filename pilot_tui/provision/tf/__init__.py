"""Terraform: finding the binary and providers, commands as data, and its -json events."""
