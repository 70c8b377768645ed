from config.defaults import Defaults


class Development(Defaults):
    LOG_LEVEL = "INFO"
