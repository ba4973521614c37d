"""Makes moto's server answer one request at a time, for the server's concurrency tests and bench.

moto.server runs werkzeug with threaded=True, but moto's backends are not thread-safe: with tens
of concurrent CreateStack calls (the API server's 50 concurrent creates) a call now and then fails
with "Template format error: dictionary changed size during iteration" - an emulator artefact, not
something AWS does. Python imports this module at start-up when its folder is on PYTHONPATH
(test/server/e2e.test.ts and bench/server.ts put it there); it turns the threads off. Requests then
queue, as they would in one moto thread.
"""

try:
    import werkzeug.serving as _serving

    _original_run_simple = _serving.run_simple

    def _run_simple(*args, **kwargs):
        kwargs["threaded"] = False
        return _original_run_simple(*args, **kwargs)

    _serving.run_simple = _run_simple
except Exception:  # pragma: no cover - without werkzeug moto does not start anyway
    pass
