"""Recommenders of this track: the generative T5 family (t5.py) and classic peers."""
