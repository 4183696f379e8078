"""Building an app: how it builds (recipe, the one stack detector, generated Dockerfiles and
their base images), what of its folder may ship, the build context, and static sites' builds
and files."""
