"""Use cases: each takes paths and options and returns a typed result; never prints."""
