"""The ``roost`` command's subcommands, by area; :mod:`roost.cli` puts them together.

Imports are lazy on purpose: ``roost serve --workers N`` must set the Prometheus multiprocess
directory before prometheus-client is first imported, and ``roost version`` should be instant.
"""
