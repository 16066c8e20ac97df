"""The business of UDB's report service, free of XML, SQL and HTTP.

``model`` holds the values (a report, a person, an institution), ``cpr`` and
``clock`` the facts about CPR numbers and Danish time, ``rules`` the checks
behind the error codes 14, 86, 15 and 280, and ``merge`` how an accepted report
changes what UDB holds about a young person.
"""
