"""Use cases: what the service does with a request, as plain functions.

The SOAP entrypoint parses and validates, builds a
:class:`~udb.domain.model.Submission` and calls :func:`udb.service.reports.submit`;
whatever that answers or raises, the entrypoint only translates.
"""
