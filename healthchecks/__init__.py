"""deepdocker-health: supervisord's view of each daemon plus a real readiness probe.

Docker runs it every few seconds, so it imports next to nothing: no psutil (the
supervisord extension reports RSS), no xmlrpc.client, no json unless --json is asked.
"""
