"""The moderators' web pages: server-rendered, autoescaped, usable without JavaScript."""
