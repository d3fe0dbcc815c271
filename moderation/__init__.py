"""Moderation: self-hosted comment moderation and spam filtering for blogs."""

__version__ = "0.1.0"
