from config.defaults import Defaults


class Production(Defaults):
    #: Must be overridden: production refuses to start without an explicit database URL.
    DATABASE_URL = ""
    #: Must be set: production refuses to start without SAFEPASSAGE_AUDIT_KEY.
    AUDIT_KEY = ""
    LOG_LEVEL = "INFO"
    LOG_FORMAT = "json"
    #: The documentation page is for developers and testers; a deployment may turn it on.
    API_DOCS = False
