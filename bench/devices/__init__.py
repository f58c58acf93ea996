"""Device backends, one per platform, behind one Protocol (`bench.devices.base.Device`)."""
