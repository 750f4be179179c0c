"""Domain exceptions of the data package; this module imports nothing on purpose.

Every error names where the problem is: the file, and the line, column and field when known, so
that a command line can print it as one line without a traceback.
"""


class DataError(Exception):
    """A dataset or mapping file that cannot be read at all.

    ``line`` is 1-based; ``column`` is the 1-based character position within the line (as
    :class:`json.JSONDecodeError` counts it); ``field`` names the data column or mapping key.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field

    def location(self) -> str:
        """``file[:line[:column]]``, the prefix compilers and editors understand."""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        if self.field is not None:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class MappingError(DataError):
    """A column-mapping YAML file that is malformed or inconsistent; ``field`` is the key."""
