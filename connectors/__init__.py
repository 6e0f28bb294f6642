"""One module per tool over its SDK, and the record shape they all return."""
