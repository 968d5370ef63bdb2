"""One module per stored procedure, named as snowflake.yml names its entity: the handler
``main`` a ``CALL`` reaches (``procedures.handlers.load_vault.main`` is ``LOAD_VAULT``) and
its ``run``, which the local pipeline and the tests call with the same Session.

The work itself is in the domain modules one level up (``ingest``, ``vault_statements``,
``quality``, ``sample_data``, ``erasure``); a handler reads its arguments, runs it in the
procedure's schema and records the run in ``AUDIT.PROCEDURE_RUNS``.
"""
