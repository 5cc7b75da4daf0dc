"""Placeholder until the rule lands."""
