"""The web API and the server-rendered dashboard."""
