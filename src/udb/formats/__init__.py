"""The files the service reads, parsed without touching storage or the command line.

``cpr_extract`` streams the CPR office's fixed-width extract files (the record
layouts are in ``cpr_records``), ``csvfiles`` reads the operator's CSV files of
municipalities, institutions and persons. Each reader checks every record or
row and reports every problem with its position; it never writes anything.
"""
