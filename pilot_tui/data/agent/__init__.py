"""The backup agent: a small container on the Docker host that takes each database's
backups on its schedule, with no laptop involved.

Why a container (not a systemd timer over SSH): every Docker host Pilot deploys to has an
engine but not always systemd or SSH (the sandbox, mutual-TLS hosts); a container with a
restart policy comes back with the engine after a reboot, is found and removed with the
project's labels, and is made the same way on every host.

What it runs is this package plus the backup code the CLI uses (``backups.dump_into``,
``execs``, ``stores``, ``schedule``), copied into an image of the Python base, with the
standard library only: no pip install on the server, nothing else to trust. It reaches
the engine through its socket (mounted: the dump runs in the database's container, as
``db backup``'s does, so its pg_dump is the server's own version) and the bucket over
HTTPS, with the Pilot Server's instance role (``s3.py``), never a key of the team's.
"""
