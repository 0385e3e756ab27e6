"""Where the runtime learns which instances to monitor, and how."""
