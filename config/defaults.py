"""Settings shared by every environment; the others override what differs."""

DEFAULT_SECRET_KEY = "dev-only-not-a-secret"
#: Keys the audit chain outside production; production refuses it (and anything short).
DEFAULT_AUDIT_KEY = "dev-only-audit-key-not-a-secret-never-use-in-production"
#: Production refuses a SECRET_KEY or AUDIT_KEY shorter than this (characters).
MIN_SECRET_LENGTH = 32


class Defaults:
    SECRET_KEY = DEFAULT_SECRET_KEY
    #: Keys the audit trail's hash chain and its checkpoints (HMAC-SHA256). Never stored
    #: in the database: someone holding the database cannot recompute the chain.
    AUDIT_KEY = DEFAULT_AUDIT_KEY
    #: Where the service appends checkpoints of the audit chain's head (JSON lines);
    #: empty: it writes none (production refuses to start so). Ship the file off the
    #: machine (see README, "The audit trail"); it is created with mode 0640.
    AUDIT_CHECKPOINT_PATH = ""
    #: Write a checkpoint when the chain passes a multiple of this many events (0: never).
    AUDIT_CHECKPOINT_EVERY_EVENTS = 1000
    #: And, in each process, at the first commit this many minutes after its last one (0: never).
    AUDIT_CHECKPOINT_EVERY_MINUTES = 60
    #: SQLAlchemy URL; the embedded default is a SQLite file under instance/.
    DATABASE_URL = "sqlite:///instance/safepassage.db"
    #: The URL `flask db upgrade|downgrade|current|grant-runtime` and `flask audit
    #: reseal-legacy` use, as the role that owns the schema; empty: DATABASE_URL. On
    #: PostgreSQL the service's own DATABASE_URL names a role that may only read and write
    #: rows (`flask db grant-runtime ROLE`).
    MIGRATION_DATABASE_URL = ""
    UPLOAD_DIR = "instance/uploads"
    #: Largest photo accepted, in bytes (413 above it); the request limit allows this much.
    PHOTO_MAX_BYTES = 10_000_000
    #: Refuse absurd dimensions before decoding (decompression bombs).
    PHOTO_MAX_PIXELS = 24_000_000
    PHOTO_MAX_SIDE = 12_000
    #: Largest request body accepted, in bytes (413 above it).
    MAX_CONTENT_LENGTH = 1_000_000
    #: Longest request target (path and query string) in bytes: 414 `uri_too_long` above.
    #: Keep it under gunicorn's cap on the request line (8190 bytes, see gunicorn.conf.py).
    MAX_URL_LENGTH = 4096
    #: Most request header fields, and their total size in bytes: 431 `headers_too_large`
    #: above. Keep them under gunicorn's limits in gunicorn.conf.py.
    MAX_HEADER_COUNT = 100
    MAX_HEADER_BYTES = 16384
    #: How long a login token lives, in hours.
    TOKEN_TTL_HOURS = 12
    #: How long an Idempotency-Key is remembered, in hours.
    IDEMPOTENCY_TTL_HOURS = 24
    #: After this many seconds an unfinished idempotent request is taken to have died.
    IDEMPOTENCY_IN_FLIGHT_SECONDS = 60
    #: Failed logins allowed (Flask-Limiter syntax): for one username from one address, for
    #: one username from anywhere (looser, so a stranger cannot easily lock a worker out),
    #: and from one address whatever the username. A device that presents a valid device
    #: cookie of an earlier login of that user is counted per device only.
    LOGIN_LIMIT_PER_USERNAME = "5 per minute;20 per hour"
    LOGIN_LIMIT_PER_USERNAME_ANYWHERE = "30 per minute;100 per hour"
    LOGIN_LIMIT_PER_ADDRESS = "20 per minute;100 per hour"
    LOGIN_LIMIT_PER_DEVICE = "5 per minute;20 per hour"
    #: How long a device cookie stays valid without a login from that device, in days.
    DEVICE_COOKIE_MAX_AGE_DAYS = 30
    #: Where the login throttle keeps its counters, shared by every worker and server:
    #: redis://host:6379/0 (also rediss://, redis+unix://, redis+sentinel://). memory://
    #: counts per process: development and tests only; production refuses it.
    RATELIMIT_STORAGE_URI = "memory://"
    #: Prepended to the throttle's keys: set one per deployment when several share a Redis.
    RATELIMIT_KEY_PREFIX = ""
    #: How many reverse proxies stand in front of the app and set X-Forwarded-For/-Proto.
    #: 0 trusts no such header; behind one nginx or load balancer set 1, so the login
    #: throttle counts the client's address, not the proxy's.
    TRUSTED_PROXIES = 0
    PASSWORD_MIN_LENGTH = 12
    #: Least zxcvbn score (0-4) a new password needs; 3: at least 10^8 guesses ("safely
    #: unguessable", modest protection even from an offline attack on argon2 hashes).
    PASSWORD_MIN_STRENGTH = 3
    #: argon2id cost (argon2-cffi's defaults, RFC 9106's second recommendation).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4
    LOG_LEVEL = "INFO"
    #: "text" for people at a terminal, "json" (one object per line) for log collectors.
    LOG_FORMAT = "text"
    #: Origins allowed to call the API from a browser, comma-separated; none by default.
    CORS_ORIGINS = ""
    #: Serve the interactive API documentation at /api/docs (Swagger UI, from a pinned copy
    #: shipped with the Python packages: it works offline). Off in production unless
    #: SAFEPASSAGE_API_DOCS=1; when off, /api/docs answers 404. /api/v1/openapi.json is
    #: served either way: clients generate their SDKs from it, and it holds no data.
    API_DOCS = True
    #: Which build this is, as GET /api/v1/version reports it: set by the deployment (a git
    #: commit, an image tag); empty: the installed package's version.
    BUILD = ""
