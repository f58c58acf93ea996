"""The nightly lab: a night over every phone, one phone's night, health, leases, Ray nodes."""
