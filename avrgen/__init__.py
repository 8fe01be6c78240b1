"""avrgen: declarative blueprints for Agent Voice Response agents."""

__version__ = "0.1.0"
