"""Authentication: tokens (JWT, PyJWT) and signed redirects; the rules are in `core/auth.py`."""
