"""What runs a model and how its output is read."""
