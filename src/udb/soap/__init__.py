"""SOAP 1.2 / 1.1 on the integration platform's conventions.

``envelope`` parses a request envelope (``parse``) and, after WS-Security
verification, checks the structure and payload of the verified Body
(``checked_payload``); ``messages`` turns that Body into domain values and
builds answers; ``faults`` is the one table from exception to IPL fault.
"""
