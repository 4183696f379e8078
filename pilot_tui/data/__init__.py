"""Databases beside the apps: what each kind is on a Docker host (kinds.py, as data), its
password (passwords.py, under .pilot/) and its container (docker_db.py)."""
