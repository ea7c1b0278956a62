"""verigen's built-in task plugins, registered through the ``verigen.tasks`` entry point."""
