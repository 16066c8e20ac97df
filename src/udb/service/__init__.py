"""Use cases: what the service does, as plain functions over the store and domain values.

* ``reports.submit(submission, store, policy)``: one report, answered accepted or
  with one error code (14, 86, 15, 280; 101 when the database fails);
* ``ping.ping(signature, store, now)``: the liveness check, authenticated as a report is;
* ``register``: the operator's CSV imports (municipalities, institutions, persons),
  checked completely and applied all or nothing;
* ``cpr_import.import_extract``: a CPR office extract file, staged, checked and applied.

The SOAP endpoint and the command line only translate what these answer or raise
(``errors``) into faults, answers and exit statuses.
"""
