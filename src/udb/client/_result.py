"""What sending gives back: a :class:`Result` per report, a :class:`BatchItem` per batch input."""

from __future__ import annotations

from dataclasses import dataclass

from udb.client._exceptions import UdbError
from udb.client._report import Report
from udb.domain.model import ErrorCode, ErrorKind

__all__ = ["BatchItem", "Result"]


@dataclass(frozen=True, slots=True)
class Result:
    """The business answer (``IndberetningSvar``) to one report.

    ``accepted`` is ``Ok``. A rejection has ``code`` (``FejlKode``, an
    :class:`~udb.domain.model.ErrorCode` when the code is one of the contract's),
    ``text`` (``FejlTekst``, Danish, verbatim) and ``kind``:

    * ``ErrorKind.HARD`` (14, 15, 86, 101 and any code the contract does not
      list): the same report gets the same answer; 101 is the exception that
      may succeed when resent (:attr:`retryable`), and the client has already
      resent it as far as its retry policy allows;
    * ``ErrorKind.SOFT`` (280): correct the data and send it as a *new*
      transaction (a new transaction id).

    ``correlation_id`` is the service's id of the (last) exchange, to quote to
    support; ``system_transaction_id`` the transaction; ``attempts`` how many
    requests it took::

        >>> r = Result(False, ErrorCode(280), ErrorCode(280).text, ErrorKind.SOFT,
        ...            "c0ffee00-0000-4000-8000-000000000000", "tx-1", 1)
        >>> r.kind is ErrorKind.SOFT, r.code == 280, r.retryable
        (True, True, False)
    """

    accepted: bool
    code: int | None
    text: str | None
    kind: ErrorKind | None
    correlation_id: str
    system_transaction_id: str
    attempts: int = 1

    @property
    def retryable(self) -> bool:
        """True for 101: send the same report again, unchanged, with the same transaction id."""
        return self.code == ErrorCode.INTERNAL

    @classmethod
    def of(
        cls,
        ok: bool,
        code: int | None,
        text: str | None,
        *,
        correlation_id: str,
        system_transaction_id: str,
        attempts: int = 1,
    ) -> Result:
        """A result from the answer's values; ``kind`` follows the code (unknown codes: hard)."""
        if ok:
            return cls(True, None, None, None, correlation_id, system_transaction_id, attempts)
        known: int | None = code
        kind = ErrorKind.HARD
        if code is not None:
            try:
                known = ErrorCode(code)
            except ValueError:
                pass
            else:
                kind = known.kind
        return cls(False, known, text, kind, correlation_id, system_transaction_id, attempts)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One input of :meth:`UdbClient.send_many <udb.client.UdbClient.send_many>` and its outcome.

    ``index`` is the input's position (0-based), ``system_transaction_id`` the
    transaction it was sent under (keep it to resume a batch), and exactly one
    of ``result`` and ``error`` is set. ``report`` is the input's report
    (``None`` if the input was not a report at all).
    """

    index: int
    system_transaction_id: str | None
    report: Report | None
    result: Result | None = None
    error: UdbError | None = None

    @property
    def accepted(self) -> bool:
        return self.result is not None and self.result.accepted

    def unwrap(self) -> Result:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        if self.result is None:  # pragma: no cover - the client always sets one
            raise RuntimeError("the batch item has neither a result nor an error")
        return self.result
