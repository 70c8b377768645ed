"""Settings shared by every environment; the others override what differs."""

DEFAULT_SECRET_KEY = "dev-only-not-a-secret"


class Defaults:
    SECRET_KEY = DEFAULT_SECRET_KEY
    #: SQLAlchemy URL; the embedded default is a SQLite file under instance/.
    DATABASE_URL = "sqlite:///instance/safepassage.db"
    UPLOAD_DIR = "instance/uploads"
    #: Largest photo accepted, in bytes (413 above it); the request limit allows this much.
    PHOTO_MAX_BYTES = 10_000_000
    #: Refuse absurd dimensions before decoding (decompression bombs).
    PHOTO_MAX_PIXELS = 24_000_000
    PHOTO_MAX_SIDE = 12_000
    #: Largest request body accepted, in bytes (413 above it).
    MAX_CONTENT_LENGTH = 1_000_000
    #: How long a login token lives, in hours.
    TOKEN_TTL_HOURS = 12
    #: How long an Idempotency-Key is remembered, in hours.
    IDEMPOTENCY_TTL_HOURS = 24
    #: After this many seconds an unfinished idempotent request is taken to have died.
    IDEMPOTENCY_IN_FLIGHT_SECONDS = 60
    #: Failed logins allowed (Flask-Limiter syntax): for one username from one address, for
    #: one username from anywhere (looser, so a stranger cannot easily lock a worker out),
    #: and from one address whatever the username.
    LOGIN_LIMIT_PER_USERNAME = "5 per minute;20 per hour"
    LOGIN_LIMIT_PER_USERNAME_ANYWHERE = "30 per minute;100 per hour"
    LOGIN_LIMIT_PER_ADDRESS = "20 per minute;100 per hour"
    #: Where the login throttle keeps its counters: memory:// for one process,
    #: redis://host:6379 when several app servers share the load.
    RATELIMIT_STORAGE_URI = "memory://"
    #: How many reverse proxies stand in front of the app and set X-Forwarded-For/-Proto.
    #: 0 trusts no such header; behind one nginx or load balancer set 1, so the login
    #: throttle counts the client's address, not the proxy's.
    TRUSTED_PROXIES = 0
    PASSWORD_MIN_LENGTH = 12
    #: argon2id cost (argon2-cffi's defaults, RFC 9106's second recommendation).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4
    LOG_LEVEL = "INFO"
    #: "text" for people at a terminal, "json" (one object per line) for log collectors.
    LOG_FORMAT = "text"
    #: Origins allowed to call the API from a browser, comma-separated; none by default.
    CORS_ORIGINS = ""
