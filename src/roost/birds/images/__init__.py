"""The bird image service (role ``bird-images``): one picture URL per bird name."""
