"""jupyter/docker-stacks' start-up interface: its variables (options) and startup hooks (hooks)."""
