"""The web layer every domain's api.py stands on, one concern a module.

* ``blueprint``  the Blueprint (strict arguments, path parameters described, each
                 operation's decorators in one call: ``operation``, ``paged``)
* ``resource``   ``Resource``: a request is one unit of work; ``created``: a 201 and its
                 ``Location``; ``if_match``: the precondition a view hands its service;
                 the write intent of API requests
* ``pagination`` cursor pages: ``PageArgsSchema``, ``page_of``, ``page``, signed cursors
* ``media``      what a body may be: media types (415), JSON (400), storable text (422)
* ``limits``     oversized requests: 414 and 431, before any other work
* ``headers``    security headers on every answer, CORS for configured origins
* ``fields``     fields and words many schemas share

ETags are app/etags.py; the OpenAPI contract of each operation is app/openapi.py.
"""
