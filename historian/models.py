"""Models of the historian app."""
