"""Blueprints -> files: load, validate, plan, render (with its checks), write, cache."""
