"""Backends for the contract suites: ``moto_endpoint`` (moto in server mode standing in for S3
and SQS) lives in tests/conftest.py, shared with the backup tests."""
