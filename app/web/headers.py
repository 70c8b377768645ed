"""Security headers on every answer; CORS only for the origins configured."""

from __future__ import annotations

from flask import Flask, request

CORS_EXPOSED = "ETag, Location, Retry-After, X-Request-ID, Idempotent-Replayed"
CORS_ALLOWED_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID"
)


def register_response_headers(app: Flask) -> None:
    """Security headers on every answer; CORS only for configured origins."""
    origins = {o.strip() for o in app.config["CORS_ORIGINS"].split(",") if o.strip()}

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/v1/"):
            headers["Cache-Control"] = "no-store"
        origin = request.headers.get("Origin")
        if origin and origin in origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
            headers.add("Vary", "Origin")
            if request.method == "OPTIONS":
                headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE"
                headers["Access-Control-Allow-Headers"] = CORS_ALLOWED_HEADERS
                headers["Access-Control-Max-Age"] = "600"
        return response
