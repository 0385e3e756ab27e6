"""Verdicts as versioned notifications, without depending on Nova."""
