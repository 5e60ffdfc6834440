"""Cadenza's HTTP/1.1 engine: an httpx transport over trio streams (docs/http.md#the-engine)."""
