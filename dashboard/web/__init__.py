"""The web layer's machinery: sign-in, sessions, throttling, security headers, body caps, redirects, forms, OpenAPI."""
