"""What the tests share that is not a fixture: the private Docker engine (dockerd.py)."""
