"""deepdocker's entrypoint: SERVICES -> supervisord.conf -> supervisord."""
