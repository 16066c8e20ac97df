"""The register: who the young people are, and the reference data around them.

UDB knows young people only from the CPR register, and institutions and
municipalities from reference data the operator loads. Every input is
validated completely before anything is written, and then applied in one
transaction (all or nothing); applying the same input twice changes nothing.
"""
