from config.defaults import Defaults


class Production(Defaults):
    #: Must be overridden: production refuses to start without an explicit database URL.
    DATABASE_URL = ""
    LOG_LEVEL = "INFO"
    LOG_FORMAT = "json"
