"""UDB reporting service *IndberetningKontaktJobOgUddOensker* v1.

Municipal youth guidance units (KUI) report the contact person and the
education and job wishes of young people under 25 to the youth database
(Ungedatabasen, UDB). This package is that service: the contract (WSDL/XSD),
the business rules, the storage and the SOAP endpoint, plus the command line
``udb`` that runs and administers it.
"""

__version__ = "1.0.0.dev0"
