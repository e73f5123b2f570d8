"""Key-value API over Redis (role ``kv``)."""
