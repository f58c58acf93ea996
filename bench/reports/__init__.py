"""Tables, the static HTML site and plots, rendered from stored results; never touches a device."""
