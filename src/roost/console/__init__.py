"""The operator console: a backend-for-frontend over the roles' public HTTP APIs, and its page."""
