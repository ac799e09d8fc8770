"""What runs inside supervisord: deepdocker's plug-in (extension, loaded as an rpcinterface factory),
the one adapter to supervisor's internals (internals), the liveness watchdog, and the launcher that
runs stock supervisord and exits with the plug-in's status (supervise). Its import name is its own:
`supervisor/` (the folder) is never a package, so nothing shadows the supervisor library.

It reads what a start decided from the state file (healthchecks.state) and supervisord.conf alone:
nothing of the entrypoint's registry is imported into supervisord."""
