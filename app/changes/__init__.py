"""One stream of domain changes (app.changes.stream) and the per-team change feed
(app.changes.feed). Kept free of imports: models import ``app.changes.scope``."""
