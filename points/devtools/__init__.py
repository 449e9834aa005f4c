"""Developer tooling: ``points bench``, the demo company and a fake WeCom server.

The one package under ``points`` that may import the web app and Starlette (the bench
drives the real app against a bare route; the fake server answers WeCom's API). No
domain module imports it; the import contracts in ``pyproject.toml`` hold both.
"""
