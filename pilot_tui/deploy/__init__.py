"""The deploy engine: apps as containers on a Docker host, swapped with zero downtime."""
