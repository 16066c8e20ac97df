"""SOAP 1.2 / 1.1 on the integration platform's conventions.

``envelope`` reads a request envelope, ``messages`` turns the Body into
domain values and builds answers, ``faults`` is the table of IPL faults.
"""
