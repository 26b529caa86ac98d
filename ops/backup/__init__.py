"""`make backup` / `make restore`: the gateway's store (cases, messages, applications,
staff) and Rasa's tracker store, copied while the service runs and brought back
into fresh databases (ops/backup/archive.py)."""
