"""gunicorn settings for every app the benchmarks serve (``apps.AppProcess``), both apps alike.

The one setting beyond the command line is the one ``docs/deployment.rst`` recommends: once
a worker has loaded the app, freeze what loading made (Flask, requests, the app's modules),
so that Python's full collections stop walking tens of thousands of objects that live as
long as the worker. On the project's machine such a collection took 23 to 47 ms, with every
notification in flight waiting for it.
"""
import gc


def post_worker_init(worker: object) -> None:
    gc.collect()
    gc.freeze()
