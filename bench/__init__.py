"""
ecomsync's benchmark suite: ecomsync against a naive hand-written client
and against the physical lower bound, on the Shopware 6 emulator served on
loopback in its own process.  Run ``python -m bench [--quick]`` (or
``nox -s bench``); see bench/README.md.
"""
