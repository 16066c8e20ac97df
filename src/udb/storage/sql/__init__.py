"""The SQL of every repository, written once over a small dialect object.

``dialect`` holds only what differs between SQLite and PostgreSQL (placeholders,
how times and dates are stored, the row-value comparison, locking forms, how a
migration's transaction begins); ``repositories`` and ``persons`` hold every
statement, written once with ``?`` placeholders; ``unit_of_work`` the unit of
work and the migration runner both adapters share. What truly differs lives in
the adapters: connections and pragmas (:mod:`udb.storage.sqlite`), the pool and
the one-statement report path (:mod:`udb.storage.postgresql`), and how register
data is staged (a temporary table there, ``COPY`` here).
"""
