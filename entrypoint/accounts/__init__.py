"""The notebook account: who the daemons run as (users), and nss_wrapper for an account /etc
cannot hold (nss)."""
