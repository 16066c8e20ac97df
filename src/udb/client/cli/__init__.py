"""The client's commands (``udb send``, ``send-batch``, ``fetch``, ``reconcile``): options,
output, exit status.

They are mounted in the ``udb`` command (:mod:`udb.cli`); what they do is the
SDK's (:mod:`udb.client`) and the batch library's (:mod:`udb.client.batch`).

* :mod:`udb.client.cli.settings` - the connection settings (flag > environment > TOML file);
* :mod:`udb.client.cli.send` - ``udb send FILE``: one report;
* :mod:`udb.client.cli.send_batch` - ``udb send-batch FILE --out RESULTS.csv``;
* :mod:`udb.client.cli.fetch` - ``udb fetch --institution N (--cpr CPR ... | --since TIME)
  --out FILE``: what UDB holds (:mod:`udb.client.batch.readback`);
* :mod:`udb.client.cli.reconcile` - ``udb reconcile LOCAL --institution N --out DIFF.csv``
  and ``--send``: the municipality's data against UDB's (:mod:`udb.client.batch.reconcile`);
* :mod:`udb.client.cli.progress` - its progress bar and summary table (rich);
* :mod:`udb.client.cli.advice` - what both say after an outcome: stored, not stored or
  unknown, and the setting to fix.
"""
