"""The cloud wing: clients for AWS and Google (the sandbox's emulators, the deployer, or the
profile / key file pilot.toml names), credentials, the deployer identities, the sandbox.
It imports no deploy target: the targets import it."""
