"""The host runtime: one thread and one event loop for every instance."""
