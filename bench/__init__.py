"""The benchmarks of the UDB reporting service, one command each, run from the repository root.

    python -m bench.service [--suite] ...   the service: reports/s, latency, CPU, memory
    python -m bench.client ...              the client SDK (and zeep) sending signed reports
    python -m bench.cpr_import ...          ``udb cpr import`` of a synthetic extract
    python -m bench.loadgen --port P ...    the load generator on its own

The modules:

* :mod:`bench.wire` - requests on the wire (rendered, signed) and their answers read;
* :mod:`bench.loadgen` - the asyncio load generator (closed or open loop);
* :mod:`bench.servers` - ``udb serve``, the bare endpoint and the stub on free ports;
* :mod:`bench.data` - the workspace, the database, the synthetic people, certificates;
* :mod:`bench.measure` - CPU, memory, percentiles, tables, the machine's facts;
* :mod:`bench.profile` - py-spy recordings and their hot spots;
* :mod:`bench.runs` - one measured load generator run against a server;
* :mod:`bench.service`, :mod:`bench.suite`, :mod:`bench.suite_summary` - the
  service benchmark and its suite (issue 5 item 7);
* :mod:`bench.bare` - the bare endpoint (parse + schema validation only);
* :mod:`bench.client`, :mod:`bench.client_summary` - the client benchmark's driver
  and what it prints; :mod:`bench.client_load` - one batch in a process of its own,
  with :mod:`bench.client_batch`, :mod:`bench.client_sdk`, :mod:`bench.client_zeep`;
  :mod:`bench.client_stub` - an endpoint that answers at once;
* :mod:`bench.cpr_import` - the CPR import benchmark.

Importing a module starts nothing: every server, database and process is made
by a command's ``main``.
"""
