from config.defaults import Defaults


class Testing(Defaults):
    TESTING = True
    #: argon2 at full strength makes a test suite crawl; tests use the cheapest valid cost.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    #: access lines for every test request only slow the suite down
    LOG_LEVEL = "WARNING"
