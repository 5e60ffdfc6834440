"""Workers: processes that claim queued runs from a shared journal and run them."""
