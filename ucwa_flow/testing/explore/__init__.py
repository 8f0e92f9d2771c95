"""Explore a flow and write conversation tests that take every transition.
"""
