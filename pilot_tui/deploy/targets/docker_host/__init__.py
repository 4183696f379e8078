"""Apps as containers on a Docker host, behind Pilot's proxy."""
